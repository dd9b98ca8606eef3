"""The OOGAN discriminator: shared trunk, real/fake head and Q head (OOGAN or InfoGAN style).

Layer lists follow reference-notes section 3. The three parts are separate Keras layers so their
variables are separately addressable: the info step updates G + `q_head` (+ `trunk` with
info_trains_trunk), never `real_fake_head`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from oogan_tf.models import layers
from oogan_tf.models.model_config import D_MULTIPLIERS, ModelConfig


def _sn_everywhere(cfg: ModelConfig) -> bool:
  """Whether every conv of D is spectrally normalised (spectral_norm "all" or "discriminator")."""
  return cfg.spectral_norm in ("all", "discriminator")


def _down_block(cfg: ModelConfig, in_channels: int, out_channels: int, name: str):
  """One of D's DownBlocks, with cfg's spectral-norm placement and BatchNorm switch."""
  return layers.DownBlock(in_channels, out_channels, spectral_norm=_sn_everywhere(cfg),
                          with_batch_norm=cfg.d_batch_norm, name=name)


class Trunk(layers.BuiltOnFirstCall, keras.layers.Layer):
  """SN conv 1x1 (no activation) then DownBlocks to 16x16.

  images float [B, S, S, channels] -> features [B, 16, 16, ndf * n[-3]].
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    n = D_MULTIPLIERS[cfg.image_size]
    self.from_image = layers.SpectralNormConv2D(cfg.ndf * n[0], 1, cfg.channels, name="from_image")
    # One attribute per block: layers in a Python list are invisible to tf.train.Checkpoint.
    self.num_blocks = len(n) - 3
    for i in range(self.num_blocks):
      setattr(self, f"down{i}", _down_block(cfg, cfg.ndf * n[i], cfg.ndf * n[i + 1], f"down{i}"))

  def call(self, x, training=None):
    x = self.from_image(x, training=training)
    for i in range(self.num_blocks):
      x = getattr(self, f"down{i}")(x, training=training)
    return x


