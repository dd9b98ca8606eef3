"""Building blocks of the OOGAN networks (Keras 3, channels-last, NHWC).

Every layer reproduces the authors' PyTorch module it stands for:

* PyTorch-default initialisation (`torch_uniform`): weights and biases ~ U(+-1/sqrt(fan_in)), with
  PyTorch's fan_in (for a transposed conv that is out_channels * k * k, for a depthwise conv k * k).
  Each weight gets its own initializer: an unseeded Keras initializer fixes its seed when built,
  so one instance shared by a kernel and its bias made the bias a copy of the kernel's first
  values (before 2026-12-05).
* `SpectralNormConv2D` keeps the raw kernel, a persistent (u, v) pair, runs one power iteration per
  training call and convolves with W / sigma, as `torch.nn.utils.spectral_norm` does.
* `OrthogonalDepthwiseConv2D` and `SpatialReadout` are the two orthogonally regularised layers of the
  OOGAN Q head; they expose `orthogonal_rows()` and are stepped by `OrthogonalRegularizer`, never
  inside `call`.
* `UpBlock` / `DownBlock` with the reference's order of operations, LeakyReLU slopes and BatchNorm
  momentum / epsilon.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from oogan_tf.models.batch_norm import BatchNorm

# PyTorch BatchNorm defaults: momentum 0.1 on the new statistic == Keras momentum 0.9, eps 1e-5.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


class BuiltOnFirstCall:
  """Mixin for a Keras layer or model made only of other layers (no variables of its own).

  Without a build() of its own, Keras builds such a layer on its first call by tracing `call` on
  symbolic inputs first: about 0.7 s of graph construction per network (measured: a new G + D at
  128 px, 1.8 s -> 0.4 s to the first output), paid again by every network made. With this no-op build the sublayers build themselves
  during that first call instead. Call it eagerly first (`build_for`), so that variables are never
  created inside a tf.function.
  """

  def build(self, input_shape):
    del input_shape


def torch_uniform(fan_in: int) -> keras.initializers.Initializer:
  """U(-1/sqrt(fan_in), +1/sqrt(fan_in)): PyTorch's default for conv/linear weights and biases.

  PyTorch initialises weights with kaiming_uniform(a=sqrt(5)), whose bound simplifies to
  1/sqrt(fan_in), and biases with the same bound. fan_in is passed explicitly because Keras' own
  fan computation differs for depthwise and transposed kernels.
  """
  if fan_in < 1:
    raise ValueError(f"fan_in must be >= 1, got {fan_in}")
  bound = 1.0 / math.sqrt(fan_in)
  return keras.initializers.RandomUniform(-bound, bound)


def torch_conv2d(filters: int, kernel_size: int, in_channels: int, *, strides: int = 1,
                 padding: str = "same", name: str | None = None) -> keras.layers.Conv2D:
  """A Keras Conv2D with PyTorch-default initialisation (fan_in = in_channels * k * k)."""
  fan_in = in_channels * kernel_size * kernel_size
  return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                             kernel_initializer=torch_uniform(fan_in),
                             bias_initializer=torch_uniform(fan_in), name=name)


def torch_dense(units: int, in_features: int, *, name: str | None = None) -> keras.layers.Dense:
  """A Keras Dense layer with PyTorch-default initialisation (fan_in = in_features)."""
  return keras.layers.Dense(units, kernel_initializer=torch_uniform(in_features),
                            bias_initializer=torch_uniform(in_features), name=name)


def batch_norm(name: str | None = None) -> BatchNorm:
  """BatchNorm with PyTorch's momentum and epsilon."""
  return BatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _l2_normalize(x: tf.Tensor) -> tf.Tensor:
  # PyTorch's spectral_norm normalises with eps=1e-12 on the norm.
  return x / tf.maximum(tf.norm(x), 1e-12)


class _UnitNormal(keras.initializers.Initializer):
  """A N(0, 1) draw normalised to unit length (PyTorch's spectral-norm u and v)."""

  def __init__(self):
    self._normal = keras.initializers.RandomNormal(0.0, 1.0)

  def __call__(self, shape, dtype=None):
    return _l2_normalize(self._normal(shape, dtype=dtype))


