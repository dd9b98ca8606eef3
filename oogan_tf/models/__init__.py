"""OOGAN networks: generator, discriminator with real/fake and Q heads, and their layers."""

from oogan_tf.models.discriminator import Discriminator, category_logits, split_q
from oogan_tf.models.generator import Generator, copy_non_trainable
from oogan_tf.models.model_config import IMAGE_SIZES, ModelConfig
from oogan_tf.models.networks import Networks, build_networks, checkpoint_of, update_ema
from oogan_tf.models.orthogonal import OrthogonalRegularizer

__all__ = ["Discriminator", "category_logits", "Generator", "copy_non_trainable", "IMAGE_SIZES",
           "ModelConfig", "Networks", "OrthogonalRegularizer", "build_networks", "checkpoint_of",
           "split_q", "update_ema"]


def count_params(variables) -> int:
  """Total number of scalar values in a list of variables."""
  return int(sum(int(v.shape.num_elements()) for v in variables))
