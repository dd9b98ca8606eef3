"""scikit-learn's digits as a training dataset (offline, labelled)."""
import numpy as np

from oogan_tf import data
from oogan_tf.data import digits


def _batches(cfg, count, start_batch=0):
  it = iter(data.build_dataset(cfg, start_batch=start_batch))
  return [next(it).numpy() for _ in range(count)]


def test_load_gives_every_digit_with_its_label():
  images, labels = digits.load()
  assert images.shape == (1797, 8, 8) and images.dtype == np.float32
  assert images.min() == 0.0 and images.max() == 1.0
  assert labels.shape == (1797,) and set(labels.tolist()) == set(range(10))


def test_batches_shape_range_and_seeded_order():
  cfg = data.DataConfig(name="digits", image_size=32, channels=1, batch_size=16, seed=3)
  first = _batches(cfg, 3)
  assert first[0].shape == (16, 32, 32, 1) and first[0].dtype == np.float32
  assert all(b.min() >= -1.0 and b.max() <= 1.0 for b in first)
  assert first[0].min() == -1.0 and first[0].max() > 0.5  # background and ink
  np.testing.assert_array_equal(np.stack(_batches(cfg, 3)), np.stack(first))
  other = data.DataConfig(name="digits", image_size=32, channels=1, batch_size=16, seed=4)
  assert not np.array_equal(_batches(other, 1)[0], first[0])
  rgb = _batches(data.DataConfig(name="digits", image_size=64, channels=3, batch_size=4), 1)[0]
  assert rgb.shape == (4, 64, 64, 3)
  np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
  assert "load_digits" in data.describe_source(cfg)


def test_upsampling_keeps_the_image():
  images, _ = digits.load()
  x = digits.to_observations(images[:2], 32, 1).numpy()
  # Every 4x4 block of the 32 px image averages close to its 8 px source pixel.
  blocks = (x[..., 0] + 1.0) / 2.0
  blocks = blocks.reshape(2, 8, 4, 8, 4).mean(axis=(2, 4))
  assert np.abs(blocks - images[:2]).mean() < 0.08
