"""BatchNorm with PyTorch's statistics semantics, fused kernels and a cheap second derivative.

Keras 3's BatchNormalization builds training-mode moments from ~10 separate float32 ops per call;
on a 2-core CPU that was 20% of a float32 and over half of a bfloat16 OOGAN iteration. Here
training mode runs TensorFlow's fused kernels (FusedBatchNormV3 / FusedBatchNormGradV3: oneDNN on
CPU, cuDNN on GPU). The gradient penalty differentiates D twice, and TF's registered gradient of
FusedBatchNormGradV3 re-derives the backward pass from composite ops and differentiates those
with a tape; `_bn_backward` replaces it with the closed form below (on a [64, 32, 32, 128] bfloat16
activation, forward + backward + second derivative took 0.20-0.21 s instead of 0.38-0.42 s on the
2-core dev CPU, measured while a training job shared it).

Second derivative. Per channel, over the N = B*H*W positions, with r = (var + eps)^-1/2,
x^ = (x - mean) r and g the upstream gradient of y = gamma x^ + beta, the backward pass is
    dx = gamma r (g - mean(g) - x^ mean(g x^)),   dgamma = sum(g x^),   dbeta = sum(g).
For upstream gradients (a, b, c) of (dx, dgamma, dbeta), with S = sum(a x^), M = sum(g x^),
A0 = sum(a g) - N mean(a) mean(g) and k = gamma r / N:
    d gamma = r (A0 - S M / N)
    d g     = gamma r (a - mean(a) - x^ S / N) + b x^ + c
    d x     = r (u - mean(u) - x^ mean(u x^)) - x^ k d_gamma,   u = b g - k (a M + S g)
(d x includes the dependence of mean and r on x; the test suite checks all three against autodiff
of the plain formula.)
"""

from __future__ import annotations

import keras
import tensorflow as tf

_AXES = (0, 1, 2)


def _unless_zero(t):
  """None for an upstream gradient TF filled with constant zeros (an unused path), else t."""
  if t is None:
    return None
  value = tf.get_static_value(t)
  return None if value is not None and not value.any() else t


def _second_order(dy, x, gamma, mean, variance, a, b, c, epsilon):
  """The closed form of the module docstring; a, b, c may be None (no upstream on that path).

  Written so that every per-channel quantity is reduced first and each full-size output is one
  short chain: mean(u) = b mean(g) - k (mean(a) M + S mean(g)) and mean(u x^) = (b - 2 k S) M / N
  follow from the sums, so u itself is never materialised.
  """
  # Float32 throughout, as TF's own batch-norm gradients (bf16/fp16 sums are too coarse).
  g = tf.cast(dy, tf.float32)
  n = tf.cast(tf.reduce_prod(tf.shape(g)[:3]), tf.float32)
  r = tf.math.rsqrt(variance + epsilon)
  x_hat = (tf.cast(x, tf.float32) - mean) * r
  m = tf.reduce_sum(g * x_hat, _AXES)
  mean_g = tf.reduce_mean(g, _AXES)
  k = gamma * r / n
  b = tf.zeros_like(gamma) if b is None else b
  # d_x = a p + g q - x^ alpha - beta; d_g = a (gamma r) - x^ delta + offset.
  q = r * b
  alpha = r * b * m / n
  beta = r * b * mean_g
  delta = -b
  offset = tf.zeros_like(gamma) if c is None else c
  if a is None:
    d_gamma = tf.zeros_like(gamma)
    d_g = offset - x_hat * delta
    d_x = g * q - x_hat * alpha - beta
  else:
    a = tf.cast(a, tf.float32)
    sum_a = tf.reduce_sum(a, _AXES)
    s = tf.reduce_sum(a * x_hat, _AXES)
    d_gamma = r * (tf.reduce_sum(a * g, _AXES) - sum_a * mean_g - s * m / n)
    q -= r * k * s
    alpha += r * (-2.0 * k * s * m / n) + k * d_gamma
    beta -= r * k * (sum_a / n * m + s * mean_g)
    delta += gamma * r * s / n
    offset -= gamma * r * sum_a / n
    d_g = a * (gamma * r) - x_hat * delta + offset
    d_x = a * (-r * k * m) + g * q - x_hat * alpha - beta
  return tf.cast(d_g, dy.dtype), tf.cast(d_x, x.dtype), d_gamma


