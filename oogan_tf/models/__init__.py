"""OOGAN networks: generator, discriminator with real/fake and Q heads, and their layers.

ModelConfig and its enums load without TensorFlow; the networks load on first use (PEP 562), so
that an entry point can parse and validate its flags, or print --help, before TensorFlow's import
(5-7 s on 2 cores).
"""

from oogan_tf.lazy_import import module_getattr
from oogan_tf.models.model_config import IMAGE_SIZES, ModelConfig

# Public name -> the submodule that defines it.
_LAZY = {"Discriminator": "discriminator", "category_logits": "discriminator",
         "split_q": "discriminator", "Generator": "generator",
         "copy_non_trainable": "generator", "Networks": "networks",
         "build_networks": "networks", "checkpoint_of": "networks", "update_ema": "networks",
         "OrthogonalRegularizer": "orthogonal"}
__getattr__ = module_getattr(__name__, _LAZY)

__all__ = ["Discriminator", "category_logits", "Generator", "copy_non_trainable", "IMAGE_SIZES",
           "ModelConfig", "Networks", "OrthogonalRegularizer", "build_networks", "checkpoint_of",
           "split_q", "update_ema", "count_params"]


def count_params(variables) -> int:
  """Total number of scalar values in a list of variables."""
  return int(sum(int(v.shape.num_elements()) for v in variables))