class SpectralNormConv2D(keras.layers.Layer):
  """Conv2D (or the 4x4 transposed conv on a 1x1 input) divided by its spectral norm.

  PyTorch semantics: the trainable variable is the raw kernel W; a non-trainable pair (u, v)
  persists across calls. In a training call one power iteration updates (u, v) under
  stop-gradient, then sigma = u^T W_mat v is computed with the gradient flowing through W, and the
  layer convolves with W / sigma. In inference the stored (u, v) are used unchanged. The raw kernel
  is never overwritten by the forward pass (unlike keras.layers.SpectralNormalization).

  W_mat is the kernel reshaped to (out_channels, everything else), as PyTorch does for `dim=0`
  (conv) and `dim=1` (transposed conv).

  Args:
    filters: output channels.
    kernel_size: square kernel size k.
    in_channels: input channels (needed for the PyTorch fan_in).
    strides, padding: as Conv2D ("same" or "valid").
    from_vector: if True the layer is the reference's ConvTranspose2d(k, stride 1, pad 0) applied to
      a (B, in, 1, 1) input: it takes float [B, in] and returns [B, k, k, filters]. PyTorch's fan_in
      for a transposed conv is filters * k * k.
  """

  def __init__(self, filters: int, kernel_size: int, in_channels: int, *, strides: int = 1,
               padding: str = "same", from_vector: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.in_channels = int(in_channels)
    self.strides = int(strides)
    self.padding = padding.upper()
    self.from_vector = bool(from_vector)

  def build(self, input_shape):
    k = self.kernel_size
    fan_in = (self.filters if self.from_vector else self.in_channels) * k * k
    self.kernel = self.add_weight(name="kernel", shape=(k, k, self.in_channels, self.filters),
                                  initializer=torch_uniform(fan_in))
    self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                initializer=torch_uniform(fan_in))
    rest = self.in_channels * k * k
    # PyTorch's u, v are buffers (not parameters): N(0, 1) draws normalised to unit length.
    self.sn_u = self.add_weight(name="sn_u", shape=(self.filters,), trainable=False,
                                initializer=_UnitNormal())
    self.sn_v = self.add_weight(name="sn_v", shape=(rest,), trainable=False,
                                initializer=_UnitNormal())

  def weight_matrix(self) -> tf.Tensor:
    """The kernel as PyTorch's (out_channels, in_channels * k * k) float32 matrix."""
    return tf.transpose(tf.reshape(self.kernel, (-1, self.filters)))

  def sigma(self, training: bool) -> tf.Tensor:
    """Largest-singular-value estimate; one power iteration (and a (u, v) update) if training."""
    w = self.weight_matrix()
    if training:
      w_sg = tf.stop_gradient(w)
      v = _l2_normalize(tf.linalg.matvec(w_sg, self.sn_u, transpose_a=True))
      u = _l2_normalize(tf.linalg.matvec(w_sg, v))
      self.sn_u.assign(u)
      self.sn_v.assign(v)
    u = tf.stop_gradient(tf.convert_to_tensor(self.sn_u))
    v = tf.stop_gradient(tf.convert_to_tensor(self.sn_v))
    return tf.tensordot(u, tf.linalg.matvec(w, v), 1)

  def call(self, inputs, training=None):
    kernel = self.kernel / self.sigma(bool(training))
    kernel = tf.cast(kernel, self.compute_dtype)
    bias = tf.cast(self.bias, self.compute_dtype)
    if self.from_vector:
      return tf.einsum("bi,hwio->bhwo", inputs, kernel) + bias
    return tf.nn.conv2d(inputs, kernel, self.strides, self.padding) + bias


