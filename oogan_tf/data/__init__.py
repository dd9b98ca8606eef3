"""Datasets of oogan_tf: one registry of offline tf.data pipelines, plus dSprites ground truth.

Public API:
  DATASETS, DataConfig, DatasetError: the names, the config, the one user-facing error.
  validate(cfg): raises DatasetError for an invalid DataConfig; returns it.
  build_dataset(cfg, input_context=None, start_batch=0): infinite float32 [b, S, S, C] batches
    in [-1, 1].
  describe_source(cfg): where the images come from, in one line.
  get_ground_truth(cfg): GroundTruthData of dSprites (rendered, or the official npz) or of
    tfds:dsprites, tfds:shapes3d, tfds:smallnorb.
  has_ground_truth(name): whether a --dataset value has factor labels for the metrics.
  render_dsprites(factor_classes): uint8 [N, 64, 64] in {0, 1} from int [N, 5] class indices.
"""
from oogan_tf.data.config import (DATASETS, LABELLED_DATASETS, DataConfig, DatasetError,
                                  has_ground_truth, validate)
from oogan_tf.data.dsprites_render import (FACTOR_NAMES, FACTOR_SIZES, factors_to_indices,
                                           indices_to_factors, render_dsprites, render_shapes)
from oogan_tf.lazy_import import module_getattr

# The tf.data side loads on first use (PEP 562): configs validate without TensorFlow's import.
_LAZY = {"GroundTruthData": "dsprites", "build_dataset": "registry",
         "describe_source": "registry", "get_ground_truth": "registry", "get_labelled": "registry"}
__getattr__ = module_getattr(__name__, _LAZY)

__all__ = [
    "DATASETS", "LABELLED_DATASETS", "DataConfig", "DatasetError", "GroundTruthData",
    "FACTOR_NAMES", "FACTOR_SIZES", "factors_to_indices", "indices_to_factors",
    "render_dsprites", "render_shapes", "build_dataset", "describe_source", "get_ground_truth",
    "get_labelled", "has_ground_truth", "validate",
]
