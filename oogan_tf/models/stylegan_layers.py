"""Layers of the StyleGAN-based OOGAN (reference-notes section 12): equalised learning rate,
pixel norm, noise injection, AdaIN, minibatch standard deviation and Q's grouped orthogonal conv.

Equalised learning rate: every weight is stored N(0, 1) and multiplied at run time by
sqrt(2 / fan_in), with fan_in = in_features (dense) or in_channels * k * k (conv); biases start at
0. Channels-last throughout; every layer computes in its compute dtype.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from oogan_tf.models.layers import BuiltOnFirstCall



def _normal() -> keras.initializers.Initializer:
  # A new initializer per weight: an unseeded Keras initializer fixes its seed when constructed
  # (from Python's RNG, which keras.utils.set_random_seed seeds), so one shared instance would
  # give every weight of the same shape the same values, whatever the run's seed.
  return keras.initializers.RandomNormal(0.0, 1.0)


def leaky_relu(x: tf.Tensor) -> tf.Tensor:
  """LeakyReLU with StyleGAN's slope 0.2."""
  return tf.nn.leaky_relu(x, 0.2)


def pixel_norm(x: tf.Tensor, eps: float = 1e-8) -> tf.Tensor:
  """x / sqrt(mean(x^2 over the last axis) + eps): float [B, D] -> [B, D]."""
  return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + eps)


class EqualDense(keras.layers.Layer):
  """Dense layer with equalised learning rate: float [B, D_in] -> [B, units].

  Args: units; bias_init: the bias' initial value (AdaIN's style layer starts gamma at 1).
  """

  def __init__(self, units: int, bias_init: float | list[float] = 0.0, **kwargs):
    super().__init__(**kwargs)
    self.units = int(units)
    self.bias_init = bias_init

  def build(self, input_shape):
    fan_in = int(input_shape[-1])
    self.scale = math.sqrt(2.0 / fan_in)
    self.kernel = self.add_weight(name="kernel", shape=(fan_in, self.units), initializer=_normal())
    init = self.bias_init
    self.bias = self.add_weight(
        name="bias", shape=(self.units,),
        initializer=lambda shape, dtype=None: tf.broadcast_to(tf.constant(init, tf.float32), shape))

  def call(self, x):
    kernel = tf.cast(self.kernel * self.scale, self.compute_dtype)
    return tf.matmul(x, kernel) + tf.cast(self.bias, self.compute_dtype)


class EqualConv2D(keras.layers.Layer):
  """Conv with equalised learning rate, stride 1: float [B, H, W, C_in] -> [B, H', W', filters].

  padding "same" (3x3, pad 1) or "valid" (the final 4x4 and the quirk's 4x4 pad 0).
  """

  def __init__(self, filters: int, kernel_size: int, padding: str = "same", **kwargs):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.padding = int(filters), int(kernel_size), padding.upper()

  def build(self, input_shape):
    c_in, k = int(input_shape[-1]), self.kernel_size
    self.scale = math.sqrt(2.0 / (c_in * k * k))
    self.kernel = self.add_weight(name="kernel", shape=(k, k, c_in, self.filters),
                                  initializer=_normal())
    self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

  def call(self, x):
    kernel = tf.cast(self.kernel * self.scale, self.compute_dtype)
    return tf.nn.conv2d(x, kernel, 1, self.padding) + tf.cast(self.bias, self.compute_dtype)


class CodeTo4x4(keras.layers.Layer):
  """The c path replacing StyleGAN's constant input: a 4x4 transposed conv on the 1x1 code.

  float [B, D] -> [B, 4, 4, filters]. Equalised with the transposed conv's PyTorch fan-in
  (filters * 16, not D * 16: the released code's quirk, a scale of 1/64 for 512 filters).
  """

  def __init__(self, filters: int, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)

  def build(self, input_shape):
    d = int(input_shape[-1])
    self.scale = math.sqrt(2.0 / (self.filters * 16))
    self.kernel = self.add_weight(name="kernel", shape=(d, 4, 4, self.filters),
                                  initializer=_normal())
    self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

  def call(self, code):
    kernel = tf.cast(self.kernel * self.scale, self.compute_dtype)
    return tf.einsum("bd,dhwf->bhwf", code, kernel) + tf.cast(self.bias, self.compute_dtype)