class VectorTo4x4(keras.layers.Layer):
  """The reference's ConvTranspose2d(in -> out, 4x4, stride 1, pad 0) on a (B, in, 1, 1) input.

  On a 1x1 input a transposed conv is exactly a per-position linear map, so it is computed as one
  einsum: float [B, in] -> [B, 4, 4, out]. Initialisation uses PyTorch's transposed-conv fan_in
  (out * 16) for weight and bias, so parameter values and counts match the reference.
  """

  def __init__(self, filters: int, in_channels: int, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.in_channels = int(in_channels)

  def build(self, input_shape):
    fan_in = self.filters * 16
    self.kernel = self.add_weight(name="kernel", shape=(4, 4, self.in_channels, self.filters),
                                  initializer=torch_uniform(fan_in))
    self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                initializer=torch_uniform(fan_in))

  def call(self, inputs):
    kernel = tf.cast(self.kernel, self.compute_dtype)
    return tf.einsum("bi,hwio->bhwo", inputs, kernel) + tf.cast(self.bias, self.compute_dtype)


def vector_to_4x4(filters: int, in_channels: int, *, spectral_norm: bool,
                  name: str) -> keras.layers.Layer:
  """The 4x4 transposed conv of G's input block, spectrally normalised or not."""
  if spectral_norm:
    return SpectralNormConv2D(filters, 4, in_channels, from_vector=True, name=name)
  return VectorTo4x4(filters, in_channels, name=name)


def conv2d(filters: int, kernel_size: int, in_channels: int, *, spectral_norm: bool,
           strides: int = 1, padding: str = "same", name: str | None = None) -> keras.layers.Layer:
  """A conv with PyTorch init, spectrally normalised (PyTorch semantics) or plain."""
  if spectral_norm:
    return SpectralNormConv2D(filters, kernel_size, in_channels, strides=strides,
                              padding=padding, name=name)
  return torch_conv2d(filters, kernel_size, in_channels, strides=strides, padding=padding,
                      name=name)


class ConvBlock(BuiltOnFirstCall, keras.layers.Layer):
  """conv 3x3 (same) -> BatchNorm -> LeakyReLU(0.1).

  float [B, H, W, in] -> [B, H, W, out].
  """

  def __init__(self, in_channels: int, out_channels: int, *, spectral_norm: bool = False,
               **kwargs):
    super().__init__(**kwargs)
    self.conv = conv2d(out_channels, 3, in_channels, spectral_norm=spectral_norm, name="conv")
    self.bn = batch_norm("bn")
    self.act = keras.layers.LeakyReLU(negative_slope=0.1)

  def call(self, x, training=None):
    return self.act(self.bn(self.conv(x, training=training), training=training))


class UpBlock(ConvBlock):
  """2x upsample -> ConvBlock (conv 3x3 (same) -> BatchNorm -> LeakyReLU(0.1)).

  float [B, H, W, in] -> [B, 2H, 2W, out]. Upsampling is nearest-neighbour (the released code) or
  bilinear (the paper's text).
  """

  def __init__(self, in_channels: int, out_channels: int, *, spectral_norm: bool = False,
               upsample: str = "nearest", **kwargs):
    super().__init__(in_channels, out_channels, spectral_norm=spectral_norm, **kwargs)
    self.up = keras.layers.UpSampling2D(2, interpolation=upsample)

  def call(self, x, training=None):
    return super().call(self.up(x), training=training)


class DownBlock(BuiltOnFirstCall, keras.layers.Layer):
  """conv 3x3 (same) -> BatchNorm -> AvgPool 2x2 -> LeakyReLU(0.2) (pool before activation).

  float [B, H, W, in] -> [B, H/2, W/2, out]. with_batch_norm=False leaves the BatchNorm out
  (InfoGAN-CR's D has none; its conv bias then stays the only shift).
  """

  def __init__(self, in_channels: int, out_channels: int, *, spectral_norm: bool = False,
               with_batch_norm: bool = True, **kwargs):
    super().__init__(**kwargs)
    self.conv = conv2d(out_channels, 3, in_channels, spectral_norm=spectral_norm, name="conv")
    self.bn = batch_norm("bn") if with_batch_norm else None
    self.pool = keras.layers.AveragePooling2D(2)
    self.act = keras.layers.LeakyReLU(negative_slope=0.2)

  def call(self, x, training=None):
    x = self.conv(x, training=training)
    if self.bn is not None:
      x = self.bn(x, training=training)
    return self.act(self.pool(x))


