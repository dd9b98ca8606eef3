"""BatchNorm: PyTorch statistics semantics, fused kernels, closed-form second derivative."""

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.models import layers
from oogan_tf.models.batch_norm import fused_batch_norm_training


def _numpy_batch_norm(x, gamma, beta, eps):
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _bn_and_input(seed=0):
  rng = np.random.default_rng(seed)
  x = tf.constant(rng.normal(1.0, 3.0, size=(8, 4, 4, 5)).astype("float32"))
  bn = layers.batch_norm("bn")
  bn.build(x.shape)
  bn.gamma.assign(rng.normal(size=5).astype("float32"))
  bn.beta.assign(rng.normal(size=5).astype("float32"))
  return bn, x, tf.constant(rng.normal(size=(8, 4, 4, 5)).astype("float32"))


def test_batch_norm_training_matches_pytorch_semantics():
  bn, x, _ = _bn_and_input()
  y = bn(x, training=True)
  xn = x.numpy()
  np.testing.assert_allclose(
      y.numpy(), _numpy_batch_norm(xn, bn.gamma.numpy(), bn.beta.numpy(), 1e-5), atol=1e-5)
  # Running statistics move by 0.1 towards the batch mean and the *unbiased* batch variance.
  flat = xn.reshape(-1, 5)
  np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * flat.mean(0), atol=1e-6)
  np.testing.assert_allclose(bn.moving_variance.numpy(), 0.9 + 0.1 * flat.var(0, ddof=1),
                             rtol=1e-5)
  # Inference uses the running statistics.
  expected = ((xn - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-5)
              * bn.gamma.numpy() + bn.beta.numpy())
  np.testing.assert_allclose(bn(x, training=False).numpy(), expected, atol=1e-5)


def _second_derivatives(fn, x, gamma, beta, w, weights):
  """Gradients of a penalty on (dx, dgamma, dbeta) of sum(fn(x, gamma, beta) * w)."""
  with tf.GradientTape() as outer:
    outer.watch([x, gamma, beta, w])
    with tf.GradientTape() as inner:
      inner.watch([x, gamma, beta])
      score = tf.reduce_sum(tf.sin(fn(x, gamma, beta)) * w)
    dx, dgamma, dbeta = inner.gradient(score, [x, gamma, beta])
    penalty = (weights[0] * tf.reduce_sum(tf.square(dx)) + weights[1] * tf.reduce_sum(dgamma ** 3)
               + weights[2] * tf.reduce_sum(tf.cos(dbeta)))
  return [dx, dgamma, dbeta] + outer.gradient(penalty, [x, gamma, w])


@pytest.mark.parametrize("weights", [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0),
                                     (1.0, 0.5, 2.0)])
def test_fused_batch_norm_second_derivatives_match_autodiff_of_the_plain_formula(weights):
  # The gradient penalty differentiates through BN twice; the closed-form second derivative must
  # equal autodiff of the plain formula (batch mean, biased variance) on every path: through dx
  # (a), dgamma (b) and dbeta (c), into x, gamma and the upstream gradient (w).
  rng = np.random.default_rng(1)
  x = tf.constant(rng.normal(1.0, 3.0, size=(6, 3, 4, 5)))
  gamma, beta = tf.constant(rng.normal(size=5)), tf.constant(rng.normal(size=5))
  w = tf.constant(rng.normal(size=(6, 3, 4, 5)))
  f32 = lambda t: tf.cast(t, tf.float32)

  def fused(v, g, b):
    return fused_batch_norm_training(v, g, b, 1e-5)[0]

  def plain(v, g, b):
    mean, var = tf.nn.moments(v, axes=[0, 1, 2])
    return tf.nn.batch_normalization(v, mean, var, b, g, 1e-5)

  got = _second_derivatives(fused, f32(x), f32(gamma), f32(beta), f32(w), weights)
  want = _second_derivatives(plain, x, gamma, beta, w, weights)  # float64 reference
  for name, a, b in zip(["dx", "dgamma", "dbeta", "d/dx", "d/dgamma", "d/dw"], got, want):
    assert a is not None and b is not None, name
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-3, atol=2e-4, err_msg=name)


def test_batch_norm_runs_in_bfloat16():
  bn, x, _ = _bn_and_input(2)
  y = bn(tf.cast(x, tf.bfloat16), training=True)
  assert y.dtype == tf.float32  # the layer's float32 policy casts inputs back
  bn_bf16 = layers.BatchNorm(momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")
  out = bn_bf16(x, training=True)
  assert out.dtype == tf.bfloat16
  np.testing.assert_allclose(out.numpy().astype("float32"),
                             _numpy_batch_norm(x.numpy(), 1.0, 0.0, 1e-5), atol=0.05)


def test_batch_norm_rejects_non_image_input():
  bn = layers.batch_norm("bn")
  with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
    bn(tf.zeros((4, 3)), training=True)
