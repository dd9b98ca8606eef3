"""Spectral norm semantics, PyTorch init and the orthogonal layers / private optimiser."""

import math

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.models import Discriminator, ModelConfig, OrthogonalRegularizer
from oogan_tf.models import layers


def test_spectral_norm_converges_to_largest_singular_value_and_keeps_raw_kernel():
  layer = layers.SpectralNormConv2D(6, 3, 4, name="sn")
  x = tf.random.normal((2, 5, 5, 4))
  layer(x, training=False)
  raw = layer.kernel.numpy().copy()
  for _ in range(60):
    layer(x, training=True)
  np.testing.assert_array_equal(layer.kernel.numpy(), raw)
  w_mat = raw.reshape(-1, 6).T
  expected = np.linalg.svd(w_mat, compute_uv=False)[0]
  assert abs(float(layer.sigma(training=False)) - expected) < 1e-3
  # The forward pass convolves with W / sigma.
  out = layer(x, training=False)
  ref = tf.nn.conv2d(x, raw / float(layer.sigma(training=False)), 1, "SAME") + layer.bias
  np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-5)


def test_spectral_norm_inference_does_not_move_u():
  layer = layers.SpectralNormConv2D(3, 1, 2)
  x = tf.random.normal((2, 4, 4, 2))
  layer(x, training=False)
  u = layer.sn_u.numpy().copy()
  layer(x, training=False)
  np.testing.assert_array_equal(layer.sn_u.numpy(), u)
  layer(x, training=True)
  assert not np.allclose(layer.sn_u.numpy(), u)


def test_spectral_norm_gradient_flows_through_sigma():
  layer = layers.SpectralNormConv2D(3, 1, 3)
  x = tf.random.normal((2, 2, 2, 3))
  layer(x, training=True)
  with tf.GradientTape() as tape:
    sigma = layer.sigma(training=False)
  grad = tape.gradient(sigma, layer.kernel)
  # d sigma / d W = u v^T (reshaped) when u, v are held constant.
  u, v = layer.sn_u.numpy(), layer.sn_v.numpy()
  expected = np.outer(u, v).T.reshape(layer.kernel.shape)
  np.testing.assert_allclose(grad.numpy(), expected, atol=1e-6)


def test_torch_uniform_bounds():
  layer = layers.torch_conv2d(8, 3, 5)
  layer.build((None, 4, 4, 5))
  bound = 1 / math.sqrt(5 * 9)
  for v in (layer.kernel, layer.bias):
    assert float(tf.reduce_max(tf.abs(v))) <= bound
  assert float(tf.reduce_max(tf.abs(layer.kernel))) > 0.8 * bound
  dw = layers.OrthogonalDepthwiseConv2D(12)
  dw.build((None, 8, 8, 12))
  assert float(tf.reduce_max(tf.abs(dw.kernel))) <= 0.25 + 1e-7


def test_vector_to_4x4_equals_transposed_conv():
  layer = layers.VectorTo4x4(5, 3)
  c = tf.random.normal((2, 3))
  out = layer(c)
  ref = tf.nn.conv2d_transpose(tf.reshape(c, (2, 1, 1, 3)),
                               tf.transpose(layer.kernel, (0, 1, 3, 2)), (2, 4, 4, 5), 1,
                               "VALID") + layer.bias
  np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-5)


def test_orthogonal_depthwise_pads_one_on_each_side():
  layer = layers.OrthogonalDepthwiseConv2D(2)
  x = tf.random.normal((1, 8, 8, 2))
  y = layer(x)
  assert y.shape == (1, 4, 4, 2)
  # Output (0, 0) sees input rows/cols -1..2, i.e. zero padding of exactly one.
  k = layer.kernel.numpy()[..., 0]
  xp = np.pad(x.numpy()[0], ((1, 1), (1, 1), (0, 0)))
  expected = (xp[0:4, 0:4, :] * k).sum(axis=(0, 1)) + layer.bias.numpy()
  np.testing.assert_allclose(y.numpy()[0, 0, 0], expected, atol=1e-5)


def test_spatial_readout():
  layer = layers.SpatialReadout(3)
  f = tf.random.normal((2, 4, 4, 3))
  q = layer(f)
  expected = (f.numpy() * layer.transform.numpy()[None]).sum(axis=(1, 2)) / 16
  np.testing.assert_allclose(q.numpy(), expected, atol=1e-5)


def test_private_step_lowers_orthogonality_and_moves_only_orthogonal_kernels():
  cfg = ModelConfig(image_size=32, c_dim=4, z_dim=4, ndf=4, ngf=4)
  d = Discriminator(cfg).build_for()
  reg = OrthogonalRegularizer(d.orthogonal_layers)
  others = {id(v): v.numpy().copy() for v in d.trainable_variables
            if all(v is not r for r in reg.variables)}
  before = [float(x) for x in reg.current_losses()]
  for _ in range(20):
    reg.step()
  after = [float(x) for x in reg.current_losses()]
  assert all(a < b for a, b in zip(after, before))
  for v in d.trainable_variables:
    if id(v) in others:
      np.testing.assert_array_equal(v.numpy(), others[id(v)])
  assert [opt.learning_rate.numpy() for opt in reg.optimizers] == pytest.approx([1e-5, 1e-4])


def test_disabled_regularizer_reports_but_does_not_step():
  cfg = ModelConfig(image_size=32, c_dim=4, z_dim=4, ndf=4, ngf=4)
  d = Discriminator(cfg).build_for()
  reg = OrthogonalRegularizer(d.orthogonal_layers, enabled=False)
  before = [v.numpy().copy() for v in reg.variables]
  values = reg.step()
  assert len(values) == 2
  for v, b in zip(reg.variables, before):
    np.testing.assert_array_equal(v.numpy(), b)


def test_infogan_q_has_no_orthogonal_layers():
  cfg = ModelConfig(image_size=32, c_dim=4, z_dim=4, ndf=4, ngf=4, q_type="infogan")
  assert Discriminator(cfg).build_for().orthogonal_layers == []



def test_kernel_and_bias_are_drawn_independently():
  # A shared unseeded Keras initializer made each bias a copy of its kernel's first values.
  import keras  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from oogan_tf.models import layers as L  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(0)
  conv = L.torch_conv2d(3, 3, 2)
  conv.build((None, 8, 8, 2))
  dense = L.torch_dense(4, 5)
  dense.build((None, 5))
  orth = L.OrthogonalDepthwiseConv2D(6)
  orth.build((None, 8, 8, 6))
  sn = L.SpectralNormConv2D(3, 3, 2)
  sn.build((None, 8, 8, 2))
  for layer in (conv, dense, orth, sn):
    bias = layer.bias.numpy()
    first = layer.kernel.numpy().ravel()[:bias.size]
    assert not np.allclose(bias, first), type(layer).__name__