class ChannelAttention(BuiltOnFirstCall, keras.layers.Layer):
  """The compete-free G's gain on the z features: Linear(C->F) -> ReLU -> Linear(F->F), times F.

  float [B, C] -> [B, 1, 1, F]. As in the released code there is no squashing: the "mask" is an
  unbounded per-sample, per-channel gain, scaled by the constant F (std ~45 at init for F = 256).
  """

  def __init__(self, c_dim: int, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)
    self.fc1 = torch_dense(channels, c_dim, name="fc1")
    self.fc2 = torch_dense(channels, channels, name="fc2")

  def call(self, c):
    gain = self.fc2(tf.nn.relu(self.fc1(c))) * float(self.channels)
    return gain[:, None, None, :]


class OrthogonalDepthwiseConv2D(keras.layers.Layer):
  """The Q head's orthogonal grouped conv: 4x4, stride 2, pad 1, groups = channels.

  With one input and one output channel per group a grouped conv is exactly a depthwise conv.
  float [B, 8, 8, C'] -> [B, 4, 4, C']. PyTorch init with fan_in = 16. Its C' kernels (16 values
  each) are the rows of the orthogonality loss.
  """

  def __init__(self, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)

  def build(self, input_shape):
    fan_in = 16
    self.kernel = self.add_weight(name="kernel", shape=(4, 4, self.channels, 1),
                                  initializer=torch_uniform(fan_in))
    self.bias = self.add_weight(name="bias", shape=(self.channels,),
                                initializer=torch_uniform(fan_in))

  def orthogonal_rows(self) -> tf.Tensor:
    """float32 [C', 16]: one row per channel's 4x4 kernel."""
    return tf.transpose(tf.reshape(self.kernel, (16, self.channels)))

  def call(self, x):
    # For a 4x4 stride-2 kernel on an even input, TF's SAME pads 1 on each side: the
    # reference's padding=1.
    kernel = tf.cast(self.kernel, self.compute_dtype)
    y = tf.nn.depthwise_conv2d(x, kernel, strides=[1, 2, 2, 1], padding="SAME")
    return y + tf.cast(self.bias, self.compute_dtype)


class OrthogonalConv2D(keras.layers.Layer):
  """The paper's first orthogonal-group conv of Q: 3x3, stride 1, same padding, F -> C', bias.

  float [B, H, W, F] -> [B, H, W, C']. PyTorch init with fan_in = 9F. F is not a multiple of C'
  in general, so the groups are the output filters: each of the C' filters (9F values) is one
  row of the orthogonality loss ("the cosine similarity between every kernel").
  """

  def __init__(self, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)

  def build(self, input_shape):
    fan_in = 9 * int(input_shape[-1])
    self.kernel = self.add_weight(name="kernel", shape=(3, 3, int(input_shape[-1]), self.channels),
                                  initializer=torch_uniform(fan_in))
    self.bias = self.add_weight(name="bias", shape=(self.channels,),
                                initializer=torch_uniform(fan_in))

  def orthogonal_rows(self) -> tf.Tensor:
    """float32 [C', 9F]: one row per output filter."""
    return tf.transpose(tf.reshape(self.kernel, (-1, self.channels)))

  def call(self, x):
    kernel = tf.cast(self.kernel, self.compute_dtype)
    y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    return y + tf.cast(self.bias, self.compute_dtype)


class SpatialReadout(keras.layers.Layer):
  """The Q head's orthogonal "transform": q_k = (1/s^2) sum_{h,w} T[h, w, k] * f[b, h, w, k].

  float [B, s, s, C'] -> [B, C'] (s = 4 in the released code, 2 in the paper's Q). T ~ N(0, 1),
  no bias. Its C' spatial maps are the rows of the orthogonality loss.
  """

  def __init__(self, channels: int, size: int = 4, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)
    self.size = int(size)

  def build(self, input_shape):
    self.transform = self.add_weight(name="transform", shape=(self.size, self.size, self.channels),
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0))

  def orthogonal_rows(self) -> tf.Tensor:
    """float32 [C', s*s]: one row per output's spatial weight map."""
    return tf.transpose(tf.reshape(self.transform, (self.size * self.size, self.channels)))

  def call(self, f):
    t = tf.cast(self.transform, self.compute_dtype)
    return tf.reduce_mean(f * t, axis=[1, 2])
