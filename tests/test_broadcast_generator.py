"""The spatial broadcast generators (--g_type=broadcast and its compete-free variant
--g_type=oogan_broadcast): shapes, coordinates, z's gate, export."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.models import Generator, ModelConfig
from oogan_tf.models.generator import BROADCAST_LAYERS, centred_codes, coordinate_channels
from tiny import TINY_MODEL, write_uncalibrated_export

CFG = ModelConfig(image_size=32, c_dim=5, z_dim=5, g_type="broadcast", ngf=4, ndf=4)


def count_params(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


def test_coordinate_channels_are_pixel_centres_x_then_y():
  grid = coordinate_channels(2, 4, tf.float32).numpy()
  assert grid.shape == (2, 4, 4, 2)
  ticks = np.array([-0.75, -0.25, 0.25, 0.75], np.float32)
  np.testing.assert_allclose(grid[1, 2, :, 0], ticks)  # channel 0 runs along a row (x)
  np.testing.assert_allclose(grid[1, :, 3, 1], ticks)  # channel 1 runs down a column (y)
  np.testing.assert_allclose(grid[0, :, 1, 0], np.full(4, -0.25))


def test_shapes_and_parameter_count():
  g = Generator(CFG).build_for()
  width, c_in = 2 * 4, 5 + 5 + 2  # 2 ngf; [c, z, x, y]
  assert g.num_up_blocks == 0
  block = g.input_block
  assert tuple(block.conv0.conv.kernel.shape) == (3, 3, c_in, width)
  conv = lambda i, o: 9 * i * o + o + 2 * o  # 3x3 conv with bias + BN scale and offset
  expected = conv(c_in, width) + (BROADCAST_LAYERS - 1) * conv(width, width)
  assert count_params(block.trainable_variables) == expected
  assert count_params(g.to_image.trainable_variables) == width + 1
  c = tf.random.stateless_uniform((3, 5), (1, 2))
  z = tf.random.stateless_normal((3, 5), (3, 4))
  images = g((c, z), training=True).numpy()
  assert images.shape == (3, 32, 32, 1) and images.dtype == np.float32
  assert np.abs(images).max() < 1.0


def _tiled(v):
  """float [B, V] -> [B, 32, 32, V + 2]: v at every pixel, then x and y."""
  x = tf.tile(v[:, None, None, :], [1, 32, 32, 1])
  return tf.concat([x, coordinate_channels(v.shape[0], 32, tf.float32)], axis=-1)


def _inputs(c, z):
  """The broadcast block's input for (c, z): the centred codes and z tiled, then x and y."""
  return _tiled(tf.concat([centred_codes(c, 5), z], axis=-1))


def test_the_first_layer_reads_x_from_the_second_to_last_input_channel():
  g = Generator(CFG).build_for()
  block = g.input_block
  c = tf.random.stateless_uniform((2, 5), (5, 6))
  z = tf.random.stateless_normal((2, 5), (7, 8))
  kernel = block.conv0.conv.kernel
  original = kernel.numpy()
  # The block's own input equals the tiled codes plus coordinates: its output matches a manual
  # pass through the first ConvBlock and the rest.
  manual = _inputs(c, z)
  for i in range(BROADCAST_LAYERS):
    manual = getattr(block, f"conv{i}")(manual, training=False)
  np.testing.assert_allclose(block((c, z), training=False).numpy(), manual.numpy(), atol=1e-5)
  # Without the y weights, interior pixels of one column agree and pixels of one row do not.
  no_y = original.copy()
  no_y[:, :, -1, :] = 0.0
  kernel.assign(no_y)
  out = block.conv0(_inputs(c, z), training=False).numpy()[:, 1:-1, 1:-1, :]
  np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape), atol=1e-5)
  assert np.abs(out[:, :, 1:] - out[:, :, :1]).max() > 1e-3
  # Without both coordinate weights, every interior pixel agrees: position comes only from them.
  no_xy = no_y.copy()
  no_xy[:, :, -2, :] = 0.0
  kernel.assign(no_xy)
  out = block.conv0(_inputs(c, z), training=False).numpy()[:, 1:-1, 1:-1, :]
  np.testing.assert_allclose(out, np.broadcast_to(out[:, :1, :1], out.shape), atol=1e-5)


