"""The StyleGAN-based OOGAN (appendix C.1, reference-notes section 12), progressive to S pixels.

Levels l = 0..L hold resolution 4 * 2^l (L = log2(S / 4)). Training runs in phases p = 0, 1, ...
at resolution start * 2^p (start = stylegan_start_size, 8 as the reference; top level T =
log2(start / 4) + p), each fading in from the level below with alpha going 0 -> 1
(oogan_tf.progressive). The current phase and alpha are variables of each network (saved
in checkpoints and exports), and every call switches on the phase inside the graph, so:

* G always returns [B, S, S, ch] images: the top level's output nearest-upsampled to S;
* D always takes [B, S, S, ch] images and average-pools them to the phase's resolution.
Average pooling undoes nearest upsampling exactly, so D sees G's native-resolution output; real
images are area-downsampled (the reference rebuilds its loader per resolution instead). One
compiled train loop thus crosses phases without retracing, and a checkpoint, export or evaluation
works at any phase with the model's fixed S x S signatures.

G: z -> PixelNorm -> mapping_layers x (EqualDense(style_dim) + LReLU 0.2) = style w (one w for
every layer, no mixing). The code (c, or [c | one_hot(k)]) replaces StyleGAN's constant input:
CodeTo4x4(code); the 4x4 and 8x8 noise maps are EqualDense projections of the code (16 and 64
values); higher levels get 0.1 N(0, 1) noise while training (zeros otherwise). With style
mixing (training only), the levels from a random crossover on take the style of a second z. Each level: conv
(level 0: the code map instead) -> noise -> AdaIN(w) -> LReLU -> conv -> the same noise -> AdaIN
-> LReLU; levels >= 1 first upsample bilinearly. to_rgb: 1x1, no output activation.
D: from_rgb 1x1 -> ConvBlocks (two 3x3 + LReLU, then 2x2 average pool) down to 4x4 -> Q head
(ConvBlock, then the grouped orthogonal 4x4 conv) on the 4x4 features, and minibatch std ->
conv 3x3 -> conv 4x4 valid -> EqualDense(1) for the score.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from oogan_tf.models import stylegan_layers as sl
from oogan_tf.models.layers import BuiltOnFirstCall
from oogan_tf.models.model_config import ModelConfig, stylegan_width

STYLE_NOISE_STD = 0.1  # random noise of the levels above 8x8 while training


def num_levels(image_size: int) -> int:
  """L: the top level index of an S-pixel model (level l has 4 * 2^l pixels)."""
  return int(round(math.log2(image_size // 4)))


def _start_level(cfg: ModelConfig) -> int:
  return num_levels(cfg.stylegan_start_size)


def top_level(cfg: ModelConfig, phase):
  """The highest level phase p runs (int, or an int32 tensor for a tensor p)."""
  return _start_level(cfg) + phase


def num_phases(cfg: ModelConfig) -> int:
  """Phases at start, 2 start, ..., S pixels (start = cfg.stylegan_start_size)."""
  return num_levels(cfg.image_size) - _start_level(cfg) + 1


def phase_resolution(cfg: ModelConfig, phase):
  """The resolution of phase p: start * 2^p (a Python int, or an int32 tensor for a tensor p)."""
  return cfg.stylegan_start_size * 2 ** phase


def _up2(x: tf.Tensor) -> tf.Tensor:
  # Bilinear with half-pixel centres: PyTorch's align_corners=False.
  s = tf.shape(x)
  return tf.cast(tf.image.resize(x, (2 * s[1], 2 * s[2]), "bilinear"), x.dtype)


def _down2(x: tf.Tensor) -> tf.Tensor:
  return tf.nn.avg_pool2d(x, 2, 2, "VALID")


class _Progress(keras.layers.Layer):
  """The phase (int32 []) and fade-in alpha (float32 [], in [0, 1]) a network runs at."""

  def build(self, input_shape=None):
    self.phase = self.add_weight(name="phase", shape=(), dtype="int32", initializer="zeros",
                                 trainable=False)
    self.alpha = self.add_weight(name="alpha", shape=(), dtype="float32", initializer="ones",
                                 trainable=False)

  def call(self, inputs=None):
    return self.phase, self.alpha


class _StyledLevel(BuiltOnFirstCall, keras.layers.Layer):
  """One synthesis level: (conv) -> noise -> AdaIN -> LReLU -> conv -> noise -> AdaIN -> LReLU.

  x float [B, H, W, F_in] (level 0: the code map [B, 4, 4, F]), style [B, W], noise
  [B, H, W, 1] -> [B, H, W, F]. collapse: level 0's second conv is 4x4 valid (the released
  code's bug: 4x4 -> 1x1, broadcast back by the noise addition).
  """

  def __init__(self, filters: int, first_conv: bool, collapse: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.conv1 = sl.EqualConv2D(filters, 3, name="conv1") if first_conv else None
    self.noise1 = sl.NoiseInjection(name="noise1")
    self.adain1 = sl.AdaIN(filters, name="adain1")
    self.conv2 = (sl.EqualConv2D(filters, 4, padding="valid", name="conv2") if collapse
                  else sl.EqualConv2D(filters, 3, name="conv2"))
    self.noise2 = sl.NoiseInjection(name="noise2")
    self.adain2 = sl.AdaIN(filters, name="adain2")

  def call(self, x, style, noise):
    if self.conv1 is not None:
      x = self.conv1(x)
    x = sl.leaky_relu(self.adain1(self.noise1(x, noise), style))
    x = self.conv2(x)
    return sl.leaky_relu(self.adain2(self.noise2(x, noise), style))


class StyleGenerator(BuiltOnFirstCall, keras.Model):
  """G((code [B, C + K], z [B, Z][, noise_key int64 [2]]), training) -> float32 [B, S, S, ch].

  Values are unbounded (no output activation, as StyleGAN; data are in [-1, 1]). Without
  noise_key, or with training=False, the random noise maps of the levels above 8x8 are zeros
  (the reference's fix_noise); the code-derived 4x4 and 8x8 maps are always used.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.cfg = cfg
    self.levels = num_levels(cfg.image_size)
    self.progress = _Progress(name="progress")
    for i in range(cfg.mapping_layers):
      setattr(self, f"mapping{i}", sl.EqualDense(cfg.style_dim, name=f"mapping{i}"))
    self.code_map = sl.CodeTo4x4(stylegan_width(cfg.ngf, 4), name="code_map")
    self.noise_map4 = sl.EqualDense(16, name="noise_map4")
    self.noise_map8 = sl.EqualDense(64, name="noise_map8")
    # One attribute per level (tf.train.Checkpoint does not see layers held in Python lists).
    for level in range(self.levels + 1):
      width = stylegan_width(cfg.ngf, 4 * 2 ** level)
      setattr(self, f"level{level}", _StyledLevel(
          width, first_conv=level > 0, collapse=level == 0 and cfg.stylegan_block0_collapse,
          name=f"level{level}"))
      setattr(self, f"to_rgb{level}", sl.EqualConv2D(cfg.channels, 1, name=f"to_rgb{level}"))

  @property
  def mapping_variables(self) -> list[tf.Variable]:
    """The mapping network's parameters (trained at 0.01 times the learning rate)."""
    return [v for i in range(self.cfg.mapping_layers)
            for v in getattr(self, f"mapping{i}").trainable_variables]

  def level_variables(self, level: int) -> list[tf.Variable]:
    """Level l's synthesis parameters (level 0 with the code map, levels 0-1 with their
    code-derived noise projections)."""
    extra = {0: [self.code_map, self.noise_map4], 1: [self.noise_map8]}.get(level, [])
    return [v for layer in [getattr(self, f"level{level}")] + extra
            for v in layer.trainable_variables]

  def noise_map_variables(self) -> list[tf.Variable]:
    """The code -> noise-map projections (never trained in the released code)."""
    return self.noise_map4.trainable_variables + self.noise_map8.trainable_variables

  def to_rgb_variables(self, level: int) -> list[tf.Variable]:
    return getattr(self, f"to_rgb{level}").trainable_variables

  def _noise(self, code, level, key, batch):
    if level == 0:
      return tf.reshape(self.noise_map4(code), (-1, 4, 4, 1))
    if level == 1:
      return tf.reshape(self.noise_map8(code), (-1, 8, 8, 1))
    size = 4 * 2 ** level
    if key is None:
      return tf.zeros((batch, size, size, 1), code.dtype)
    key = tf.random.experimental.stateless_fold_in(tf.cast(key, tf.int64), level)
    return tf.cast(STYLE_NOISE_STD * tf.random.stateless_normal((batch, size, size, 1), key),
                   code.dtype)

  def style(self, z) -> tf.Tensor:
    """The mapping network: z [B, Z] -> w [B, style_dim]."""
    w = sl.pixel_norm(z)
    for i in range(self.cfg.mapping_layers):
      w = sl.leaky_relu(getattr(self, f"mapping{i}")(w))
    return w

  def forward(self, code, z, phase: int, alpha, noise_key=None, mixing=None) -> tf.Tensor:
    """G at a fixed phase (Python int) and alpha (float scalar): [B, S, S, ch] float32.

    mixing: None, or (z2 [B, Z], crossover int32 []): style mixing, the levels >= crossover
    take their style from z2 (crossover above the top level: no mixing).
    """
    w = self.style(z)
    w2, crossover = (self.style(mixing[0]), mixing[1]) if mixing is not None else (None, None)
    batch = tf.shape(code)[0]
    top = top_level(self.cfg, phase)
    x = self.code_map(code)
    features = []
    for level in range(top + 1):
      if level:
        x = _up2(x)
      style = w if w2 is None else tf.where(level >= crossover, w2, w)
      x = getattr(self, f"level{level}")(x, style, self._noise(code, level, noise_key, batch))
      features.append(x)
    out = getattr(self, f"to_rgb{top}")(features[top])
    skip = getattr(self, f"to_rgb{top - 1}")(_up2(features[top - 1]))
    alpha = tf.cast(alpha, out.dtype)
    out = (1.0 - alpha) * skip + alpha * out
    factor = self.cfg.image_size // phase_resolution(self.cfg, phase)
    if factor > 1:
      out = tf.repeat(tf.repeat(out, factor, axis=1), factor, axis=2)  # nearest
    return tf.cast(out, tf.float32)

  def call(self, inputs, training=None):
    """inputs: (code, z), or while training (code, z, noise_key) or (code, z, noise_key, z2,
    crossover) for style mixing (see forward). Runs at the network's own phase and alpha."""
    phase, alpha = self.progress()
    branches = [lambda p=p: self.call_at(inputs, p, alpha, training)
                for p in range(num_phases(self.cfg))]
    return tf.switch_case(tf.convert_to_tensor(phase), branches)

  def call_at(self, inputs, phase: int, alpha, training=None) -> tf.Tensor:
    """`call` at a fixed phase (Python int) and alpha: what a compiled step that has branched on
    the phase itself calls (no switch inside, so its gradient is a plain one)."""
    code, z, *rest = inputs
    noise_key = rest[0] if (rest and training) else None
    mixing = None
    if len(rest) == 3 and training:
      mixing = (tf.cast(rest[1], self.compute_dtype), rest[2])
    code = tf.cast(code, self.compute_dtype)
    z = tf.cast(z, self.compute_dtype)
    return self.forward(code, z, phase, alpha, noise_key, mixing)

  def build_for(self, batch_size: int = 2) -> "StyleGenerator":
    """Creates every variable (all phases) eagerly."""
    self.progress.build()
    code = tf.zeros((batch_size, self.cfg.code_dim))
    z = tf.zeros((batch_size, self.cfg.z_dim))
    for p in range(num_phases(self.cfg)):
      self.forward(code, z, p, 1.0)
    self.built = True  # every variable exists now; Keras need not guess a build()
    self((code, z), training=False)
    return self


class _ConvBlock(BuiltOnFirstCall, keras.layers.Layer):
  """conv 3x3 (-> filters) -> LReLU -> conv 3x3 -> LReLU: [B, H, W, F] -> [B, H, W, filters]."""

  def __init__(self, filters: int, **kwargs):
    super().__init__(**kwargs)
    self.conv1 = sl.EqualConv2D(filters, 3, name="conv1")
    self.conv2 = sl.EqualConv2D(filters, 3, name="conv2")

  def call(self, x):
    return sl.leaky_relu(self.conv2(sl.leaky_relu(self.conv1(x))))


class StyleQHead(BuiltOnFirstCall, keras.layers.Layer):
  """Q on D's 4x4 features: ConvBlock -> grouped orthogonal 4x4 conv -> float32 [B, C'].

  C' = cfg.q_outputs in the project's layout [mu | log_sigma | category logits] (the released
  code reads (mu, log_sigma) interleaved; the groups are interchangeable, so this only renames
  outputs).
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.block = _ConvBlock(stylegan_width(cfg.ndf, 4), name="block")
    self.orth_conv = sl.GroupedOrthogonalConv(cfg.q_outputs, name="orth_conv")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    return [self.orth_conv]

  def call(self, x):
    return tf.cast(self.orth_conv(self.block(x)), tf.float32)


class StyleDiscriminator(BuiltOnFirstCall, keras.Model):
  """D(x float [B, S, S, ch] in [-1, 1]) -> (score float32 [B], q float32 [B, C']).

  The score is unbounded (WGAN-GP). No BatchNorm, so `training` changes nothing.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.cfg = cfg
    self.levels = num_levels(cfg.image_size)
    self.progress = _Progress(name="progress")
    for level in range(self.levels + 1):
      setattr(self, f"from_rgb{level}",
              sl.EqualConv2D(stylegan_width(cfg.ndf, 4 * 2 ** level), 1, name=f"from_rgb{level}"))
    for level in range(1, self.levels + 1):
      setattr(self, f"block{level}",
              _ConvBlock(stylegan_width(cfg.ndf, 2 ** (level + 1)), name=f"block{level}"))
    width4 = stylegan_width(cfg.ndf, 4)
    self.final_conv = sl.EqualConv2D(width4, 3, name="final_conv")
    self.final_conv4 = sl.EqualConv2D(width4, 4, padding="valid", name="final_conv4")
    self.score = sl.EqualDense(1, name="score")
    self.q_head = StyleQHead(cfg, name="q_head")

  @property
  def orthogonal_layers(self) -> list[keras.layers.Layer]:
    return self.q_head.orthogonal_layers

  def from_rgb_variables(self, level: int) -> list[tf.Variable]:
    return getattr(self, f"from_rgb{level}").trainable_variables

  def block_variables(self, level: int) -> list[tf.Variable]:
    return getattr(self, f"block{level}").trainable_variables

  @property
  def final_variables(self) -> list[tf.Variable]:
    return [v for layer in (self.final_conv, self.final_conv4, self.score)
            for v in layer.trainable_variables]

  def forward(self, x, phase: int, alpha) -> tuple[tf.Tensor, tf.Tensor]:
    """D at a fixed phase (Python int) and alpha; x float [B, S, S, ch]."""
    top = top_level(self.cfg, phase)
    factor = self.cfg.image_size // phase_resolution(self.cfg, phase)
    if factor > 1:
      x = tf.nn.avg_pool2d(x, factor, factor, "VALID")
    h = _down2(getattr(self, f"block{top}")(getattr(self, f"from_rgb{top}")(x)))
    skip = getattr(self, f"from_rgb{top - 1}")(_down2(x))
    alpha = tf.cast(alpha, h.dtype)
    h = (1.0 - alpha) * skip + alpha * h
    for level in range(top - 1, 0, -1):
      h = _down2(getattr(self, f"block{level}")(h))
    q = self.q_head(h)
    s = sl.leaky_relu(self.final_conv(sl.minibatch_stddev(h)))
    s = sl.leaky_relu(self.final_conv4(s))
    score = self.score(tf.reshape(s, (-1, s.shape[-1])))
    return tf.cast(tf.reshape(score, (-1,)), tf.float32), q

  def call(self, x, training=None):
    del training  # no BatchNorm
    phase, alpha = self.progress()
    branches = [lambda p=p: self.call_at(x, p, alpha) for p in range(num_phases(self.cfg))]
    return tf.switch_case(tf.convert_to_tensor(phase), branches)

  def call_at(self, x, phase: int, alpha) -> tuple[tf.Tensor, tf.Tensor]:
    """`call` at a fixed phase (Python int) and alpha (see StyleGenerator.call_at)."""
    return self.forward(tf.cast(x, self.compute_dtype), phase, alpha)

  def build_for(self, batch_size: int = 2) -> "StyleDiscriminator":
    """Creates every variable (all phases) eagerly."""
    self.progress.build()
    s = self.cfg.image_size
    x = tf.zeros((batch_size, s, s, self.cfg.channels))
    for p in range(num_phases(self.cfg)):
      self.forward(x, p, 1.0)
    self.built = True
    self(x, training=False)
    return self


def set_progress(model, phase, alpha) -> None:
  """Sets a StyleGAN network's phase (int) and alpha (float); works inside tf.function."""
  model.progress.phase.assign(tf.cast(phase, tf.int32))
  model.progress.alpha.assign(tf.cast(alpha, tf.float32))