def _bn_backward(dy, x, gamma, reserve, mean, variance, epsilon):
  """(dx, dgamma, dbeta) of training-mode BN by the fused kernel, with a closed-form gradient.

  dy, x: [B, H, W, C] in the compute dtype; gamma, mean, variance (biased): float32 [C];
  reserve: the forward's three reserve-space tensors (device-specific layout).
  """

  @tf.custom_gradient
  def backward(dy, x, gamma):
    dx, dgamma, dbeta, _, _ = tf.raw_ops.FusedBatchNormGradV3(
        y_backprop=dy, x=x, scale=gamma, reserve_space_1=reserve[0], reserve_space_2=reserve[1],
        reserve_space_3=reserve[2], epsilon=epsilon, data_format="NHWC", is_training=True)

    def second_order(a, b, c):
      # Gradient functions lose the caller's name scope; this one keeps them findable in profiles.
      with tf.name_scope("bn_second_order"):
        return _second_order(dy, x, gamma, mean, variance, _unless_zero(a), _unless_zero(b),
                             _unless_zero(c), epsilon)

    return (dx, dgamma, dbeta), second_order

  return backward(dy, x, gamma)


def fused_batch_norm_training(x, gamma, beta, epsilon):
  """Training-mode BN of x [B, H, W, C] (float32/bfloat16/float16) over B, H, W.

  gamma, beta: float32 [C]. Returns (y like x, batch mean float32 [C], unbiased batch variance
  float32 [C] for the running statistic). Differentiable twice with respect to x, gamma and beta.
  """

  @tf.custom_gradient
  def forward(x, gamma, beta):
    empty = tf.constant([], tf.float32)
    y, mean, unbiased, *reserve = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=epsilon,
        exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
    n = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
    biased = unbiased * (n - 1.0) / n

    def backward(dy, unused_dmean, unused_dvariance):
      # The batch statistics only feed the running averages, never a loss.
      with tf.name_scope("bn_backward"):
        return _bn_backward(dy, x, gamma, reserve, tf.stop_gradient(mean),
                            tf.stop_gradient(biased), epsilon)

    return (y, mean, unbiased), backward

  return forward(x, gamma, beta)


class BatchNorm(keras.layers.BatchNormalization):
  """BatchNorm over the channels of [B, H, W, C] with torch.nn.BatchNorm2d's semantics.

  Training mode normalises with the batch mean and biased variance and moves the running mean and
  the *unbiased* variance by `1 - momentum`, as PyTorch does. On one replica it runs the fused
  kernels above; with `synchronized` (several replicas) the moments are all-reduced across
  replicas instead. Inference uses the running statistics. Variables, and therefore checkpoints,
  are Keras BatchNormalization's.

  inputs: float [B, H, W, C] (compute dtype) -> same shape and dtype.
  """

  def call(self, inputs, training=None, mask=None):
    if mask is not None:
      raise ValueError("BatchNorm does not support masks")
    if not (training and self.trainable):
      return super().call(inputs, training=False)
    if len(inputs.shape) != 4 or self.axis not in (-1, 3):
      raise ValueError(f"BatchNorm expects channels-last [B, H, W, C] inputs, got {inputs.shape}")
    gamma = tf.convert_to_tensor(self.gamma)
    beta = tf.convert_to_tensor(self.beta)
    if self.synchronized:
      x = tf.cast(inputs, tf.float32)
      mean, variance = keras.ops.moments(x, axes=list(_AXES), synchronized=True)
      outputs = tf.cast(tf.nn.batch_normalization(x, mean, variance, beta, gamma, self.epsilon),
                        inputs.dtype)
      replicas = tf.distribute.get_replica_context().num_replicas_in_sync
      count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]) * replicas, tf.float32)
      unbiased_variance = variance * count / tf.maximum(count - 1.0, 1.0)
    else:
      outputs, mean, unbiased_variance = fused_batch_norm_training(inputs, gamma, beta,
                                                                   self.epsilon)
    self.moving_mean.assign(self.momentum * self.moving_mean + (1.0 - self.momentum) * mean)
    self.moving_variance.assign(self.momentum * self.moving_variance
                                + (1.0 - self.momentum) * unbiased_variance)
    return outputs
