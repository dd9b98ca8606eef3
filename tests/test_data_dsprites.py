"""Procedural dSprites: grid, geometry, determinism, pipeline, ground truth, official-npz path."""
import numpy as np
import pytest

from oogan_tf import data
from oogan_tf.data import dsprites, dsprites_render as render


def _grid(**fixed):
  """All factor combinations with the given factors fixed (name -> class index)."""
  axes = [np.array([fixed[n]]) if n in fixed else np.arange(s)
          for n, s in zip(render.FACTOR_NAMES, render.FACTOR_SIZES)]
  return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 5)


def test_grid_size_and_ordering():
  assert render.NUM_IMAGES == 3 * 6 * 40 * 32 * 32 == 737_280
  rng = np.random.RandomState(0)
  f = np.stack([rng.randint(s, size=1000) for s in render.FACTOR_SIZES], axis=1)
  expected = 245760 * f[:, 0] + 40960 * f[:, 1] + 1024 * f[:, 2] + 32 * f[:, 3] + f[:, 4]
  np.testing.assert_array_equal(data.factors_to_indices(f), expected)
  np.testing.assert_array_equal(data.indices_to_factors(expected), f)
  np.testing.assert_array_equal(data.indices_to_factors([0, 1, 32, 737_279]),
                                [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0],
                                 [2, 5, 39, 31, 31]])
  # The rendered source's positions are the official flat indices.
  src = dsprites.RenderedSource()
  np.testing.assert_array_equal(src.images_at(expected[:8]), data.render_dsprites(f[:8]))


def test_output_is_binary_uint8():
  images = data.render_dsprites(_grid(scale=5, orientation=3, posX=7, posY=20))
  assert images.dtype == np.uint8 and images.shape == (3, 64, 64)
  assert set(np.unique(images)) == {0, 1}


@pytest.mark.parametrize("scale", range(6))
def test_square_area_per_scale(scale):
  # Averaged over sub-pixel positions and a few rotations, the pixel count is the true area.
  f = _grid(shape=0, scale=scale)[::7]
  s = render.SCALE_VALUES[scale]
  area = data.render_dsprites(f).sum(axis=(1, 2)).mean()
  assert area == pytest.approx((19.2 * s) ** 2, rel=0.02)


@pytest.mark.parametrize("scale", [0, 3, 5])
def test_ellipse_area(scale):
  f = _grid(shape=1, scale=scale)[::7]
  s = render.SCALE_VALUES[scale]
  area = data.render_dsprites(f).sum(axis=(1, 2)).mean()
  assert area == pytest.approx(np.pi * 12.8 * s * 7.2 * s, rel=0.03)


def test_square_rotated_90_degrees_is_unchanged():
  cx, cy = 16 + 32 * np.linspace(0, 1, 9), 48 - 32 * np.linspace(0, 1, 9)
  for s in render.SCALE_VALUES:
    a = data.render_shapes(np.zeros(9), s, 0.0, cx, cy)
    b = data.render_shapes(np.zeros(9), s, np.pi / 2, cx, cy)
    mismatch = np.mean(a != b)  # fraction of all pixels; only rounding on boundaries may differ
    assert mismatch < 1e-3, (s, mismatch)


def _centroids(images):
  rows, cols = np.mgrid[0:64, 0:64] + 0.5  # pixel centres
  mass = images.sum(axis=(1, 2))
  return (images * rows).sum(axis=(1, 2)) / mass, (images * cols).sum(axis=(1, 2)) / mass


@pytest.mark.parametrize("shape", [0, 1])
def test_position_moves_centroid(shape):
  # The centroid follows cx = 16 + 32/31 k (columns) and cy = 16 + 32/31 k (rows) up to
  # rasterisation, which moves a shape's edges by whole pixels (at most half a pixel of centroid).
  step = 32 / 31
  expected = 16 + step * np.arange(32)
  along_x = data.render_dsprites(_grid(shape=shape, scale=5, orientation=0, posY=10))
  rows, cols = _centroids(along_x)
  assert np.max(np.abs(cols - expected)) <= 0.51
  assert np.polyfit(np.arange(32), cols, 1)[0] == pytest.approx(step, rel=0.02)
  assert np.ptp(rows) < 0.5  # moving along x leaves the rows alone up to rasterisation
  along_y = data.render_dsprites(_grid(shape=shape, scale=5, orientation=0, posX=10))
  rows, cols = _centroids(along_y)
  assert np.max(np.abs(rows - expected)) <= 0.51
  assert np.polyfit(np.arange(32), rows, 1)[0] == pytest.approx(step, rel=0.02)
  assert np.ptp(cols) < 0.5


def test_orientation_0_and_2pi_identical():
  first = _grid(orientation=0, posX=5)
  last = first.copy()
  last[:, 2] = 39
  np.testing.assert_array_equal(data.render_dsprites(first), data.render_dsprites(last))
  # ...while intermediate orientations do change the non-symmetric heart.
  mid = first.copy()
  mid[:, 2] = 10
  heart = first[:, 0] == 2
  assert np.any(data.render_dsprites(mid[heart]) != data.render_dsprites(first[heart]))


def test_heart_is_upright_with_tip_down():
  image = data.render_dsprites([[2, 5, 0, 16, 16]])[0]
  rows, cols = np.nonzero(image)
  assert 17 <= np.ptp(cols) + 1 <= 21 and 16 <= np.ptp(rows) + 1 <= 19
  # Wide lobes on top, narrow tip at the bottom.
  assert image[rows.min() + 4].sum() > 2 * image[rows.max() - 2].sum()