class RealFakeHead(layers.BuiltOnFirstCall, keras.layers.Layer):
  """DownBlock (8x8) -> DownBlock (4x4) -> SN conv 4x4 valid -> raw score.

  features [B, 16, 16, F] -> scores float32 [B] (unbounded; used with the hinge loss).
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    n = D_MULTIPLIERS[cfg.image_size]
    w3, w2, w1 = cfg.ndf * n[-3], cfg.ndf * n[-2], cfg.ndf * n[-1]
    self.down8 = _down_block(cfg, w3, w2, "down8")
    self.down4 = _down_block(cfg, w2, w1, "down4")
    self.score = layers.SpectralNormConv2D(1, 4, w1, padding="valid", name="score")

  def call(self, x, training=None):
    x = self.down4(self.down8(x, training=training), training=training)
    return tf.cast(tf.reshape(self.score(x, training=training), (-1,)), tf.float32)


def _q_head_sizes(cfg: ModelConfig) -> tuple[int, int, int, bool]:
  """(trunk width at 16x16, width at 8x8, C' outputs, spectral norm on every conv) of a Q head."""
  n = D_MULTIPLIERS[cfg.image_size]
  return cfg.ndf * n[-3], cfg.ndf * n[-2], cfg.q_outputs, _sn_everywhere(cfg)


class OOGANQHead(layers.BuiltOnFirstCall, keras.layers.Layer):
  """OOGAN's Q ("CodeReduction"): DownBlock -> conv 3x3 (-> C') -> LReLU(0.1) ->
  orthogonal depthwise 4x4 stride 2 -> orthogonal spatial read-out.

  features [B, 16, 16, F] -> q float32 [B, C'].
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    w3, w2, cq, sn_all = _q_head_sizes(cfg)
    self.down = _down_block(cfg, w3, w2, "down8")
    self.reduce = layers.conv2d(cq, 3, w2, spectral_norm=sn_all, name="reduce")
    self.orth_conv = layers.OrthogonalDepthwiseConv2D(cq, name="orth_conv")
    self.readout = layers.SpatialReadout(cq, name="readout")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    return [self.orth_conv, self.readout]

  def call(self, x, training=None):
    x = self.down(x, training=training)
    x = self.reduce(x, training=training)
    # max(x, 0.1x) == LeakyReLU(0.1); written out because Grappler's remapper fails on
    # conv + bias + LeakyRelu when the gradient also needs the pre-activation, and a failed pass
    # drops every other fusion in the train step.
    x = tf.maximum(x, 0.1 * x)
    return tf.cast(self.readout(self.orth_conv(x)), tf.float32)


class InfoGANQHead(layers.BuiltOnFirstCall, keras.layers.Layer):
  """InfoGAN-style Q (ablation): DownBlock (8x8) -> DownBlock (-> C', 4x4) -> SN conv 4x4 valid.

  features [B, 16, 16, F] -> q float32 [B, C'].
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    w3, w2, cq, _ = _q_head_sizes(cfg)
    self.down8 = _down_block(cfg, w3, w2, "down8")
    self.down4 = _down_block(cfg, w2, cq, "down4")
    self.out = layers.SpectralNormConv2D(cq, 4, cq, padding="valid", name="out")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    return []

  def call(self, x, training=None):
    x = self.down4(self.down8(x, training=training), training=training)
    return tf.cast(tf.reshape(self.out(x, training=training), (-1, self.out.filters)), tf.float32)


class PaperQHead(layers.BuiltOnFirstCall, keras.layers.Layer):
  """The paper's Q (Table 3), branching off after the two shared blocks: orthogonal 3x3 conv
  (-> C') + LReLU(0.1) + avg pool, orthogonal 4x4 depthwise conv (stride 2) + LReLU(0.1) + avg
  pool, grouped linear read-out over the remaining 2x2 (one weight map per output).

  features [B, 16, 16, F] -> q float32 [B, C']. No BatchNorm, no spectral norm.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    cq = cfg.q_outputs
    self.orth_filters = layers.OrthogonalConv2D(cq, name="orth_filters")
    self.orth_conv = layers.OrthogonalDepthwiseConv2D(cq, name="orth_conv")
    self.readout = layers.SpatialReadout(cq, size=2, name="readout")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    return [self.orth_filters, self.orth_conv, self.readout]

  @staticmethod
  def _act_pool(x):
    # LeakyReLU(0.1) as max(x, 0.1x) (see OOGANQHead), then 2x2 average pooling.
    return tf.nn.avg_pool2d(tf.maximum(x, 0.1 * x), 2, 2, "VALID")

  def call(self, x, training=None):
    del training  # no BatchNorm in this head
    x = self._act_pool(self.orth_filters(x))
    x = self._act_pool(self.orth_conv(x))
    return tf.cast(self.readout(x), tf.float32)


_Q_HEADS = {"oogan": OOGANQHead, "infogan": InfoGANQHead, "paper": PaperQHead}


class Discriminator(layers.BuiltOnFirstCall, keras.Model):
  """D(x) -> (real/fake score float32 [B], Q output float32 [B, C']).

  images: float [B, S, S, channels] in [-1, 1]. For a probabilistic Q the Q output is
  [mu | log_sigma] (columns 0..C-1 and C..2C-1); otherwise C point estimates; with a categorical
  code its K logits follow (split_q, category_logits). Both heads are always
  computed from one trunk pass, as in the reference.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.cfg = cfg
    self.trunk = Trunk(cfg, name="trunk")
    self.real_fake_head = RealFakeHead(cfg, name="real_fake_head")
    self.q_head = _Q_HEADS[cfg.q_type](cfg, name="q_head")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    """The orthogonally regularised layers (empty for the InfoGAN Q head)."""
    return self.q_head.orthogonal_layers

  def call(self, x, training=None):
    features = self.trunk(tf.cast(x, self.compute_dtype), training=training)
    return (self.real_fake_head(features, training=training),
            self.q_head(features, training=training))

  def build_for(self, batch_size: int = 2) -> "Discriminator":
    """Creates all variables eagerly by one inference call on zeros."""
    s = self.cfg.image_size
    self(tf.zeros((batch_size, s, s, self.cfg.channels)), training=False)
    return self


def split_q(q: tf.Tensor, c_dim: int, probabilistic: bool) -> tuple[tf.Tensor, tf.Tensor | None]:
  """Splits Q's output [B, C'] into (mu [B, C], log_sigma [B, C] or None); any categorical
  logits after them are left out (category_logits)."""
  if probabilistic:
    return q[:, :c_dim], q[:, c_dim:2 * c_dim]
  return q[:, :c_dim], None


def category_logits(q: tf.Tensor, cfg: ModelConfig) -> tf.Tensor:
  """The categorical code's logits float32 [B, K]: Q's last K = cfg.cat_dim outputs."""
  return q[:, cfg.q_outputs - cfg.cat_dim:]