CF = dataclasses.replace(CFG, g_type="oogan_broadcast")


def test_compete_free_shapes_and_parameter_count():
  g = Generator(CF).build_for()
  width = 2 * 4
  block = g.input_block
  assert g.num_up_blocks == 0
  assert tuple(block.conv0.conv.kernel.shape) == (3, 3, 5 + 2, width)  # [c, x, y]
  assert tuple(block.z_dense.kernel.shape) == (5, width)  # z only: no coordinates
  conv = lambda i, o: 9 * i * o + o + 2 * o
  attention = (5 * width + width) + (width * width + width)
  z_path = 5 * width + width + 2 * width  # dense with bias + BN scale and offset
  expected = (conv(5 + 2, width) + z_path + attention
              + (BROADCAST_LAYERS - 1) * conv(width, width))
  assert count_params(block.trainable_variables) == expected
  images = g((tf.random.stateless_uniform((3, 5), (1, 2)),
              tf.random.stateless_normal((3, 5), (3, 4))), training=True).numpy()
  assert images.shape == (3, 32, 32, 1) and np.abs(images).max() < 1.0


def test_compete_free_first_layer_is_c_path_plus_gated_z_path():
  block = Generator(CF).build_for().input_block
  c = tf.random.stateless_uniform((2, 5), (5, 6))
  z = tf.random.stateless_normal((2, 5), (7, 8))
  cc = centred_codes(c, 5)
  bz = block.z_bn(block.z_dense(z)[:, None, None, :], training=False)
  manual = (block.conv0(_tiled(cc), training=False)
            + block.attention(cc) * tf.nn.leaky_relu(bz, 0.1))
  for i in range(1, BROADCAST_LAYERS):
    manual = getattr(block, f"conv{i}")(manual, training=False)
  np.testing.assert_allclose(block((c, z), training=False).numpy(), manual.numpy(), atol=1e-4)


def test_compete_free_z_reaches_the_image_only_through_cs_gain():
  g = Generator(CF).build_for()
  c = tf.random.stateless_uniform((2, 5), (9, 10))
  z1 = tf.random.stateless_normal((2, 5), (11, 12))
  z2 = tf.random.stateless_normal((2, 5), (13, 14))
  differs = lambda: np.abs(g((c, z1), training=False).numpy()
                           - g((c, z2), training=False).numpy()).max()
  assert differs() > 1e-4
  # z's term is the same at every pixel: the first layers for z1 and z2 differ by one vector.
  block = g.input_block
  cc = centred_codes(c, 5)
  gap = (block.first_layer(cc, z1, training=False) - block.first_layer(cc, z2, training=False))
  np.testing.assert_allclose(gap.numpy(), np.broadcast_to(gap.numpy()[:, :1, :1], gap.shape),
                             atol=1e-4)
  fc2 = g.input_block.attention.fc2
  for v in fc2.trainable_variables:
    v.assign(tf.zeros_like(v))  # gain 0 for every c
  assert differs() == 0.0


def test_compete_free_needs_a_z_path():
  with pytest.raises(ValueError, match="z_dim=0 is not allowed with g_type='oogan_broadcast'"):
    dataclasses.replace(CF, z_dim=0)


@pytest.mark.parametrize("g_type", ["broadcast", "oogan_broadcast"])
def test_export_samples_and_encodes(tmp_path, g_type):
  model = dataclasses.replace(TINY_MODEL, g_type=g_type)
  loaded = tf.saved_model.load(write_uncalibrated_export(tmp_path / "export", model))
  out = loaded.signatures["sample_from_seed"](seed=tf.constant(3, tf.int64),
                                              num=tf.constant(5, tf.int32))
  assert out["images"].shape == (5, 32, 32, 1)
  codes = loaded.signatures["encode"](images=out["images"])
  assert codes["c_mean"].shape == (5, TINY_MODEL.c_dim)
