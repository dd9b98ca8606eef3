"""The OOGAN generator G(c, z): input block (compete-free, InfoGAN-style or MLP), UpBlocks, 1x1 +
tanh; or a spatial broadcast decoder at full resolution (plain or with the compete-free input),
1x1 + tanh.

Layer lists and widths follow reference-notes section 2. Channels-last throughout.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from oogan_tf.models import layers
from oogan_tf.models.model_config import G_MULTIPLIERS, ModelConfig


class CompeteFreeInput(keras.layers.Layer):
  """OOGAN's input block: c path + (optional learned constant) + z path gated by c.

  c float [B, C + K] (the code [c | one_hot(k)]) and z float [B, Z] -> float [B, 8, 8, F8]:
    A  = UpBlock(LReLU0.01(BN(T4(c))) [+ const])         (c path)
    Bz = UpBlock(LReLU0.01(BN(T4'(z))))                   (z path, floor(Z/2) channels at 4x4)
    out = A + ChannelAttention(c) * Bz                    (no activation after the sum)
  where T4 is the 4x4 transposed conv on a 1x1 input.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    m = G_MULTIPLIERS[cfg.image_size]
    f4, f8 = cfg.ngf * m[0], cfg.ngf * m[1]
    sn = cfg.spectral_norm == "all"
    self.f4 = f4
    self.c_init = layers.vector_to_4x4(f4, cfg.code_dim, spectral_norm=sn, name="c_init")
    self.c_bn = layers.batch_norm("c_bn")
    self.c_up = layers.UpBlock(f4, f8, spectral_norm=sn, upsample=cfg.upsample, name="c_up")
    zc = cfg.z_dim // 2
    self.z_init = layers.vector_to_4x4(zc, cfg.z_dim, spectral_norm=sn, name="z_init")
    self.z_bn = layers.batch_norm("z_bn")
    self.z_up = layers.UpBlock(zc, f8, spectral_norm=sn, upsample=cfg.upsample, name="z_up")
    self.attention = layers.ChannelAttention(cfg.code_dim, f8, name="attention")
    self.use_constant = cfg.learned_constant

  def build(self, input_shape):
    if self.use_constant:
      # The paper's learned constant tensor, N(0, 1) as in the released code (which never adds it).
      self.constant = self.add_weight(name="learned_constant", shape=(1, 4, 4, self.f4),
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0))

  def call(self, inputs, training=None):
    c, z = inputs
    a = tf.nn.leaky_relu(self.c_bn(self.c_init(c, training=training), training=training), 0.01)
    if self.use_constant:
      a = a + tf.cast(self.constant, a.dtype)
    a = self.c_up(a, training=training)
    bz = tf.nn.leaky_relu(self.z_bn(self.z_init(z, training=training), training=training), 0.01)
    bz = self.z_up(bz, training=training)
    return a + self.attention(c) * bz


class InfoGANInput(layers.BuiltOnFirstCall, keras.layers.Layer):
  """InfoGAN-style input block (ablation): [c, z] -> T4 -> BN -> LReLU(0.01) -> UpBlock.

  c float [B, C + K] and z float [B, Z] -> float [B, 8, 8, F8].
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    m = G_MULTIPLIERS[cfg.image_size]
    f4, f8 = cfg.ngf * m[0], cfg.ngf * m[1]
    sn = cfg.spectral_norm == "all"
    self.init = layers.vector_to_4x4(f4, cfg.code_dim + cfg.z_dim, spectral_norm=sn, name="init")
    self.bn = layers.batch_norm("bn")
    self.up = layers.UpBlock(f4, f8, spectral_norm=sn, upsample=cfg.upsample, name="up")

  def call(self, inputs, training=None):
    c, z = inputs
    x = self.init(tf.concat([c, z], axis=-1), training=training)
    x = tf.nn.leaky_relu(self.bn(x, training=training), 0.01)
    return self.up(x, training=training)


UNIT_VARIANCE = 12.0 ** 0.5  # U(0, 1) has variance 1/12


def centred_codes(c: tf.Tensor, c_dim: int) -> tf.Tensor:
  """[B, C + K] -> [B, C + K]: the continuous codes (c - 0.5) sqrt(12) (zero mean, unit variance
  for U(0, 1)), the one-hot category unchanged."""
  return tf.concat([(c[:, :c_dim] - 0.5) * UNIT_VARIANCE, c[:, c_dim:]], axis=-1)


class MLPInput(layers.BuiltOnFirstCall, keras.layers.Layer):
  """InfoGAN-CR's dSprites input (Lin et al. 2020): an MLP on [c, z] before the first 4x4 map.

  c float [B, C + K] and z float [B, Z] -> float [B, 8, 8, F8]:
    [c, z] -> Dense(128) -> ReLU -> BN -> T4 (a dense map to 4x4xF4) -> ReLU -> BN -> UpBlock.
  The other input blocks map c to the 4x4 tensor linearly, so a code can only scale fixed
  spatial patterns; the hidden layer lets a code move content across the 4x4 grid. The dense
  layer is never spectrally normalised (T4 is, with spectral_norm "all"). The continuous codes
  enter centred and scaled to unit variance, (c - 0.5) sqrt(12), like z ~ N(0, 1): raw
  U(0, 1) codes have a 3.5x smaller spread than z, and the first layer then draws its variation
  from z (measured: codes set 3-15 % of the sprite properties' variance).
  """

  HIDDEN = 128

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    m = G_MULTIPLIERS[cfg.image_size]
    f4, f8 = cfg.ngf * m[0], cfg.ngf * m[1]
    sn = cfg.spectral_norm == "all"
    self.c_dim = cfg.c_dim
    self.hidden = layers.torch_dense(self.HIDDEN, cfg.code_dim + cfg.z_dim, name="hidden")
    self.hidden_bn = layers.batch_norm("hidden_bn")
    self.init = layers.vector_to_4x4(f4, self.HIDDEN, spectral_norm=sn, name="init")
    self.bn = layers.batch_norm("bn")
    self.up = layers.UpBlock(f4, f8, spectral_norm=sn, upsample=cfg.upsample, name="up")

  def call(self, inputs, training=None):
    c, z = inputs
    c = centred_codes(c, self.c_dim)
    h = tf.nn.relu(self.hidden(tf.concat([c, z], axis=-1)))
    # The project's BatchNorm takes [B, H, W, C]: the hidden vector as a 1x1 map.
    h = self.hidden_bn(h[:, None, None, :], training=training)[:, 0, 0, :]
    x = tf.nn.relu(self.init(h, training=training))
    return self.up(self.bn(x, training=training), training=training)


BROADCAST_LAYERS = 4


def broadcast_width(cfg: ModelConfig) -> int:
  """Channels of the broadcast G's full-resolution layers (2 ngf)."""
  return 2 * cfg.ngf


def coordinate_channels(batch: int, size: int, dtype) -> tf.Tensor:
  """[batch, size, size, 2] of pixel-centre coordinates in (-1, 1): channel 0 the column (x),
  channel 1 the row (y)."""
  ticks = (tf.range(size, dtype=tf.float32) + 0.5) * (2.0 / size) - 1.0
  rows, cols = tf.meshgrid(ticks, ticks, indexing="ij")
  grid = tf.cast(tf.stack([cols, rows], axis=-1), dtype)
  return tf.tile(grid[None], [batch, 1, 1, 1])


class BroadcastInput(layers.BuiltOnFirstCall, keras.layers.Layer):
  """A spatial broadcast decoder (Watters et al. 2019) as G's whole body; not OOGAN.

  c float [B, C + K] and z float [B, Z] -> float [B, S, S, W] with W = 2 ngf:
    [c, z] tiled over S x S, concatenated with the pixel coordinates (x, y) in (-1, 1)
    -> BROADCAST_LAYERS x ConvBlock (3x3 conv, BN, LReLU(0.1)) at full resolution.
  Every pixel's value is a function of its own coordinates and the codes (plus a 3x3
  neighbourhood per layer), so a code that moves the sprite shifts a threshold on one
  coordinate channel: moving content along x or y is the simplest thing a code can do, where the
  upsampling Gs must build position from learned 4x4 patterns. Watters et al. report that this
  decoder puts position into separate latents in VAEs on dSprites-like data. The continuous codes
  enter centred and scaled to unit variance, as in MLPInput.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    sn = cfg.spectral_norm == "all"
    self.c_dim = cfg.c_dim
    self.size = cfg.image_size
    width = broadcast_width(cfg)
    self.num_blocks = BROADCAST_LAYERS
    self.make_first_layer(cfg, width, sn)
    for i in range(1, self.num_blocks):
      setattr(self, f"conv{i}", layers.ConvBlock(width, width, spectral_norm=sn, name=f"conv{i}"))

  def make_first_layer(self, cfg: ModelConfig, width: int, sn: bool) -> None:
    self.conv0 = layers.ConvBlock(cfg.code_dim + cfg.z_dim + 2, width, spectral_norm=sn,
                                  name="conv0")

  def tiled(self, v: tf.Tensor) -> tf.Tensor:
    """float [B, V] -> [B, S, S, V + 2]: v at every pixel, then the pixel coordinates (x, y)."""
    b, s = tf.shape(v)[0], self.size
    x = tf.tile(v[:, None, None, :], [1, s, s, 1])
    return tf.concat([x, coordinate_channels(b, s, x.dtype)], axis=-1)

  def first_layer(self, c, z, training=None):
    """Centred c [B, C + K] and z [B, Z] -> [B, S, S, W]: conv0 on [c, z] tiled with (x, y)."""
    return self.conv0(self.tiled(tf.concat([c, z], axis=-1)), training=training)

  def call(self, inputs, training=None):
    c, z = inputs
    x = self.first_layer(centred_codes(c, self.c_dim), z, training=training)
    for i in range(1, self.num_blocks):
      x = getattr(self, f"conv{i}")(x, training=training)
    return x


class CompeteFreeBroadcastInput(BroadcastInput):
  """OOGAN's compete-free input on the spatial broadcast decoder (--g_type=oogan_broadcast).

  c float [B, C + K] and z float [B, Z] -> float [B, S, S, W] with W = 2 ngf. The first layer is
  split into the compete-free block's two paths:
    A  = ConvBlock([c, x, y])                       (c path: the centred codes, as in
                                                     BroadcastInput, tiled over the image
                                                     beside the pixel coordinates; the
                                                     attention MLP reads them too)
    Bz = LReLU0.1(BN(Dense(z)))                     (z path: [B, 1, 1, W], the same at every pixel)
    h  = A + ChannelAttention(c) * Bz               (no activation after the sum, as
                                                     CompeteFreeInput)
  then the remaining BROADCAST_LAYERS - 1 ConvBlocks. In the plain broadcast G, c and z share
  the first layer's units and z can take factors that c should hold (measured with OOGAN's Q: z
  sets most of shape's and part of orientation's variance); here z reaches the image only
  through per-channel offsets whose gains c sets, and only the c path sees the coordinates, which
  play the learned constant's part (so learned_constant is ignored). Measured: a z path with the
  coordinates took the sprite's position from c.
  """

  def make_first_layer(self, cfg: ModelConfig, width: int, sn: bool) -> None:
    self.conv0 = layers.ConvBlock(cfg.code_dim + 2, width, spectral_norm=sn, name="conv0")
    self.z_dense = layers.torch_dense(width, cfg.z_dim, name="z_dense")
    self.z_bn = layers.batch_norm("z_bn")
    self.attention = layers.ChannelAttention(cfg.code_dim, width, name="attention")

  def first_layer(self, c, z, training=None):
    a = self.conv0(self.tiled(c), training=training)
    bz = self.z_bn(self.z_dense(z)[:, None, None, :], training=training)
    return a + self.attention(c) * tf.nn.leaky_relu(bz, 0.1)


_INPUT_BLOCKS = {"oogan": CompeteFreeInput, "infogan": InfoGANInput, "mlp": MLPInput,
                 "broadcast": BroadcastInput, "oogan_broadcast": CompeteFreeBroadcastInput}
BROADCAST_G_TYPES = ("broadcast", "oogan_broadcast")


class Generator(layers.BuiltOnFirstCall, keras.Model):
  """G: (c float32 [B, C + K], z float32 [B, Z]) -> images float32 [B, S, S, channels] in (-1, 1).

  c is the code [continuous codes | one_hot(category)] (codes.generator_code); K = cfg.cat_dim,
  0 without a categorical code.
  Call as `G((c, z), training=...)`. The reference never puts G in eval mode while training or
  sampling, so BatchNorm uses batch statistics whenever training=True.
  The output is float32 even under a mixed-precision policy.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.cfg = cfg
    m = G_MULTIPLIERS[cfg.image_size]
    sn = cfg.spectral_norm == "all"
    self.input_block = _INPUT_BLOCKS[cfg.g_type](cfg, name="input_block")
    # One attribute per block (not a list): tf.train.Checkpoint does not see layers that Keras 3
    # holds in a Python list, so their variables would be missing from checkpoints.
    # The broadcast G works at full resolution from its input block on.
    broadcast = cfg.g_type in BROADCAST_G_TYPES
    self.num_up_blocks = 0 if broadcast else len(m) - 2
    for i in range(self.num_up_blocks):
      setattr(self, f"up{i}", layers.UpBlock(cfg.ngf * m[i + 1], cfg.ngf * m[i + 2],
                                             spectral_norm=sn, upsample=cfg.upsample,
                                             name=f"up{i}"))
    # Spectral norm on the last 1x1 conv in every placement (it is the one SN layer of the
    # released G).
    last = broadcast_width(cfg) if broadcast else cfg.ngf * m[-1]
    self.to_image = layers.SpectralNormConv2D(cfg.channels, 1, last, name="to_image")

  def call(self, inputs, training=None):
    c, z = inputs
    c = tf.cast(c, self.compute_dtype)
    z = tf.cast(z, self.compute_dtype)
    x = self.input_block((c, z), training=training)
    for i in range(self.num_up_blocks):
      x = getattr(self, f"up{i}")(x, training=training)
    x = self.to_image(x, training=training)
    x = tf.tanh(x) if self.cfg.g_output == "tanh" else 2.0 * tf.sigmoid(x) - 1.0
    return tf.cast(x, tf.float32)

  def build_for(self, batch_size: int = 2) -> "Generator":
    """Creates all variables eagerly by one call on zeros (so a tf.function never creates them)."""
    c = tf.zeros((batch_size, self.cfg.code_dim))
    z = tf.zeros((batch_size, self.cfg.z_dim))
    self((c, z), training=False)
    return self


def copy_non_trainable(source: Generator, target: Generator) -> None:
  """Copies non-trainable state (BatchNorm statistics, spectral-norm vectors) from source to target.

  The EMA covers parameters only (as in the reference); its buffers are the live G's, which is
  what the reference's checkpoints hold.
  """
  for t, s in zip(target.non_trainable_variables, source.non_trainable_variables):
    t.assign(s)