class NoiseInjection(keras.layers.Layer):
  """x + weight * noise with a per-channel weight (initially 0, equalised with fan_in = channels).

  x float [B, H, W, F] (or [B, 1, 1, F], broadcast to the noise's size); noise float [B, H, W, 1].
  """

  def build(self, input_shape):
    channels = int(input_shape[-1])
    self.scale = math.sqrt(2.0 / channels)
    self.weight = self.add_weight(name="weight", shape=(channels,), initializer="zeros")

  def call(self, x, noise):
    return x + tf.cast(self.weight * self.scale, self.compute_dtype) * tf.cast(noise, x.dtype)


class AdaIN(BuiltOnFirstCall, keras.layers.Layer):
  """Instance norm (no affine, eps 1e-5) then gamma * x + beta, (gamma, beta) = EqualDense(style).

  x float [B, H, W, F], style float [B, W_dim] -> [B, H, W, F]. gamma starts at 1, beta at 0.
  """

  def __init__(self, channels: int, **kwargs):
    super().__init__(**kwargs)
    self.channels = int(channels)
    self.style = EqualDense(2 * self.channels, bias_init=[1.0] * self.channels +
                            [0.0] * self.channels, name="style")

  def call(self, x, style):
    mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    x = (x - mean) * tf.math.rsqrt(var + 1e-5)
    gamma, beta = tf.split(self.style(style), 2, axis=-1)
    return gamma[:, None, None, :] * x + beta[:, None, None, :]


def minibatch_stddev(x: tf.Tensor) -> tf.Tensor:
  """Appends one channel: the mean over channels and positions of the per-position batch standard
  deviation (biased variance + 1e-8). float [B, H, W, F] -> [B, H, W, F + 1]."""
  _, var = tf.nn.moments(x, axes=[0])
  mean_std = tf.reduce_mean(tf.sqrt(var + 1e-8))
  shape = tf.concat([tf.shape(x)[:3], [1]], axis=0)
  return tf.concat([x, tf.fill(shape, mean_std)], axis=-1)


class GroupedOrthogonalConv(keras.layers.Layer):
  """Q's orthogonal grouped conv: 4x4 valid, F -> groups outputs, F / groups inputs per group.

  float [B, 4, 4, F] -> [B, groups]. Written as a depthwise 4x4 conv followed by a sum over each
  group's F / groups channels, which equals the grouped conv with one output per group
  (reference-notes section 14, porting notes). Equalised with fan_in = 16 F / groups. Its F
  kernels of 16 values are the rows of the orthogonality loss (512 rows of 16 in the paper).
  """

  def __init__(self, groups: int, **kwargs):
    super().__init__(**kwargs)
    self.groups = int(groups)

  def build(self, input_shape):
    channels = int(input_shape[-1])
    if channels % self.groups:
      raise ValueError(f"Q's grouped conv needs its {channels} input channels to be a multiple "
                       f"of its {self.groups} outputs")
    self.channels = channels
    self.scale = math.sqrt(2.0 / (16 * channels // self.groups))
    self.kernel = self.add_weight(name="kernel", shape=(4, 4, channels, 1), initializer=_normal())
    self.bias = self.add_weight(name="bias", shape=(self.groups,), initializer="zeros")

  def orthogonal_rows(self) -> tf.Tensor:
    """float32 [F, 16]: one row per input channel's 4x4 kernel."""
    return tf.transpose(tf.reshape(self.kernel, (16, self.channels)))

  def call(self, x):
    kernel = tf.cast(self.kernel * self.scale, self.compute_dtype)
    y = tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")
    y = tf.reduce_sum(tf.reshape(y, (-1, self.groups, self.channels // self.groups)), axis=-1)
    return y + tf.cast(self.bias, self.compute_dtype)
