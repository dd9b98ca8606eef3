"""The dataset registry: names used by --dataset -> pipeline builders and source descriptions."""
import dataclasses
from typing import Callable

from oogan_tf.data import digits, dsprites, fake, image_folder, mnist, pipeline, tfds_data
from oogan_tf.data.config import (DATASETS, LABELLED_DATASETS, DatasetError, has_ground_truth,
                                  is_tfds)


@dataclasses.dataclass(frozen=True)
class _Entry:
  build: Callable  # (cfg, Sharding) -> tf.data.Dataset of float32 [b, S, S, C] in [-1, 1]
  describe: Callable  # cfg -> str


_REGISTRY = {
    "dsprites": _Entry(dsprites.build, dsprites.describe),
    "chairs": _Entry(image_folder.build, image_folder.describe),
    "celeba": _Entry(image_folder.build, image_folder.describe),
    "image_folder": _Entry(image_folder.build, image_folder.describe),
    "mnist": _Entry(mnist.build, mnist.describe),
    "digits": _Entry(digits.build, digits.describe),
    "fake": _Entry(fake.build, fake.describe),
}
assert tuple(_REGISTRY) == DATASETS
_TFDS = _Entry(tfds_data.build, tfds_data.describe)


def _entry(name):
  return _TFDS if is_tfds(name) else _REGISTRY[name]


def build_dataset(cfg, input_context=None, start_batch=0):
  """The training pipeline of cfg.

  Args:
    cfg: a DataConfig (validated when it was constructed).
    input_context: an optional tf.distribute.InputContext; when given, the pipeline batches the
      per-replica share of cfg.batch_size and reads only its shard of the data.
    start_batch: the training step a run resumes at (global batches already consumed). dsprites,
      fake and tfds: datasets continue their stream exactly where it stopped; the other
      file-backed datasets reseed their shuffle instead of decoding the skipped images again (see
      pipeline.resume_seed).

  Returns:
    An infinite tf.data.Dataset (reshuffled every epoch) of float32 [b, S, S, C] images in
    [-1, 1], b the per-replica batch (static: drop_remainder), prefetched with AUTOTUNE.
  """
  return _entry(cfg.name).build(cfg, pipeline.sharding_for(cfg, input_context, start_batch))


def describe_source(cfg):
  """One line saying where cfg's images come from, e.g. for the trainer's log."""
  return _entry(cfg.name).describe(cfg)


def get_ground_truth(cfg):
  """GroundTruthData (factor names/sizes, seeded factor and image sampling) of cfg's dataset.

  dsprites (rendered or the npz), or tfds:dsprites, tfds:shapes3d, tfds:smallnorb read from a
  prepared tfds data_dir. Raises DatasetError for other datasets: they have no factors.
  """
  if not has_ground_truth(cfg.name):
    raise DatasetError(f"dataset '{cfg.name}' has no ground-truth factors; the disentanglement "
                       "metrics need --dataset=dsprites or tfds:dsprites, tfds:shapes3d, "
                       "tfds:smallnorb.")
  return tfds_data.ground_truth(cfg) if is_tfds(cfg.name) else dsprites.ground_truth(cfg)


def get_labelled(cfg, limit=None):
  """(images float32 [N, S, S, C] in [-1, 1], labels int64 [N], number of classes) of cfg's
  dataset, the first `limit` in the dataset's file order, for the categorical code's accuracy.

  Raises DatasetError for datasets without class labels here (digits has them; mnist when its
  mnist.npz holds y_train).
  """
  if cfg.name not in LABELLED_DATASETS:
    raise DatasetError(f"dataset '{cfg.name}' has no class labels here; the categorical "
                       f"accuracy needs --dataset={' or '.join(LABELLED_DATASETS)}")
  if cfg.name == "digits":
    module, (images, labels) = digits, digits.load()
  else:
    module, (images, labels) = mnist, mnist.load_labelled(cfg.data_dir)
  images, labels = images[:limit], labels[:limit]
  return (module.to_observations(images, cfg.image_size, cfg.channels).numpy(), labels,
          digits.NUM_CLASSES)