def test_rendering_is_deterministic():
  rng = np.random.RandomState(1)
  f = np.stack([rng.randint(s, size=256) for s in render.FACTOR_SIZES], axis=1)
  np.testing.assert_array_equal(data.render_dsprites(f), data.render_dsprites(f.copy()))
  with pytest.raises(ValueError):
    data.render_dsprites([[3, 0, 0, 0, 0]])


@pytest.mark.parametrize("size", [32, 64])
def test_pipeline_batches(size):
  cfg = data.DataConfig(name="dsprites", image_size=size, batch_size=8, seed=3)
  batches = [b.numpy() for b in data.build_dataset(cfg).take(3)]
  for b in batches:
    assert b.shape == (8, size, size, 1) and b.dtype == np.float32
    assert set(np.unique(b)) <= {-1.0, 1.0}
  again = [b.numpy() for b in data.build_dataset(cfg).take(3)]
  np.testing.assert_array_equal(np.stack(batches), np.stack(again))
  other = next(iter(data.build_dataset(cfg.__class__(image_size=size, batch_size=8, seed=4))))
  assert np.any(other.numpy() != batches[0])
  assert "rendered" in data.describe_source(cfg)


def test_ground_truth_protocol():
  gt = data.get_ground_truth(data.DataConfig(name="dsprites", image_size=32))
  assert gt.factor_names == ("shape", "scale", "orientation", "posX", "posY")
  assert gt.factor_sizes == (3, 6, 40, 32, 32) and gt.num_factors == 5
  assert gt.observation_shape == (32, 32, 1)
  f1, o1 = gt.sample(16, np.random.RandomState(7))
  f2, o2 = gt.sample(16, np.random.RandomState(7))
  np.testing.assert_array_equal(f1, f2)
  np.testing.assert_array_equal(o1, o2)
  assert f1.dtype == np.int64 and f1.shape == (16, 5)
  assert np.all(f1 < np.asarray(gt.factor_sizes)) and np.all(f1 >= 0)
  assert o1.dtype == np.float32 and o1.shape == (16, 32, 32, 1)
  full = data.render_dsprites(f1)
  np.testing.assert_array_equal(o1[..., 0], full[:, ::2, ::2] * 2.0 - 1.0)


def _write_npz(path, rows, **overrides):
  factors = data.indices_to_factors(rows)
  classes = np.concatenate([np.zeros((len(rows), 1), np.int64), factors], axis=1)
  metadata = {"latents_names": ("color", "shape", "scale", "orientation", "posX", "posY"),
              "latents_sizes": np.array([1, 3, 6, 40, 32, 32])}
  arrays = dict(imgs=data.render_dsprites(factors), latents_classes=classes,
                latents_values=classes.astype(np.float64),
                metadata=np.array(metadata, dtype=object))
  arrays.update(overrides)
  arrays = {k: v for k, v in arrays.items() if v is not None}
  np.savez_compressed(path, **arrays)
  return factors


def test_official_npz_is_loaded(tmp_path):
  rows = np.random.RandomState(0).choice(render.NUM_IMAGES, size=40, replace=False)
  # Invert the stored images so that npz pixels can be told apart from rendered ones.
  factors = data.indices_to_factors(rows)
  _write_npz(tmp_path / dsprites.NPZ_FILENAME, rows, imgs=1 - data.render_dsprites(factors))
  cfg = data.DataConfig(name="dsprites", data_dir=str(tmp_path), image_size=64, batch_size=8)
  assert "official npz" in data.describe_source(cfg)
  gt = data.get_ground_truth(cfg)
  obs = gt.sample_observations_from_factors(factors[:5], np.random.RandomState(0))
  np.testing.assert_array_equal(obs[..., 0], (1 - data.render_dsprites(factors[:5])) * 2.0 - 1.0)
  with pytest.raises(data.DatasetError, match="no image for factor"):
    gt.sample_observations_from_factors(
        data.indices_to_factors([np.setdiff1d(np.arange(100), rows)[0]]), None)
  # One epoch of 40 rows in 5 batches of 8 serves every stored image exactly once.
  served = np.concatenate([b.numpy() for b in data.build_dataset(cfg).take(5)])
  expected = (1 - data.render_dsprites(factors)) * 2.0 - 1.0
  key = lambda a: sorted(x.tobytes() for x in a.reshape(len(a), -1).astype(np.float32))
  assert key(served[..., 0]) == key(expected)


def test_bad_npz_raises(tmp_path):
  _write_npz(tmp_path / dsprites.NPZ_FILENAME, np.arange(4), latents_classes=None)
  cfg = data.DataConfig(name="dsprites", data_dir=str(tmp_path))
  with pytest.raises(data.DatasetError, match="latents_classes"):
    data.get_ground_truth(cfg)
  with pytest.raises(data.DatasetError, match="does not exist"):
    data.describe_source(data.DataConfig(data_dir=str(tmp_path / "nowhere.npz")))


def test_rendering_at_32_equals_rendering_at_64_and_resizing():
  f = render.indices_to_factors(np.random.RandomState(5).randint(0, render.NUM_IMAGES, 600))
  np.testing.assert_array_equal(data.render_dsprites(f, 32),
                                render.resize_binary(data.render_dsprites(f), 32))
  with pytest.raises(ValueError, match="image_size 32 or 64, got 16"):
    data.render_dsprites(f, 16)
