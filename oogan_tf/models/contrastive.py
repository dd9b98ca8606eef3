"""InfoGAN-CR's contrastive regulariser network H (Lin et al., ICML 2020), an optional extra.

Given two generated images whose codes agree in exactly one dimension k, H predicts k. G and H
minimise the same cross-entropy, so G is rewarded for giving each code an effect that is
recognisable whatever the other codes are: one code, one kind of change. OOGAN itself has no such
term; it is a lever of issue 16 (docs/RESULTS.md), off unless `cr_weight` > 0.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from oogan_tf.models import layers
from oogan_tf.models.model_config import ModelConfig


class ContrastiveHead(layers.BuiltOnFirstCall, keras.Model):
  """H: SN conv 1x1 -> DownBlocks to 4x4 -> linear -> C logits.

  pairs float [B, S, S, 2 * channels] (the two images of a pair stacked on channels, each in
  [-1, 1]) -> logits float32 [B, C] over the shared code. Widths ndf, 2 ndf, 4 ndf, ... (at most
  8 ndf), as D's trunk.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.cfg = cfg
    widths = [cfg.ndf * min(2 ** i, 8) for i in range(int(math.log2(cfg.image_size // 4)) + 1)]
    self.from_image = layers.SpectralNormConv2D(widths[0], 1, 2 * cfg.channels, name="from_image")
    self.num_blocks = len(widths) - 1
    # One attribute per block: layers in a Python list are invisible to tf.train.Checkpoint.
    for i in range(self.num_blocks):
      setattr(self, f"down{i}", layers.DownBlock(widths[i], widths[i + 1], name=f"down{i}"))
    self.logits = layers.torch_dense(cfg.c_dim, 16 * widths[-1], name="logits")

  def call(self, pairs, training=None):
    x = self.from_image(tf.cast(pairs, self.compute_dtype), training=training)
    for i in range(self.num_blocks):
      x = getattr(self, f"down{i}")(x, training=training)
    x = tf.reshape(x, (tf.shape(x)[0], -1))
    return tf.cast(self.logits(x), tf.float32)

  def build_for(self, batch_size: int = 2) -> "ContrastiveHead":
    """Creates all variables eagerly by one inference call on zeros."""
    s = self.cfg.image_size
    self(tf.zeros((batch_size, s, s, 2 * self.cfg.channels)), training=False)
    return self
