"""Folder datasets (chairs, celeba, image_folder): preprocessing, bad files, layouts, errors."""
import io
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from oogan_tf import data
from oogan_tf.data import image_folder


def _save(path, array, fmt=None):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path, format=fmt)


def _rgb(h, w, seed=0):
  return np.random.RandomState(seed).randint(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.fixture(name="messy_tree")
def fixture_messy_tree(tmp_path):
  """Good RGB/greyscale/small images plus three unreadable files and a non-image file."""
  root = tmp_path / "images"
  _save(root / "a.png", _rgb(60, 80, 1))
  _save(root / "sub" / "b.jpg", _rgb(90, 70, 2))
  _save(root / "sub" / "grey.png", np.full((50, 50), 128, np.uint8))
  _save(root / "sub" / "deep" / "c.bmp", _rgb(40, 40, 3))
  _save(root / "tiny.gif", _rgb(8, 8, 4)[..., 0])
  (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
  buf = io.BytesIO()
  Image.fromarray(_rgb(64, 64, 5)).save(buf, format="JPEG")
  (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
  (root / "text.jpeg").write_text("not an image at all")
  (root / "notes.txt").write_text("ignored: not an image extension")
  return root


def test_resize_target_matches_reference():
  assert [image_folder.resize_target(s) for s in (32, 64, 128, 256)] == [36, 73, 147, 294]


@pytest.mark.parametrize("channels", [3, 1])
def test_bad_files_are_skipped_and_counted(messy_tree, channels):
  cfg = data.DataConfig(name="image_folder", data_dir=str(messy_tree), image_size=32,
                        channels=channels, batch_size=4, seed=1)
  assert data.describe_source(cfg).startswith("image_folder: 8 image files")
  warnings = []
  with mock.patch.object(image_folder.logging, "warning",
                         side_effect=lambda msg, *args: warnings.append(msg % args)):
    batches = [b.numpy() for b in data.build_dataset(cfg).take(6)]
  for b in batches:
    assert b.shape == (4, 32, 32, channels) and b.dtype == np.float32
    assert b.min() >= -1.0 and b.max() <= 1.0
  skipped = [w for w in warnings if "skipped unreadable image" in w]
  assert len(skipped) == 3  # each bad file logged once, with the running count
  assert any("3 of 8 file(s) skipped" in w for w in skipped)
  assert any("upscaled" in w and "tiny.gif" in w for w in warnings)


def test_preprocessing_crop_flip_and_range(tmp_path):
  # Left half black, right half white, 100x50 (aspect ratio is ignored by the resize).
  image = np.zeros((50, 100, 3), np.uint8)
  image[:, 50:] = 255
  _save(tmp_path / "x.png", image)
  base = dict(name="image_folder", data_dir=str(tmp_path), image_size=32, channels=3,
              batch_size=16)
  plain = next(iter(data.build_dataset(data.DataConfig(random_flip=False, **base)))).numpy()
  assert np.all(plain[:, :, 0] == -1.0) and np.all(plain[:, :, -1] == 1.0)
  flipped = next(iter(data.build_dataset(data.DataConfig(random_flip=True, **base)))).numpy()
  left = flipped[:, 16, 0, 0]
  assert set(left.tolist()) == {-1.0, 1.0}  # some flipped, some not, in one batch of 16


@pytest.mark.parametrize("cache", ["memory", "file"])
def test_cache(messy_tree, tmp_path, cache):
  cache = str(tmp_path / "cache" / "prefix") if cache == "file" else cache
  if cache != "memory":
    (tmp_path / "cache").mkdir()
  cfg = data.DataConfig(name="image_folder", data_dir=str(messy_tree), image_size=32,
                        channels=3, batch_size=4, cache=cache)
  batches = [b.numpy() for b in data.build_dataset(cfg).take(5)]
  assert all(b.shape == (4, 32, 32, 3) for b in batches)


def test_chairs_layout(tmp_path):
  for chair in ("chair_a", "chair_b"):
    for i in range(3):
      _save(tmp_path / "rendered_chairs" / chair / "renders" / f"image_{i:03d}.png",
            _rgb(600, 600, i)[::10, ::10])
  _save(tmp_path / "rendered_chairs" / "all_chair_names.png", _rgb(10, 10))  # not a render
  for data_dir in (tmp_path, tmp_path / "rendered_chairs"):
    cfg = data.DataConfig(name="chairs", data_dir=str(data_dir), image_size=32, channels=3,
                          batch_size=4)
    assert data.describe_source(cfg).startswith("chairs: 6 image files")
    assert next(iter(data.build_dataset(cfg))).shape == (4, 32, 32, 3)


def test_celeba_layout(tmp_path):
  for i in range(5):
    _save(tmp_path / "img_align_celeba" / f"{i:06d}.jpg", _rgb(218, 178, i))
  for data_dir in (tmp_path, tmp_path / "img_align_celeba"):
    cfg = data.DataConfig(name="celeba", data_dir=str(data_dir), image_size=64, channels=3,
                          batch_size=2)
    assert data.describe_source(cfg).startswith("celeba: 5 image files")
    batch = next(iter(data.build_dataset(cfg)))
    assert batch.shape == (2, 64, 64, 3) and batch.dtype == tf.float32


@pytest.mark.parametrize("name, hint", [("chairs", "rendered_chairs.tar"),
                                        ("celeba", "img_align_celeba"),
                                        ("image_folder", "png")])
def test_missing_or_empty_folder_errors(tmp_path, name, hint):
  for data_dir, problem in ((tmp_path / "missing", "does not exist"),
                            (tmp_path, "holds no image files"), (None, "is not set")):
    cfg = data.DataConfig(name=name, data_dir=None if data_dir is None else str(data_dir),
                          channels=3)
    with pytest.raises(data.DatasetError) as err:
      data.build_dataset(cfg)
    message = str(err.value)
    assert f"dataset '{name}'" in message and problem in message and hint in message
    assert "expected layout" in message


def test_sharding_by_input_context(tmp_path):
  for i in range(8):
    _save(tmp_path / f"{i}.png", np.full((40, 40, 3), 30 * i, np.uint8))
  cfg = data.DataConfig(name="image_folder", data_dir=str(tmp_path), image_size=32, channels=3,
                        batch_size=8, random_flip=False)
  seen = set()
  for pipeline_id in range(2):
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                     num_replicas_in_sync=2)
    batch = next(iter(data.build_dataset(cfg, ctx))).numpy()
    assert batch.shape == (4, 32, 32, 3)
    values = set(np.round((batch[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist())
    assert not values & seen  # the two pipelines read disjoint shards
    seen |= values
  assert len(seen) == 8
