"""The registry: every entry builds, configs are validated, mnist and fake pipelines."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from oogan_tf import data


def _mnist_dir(tmp_path):
  rng = np.random.RandomState(0)
  np.savez(tmp_path / "mnist.npz", x_train=rng.randint(0, 256, (20, 28, 28), dtype=np.uint8),
           y_train=rng.randint(0, 10, 20), x_test=np.zeros((2, 28, 28), np.uint8),
           y_test=np.zeros(2, np.int64))
  return str(tmp_path)


def _config_for(name, tmp_path):
  if name == "mnist":
    return data.DataConfig(name=name, data_dir=_mnist_dir(tmp_path), image_size=32, batch_size=4)
  if name in ("chairs", "celeba", "image_folder"):
    folder = {"chairs": tmp_path / "rendered_chairs" / "c" / "renders",
              "celeba": tmp_path / "img_align_celeba", "image_folder": tmp_path / "x"}[name]
    folder.mkdir(parents=True)
    ext = "jpg" if name == "celeba" else "png"
    for i in range(3):
      Image.fromarray(np.full((40, 40, 3), 50 * i, np.uint8)).save(folder / f"{i}.{ext}")
    return data.DataConfig(name=name, data_dir=str(tmp_path), image_size=32, channels=3,
                           batch_size=4)
  return data.DataConfig(name=name, image_size=32, batch_size=4)


@pytest.mark.parametrize("name", data.DATASETS)
def test_every_registry_entry_builds(name, tmp_path):
  cfg = _config_for(name, tmp_path)
  assert data.describe_source(cfg).startswith(f"{name}: ")
  ds = data.build_dataset(cfg)
  assert ds.element_spec.shape.as_list() == [4, 32, 32, cfg.channels]
  assert ds.element_spec.dtype == tf.float32
  for batch in ds.take(6):  # more batches than images: the pipeline repeats
    assert batch.numpy().min() >= -1.0 and batch.numpy().max() <= 1.0
  if name != "dsprites":
    with pytest.raises(data.DatasetError, match="no ground-truth factors"):
      data.get_ground_truth(cfg)


def test_registry_names():
  assert data.DATASETS == ("dsprites", "chairs", "celeba", "image_folder", "mnist", "digits",
                           "fake")


@pytest.mark.parametrize("changes, field", [
    (dict(name="cifar"), "registered datasets: dsprites, chairs"),
    (dict(image_size=48), "image_size=48"),
    (dict(image_size=128), "image_size=128"),  # dsprites is 64x64 or 32x32 only
    (dict(channels=3), "channels=3"),  # dsprites is greyscale
    (dict(name="fake", channels=2), "channels=2"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(shuffle_buffer=0), "shuffle_buffer=0"),
    (dict(cache=""), "cache=''"),
])
def test_invalid_config_raises(changes, field):
  # Validated at construction, so an invalid config never reaches build_dataset.
  with pytest.raises(data.DatasetError, match="expected|registered") as err:
    data.build_dataset(dataclasses.replace(data.DataConfig(), **changes))
  assert field in str(err.value)
  assert isinstance(err.value, ValueError)


def test_batch_not_divisible_by_replicas():
  ctx = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                   num_replicas_in_sync=3)
  with pytest.raises(data.DatasetError, match="batch_size=64"):
    data.build_dataset(data.DataConfig(name="fake"), ctx)


def test_per_replica_batch_and_shards_differ():
  cfg = data.DataConfig(name="fake", image_size=32, channels=3, batch_size=8, seed=5)
  batches = []
  for pipeline_id in range(2):
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                     num_replicas_in_sync=2)
    batches.append(next(iter(data.build_dataset(cfg, ctx))).numpy())
  assert batches[0].shape == (4, 32, 32, 3)
  assert np.any(batches[0] != batches[1])
  again = next(iter(data.build_dataset(cfg, ctx))).numpy()
  np.testing.assert_array_equal(again, batches[1])


@pytest.mark.parametrize("size, channels", [(32, 1), (64, 3)])
def test_mnist_sizes(tmp_path, size, channels):
  cfg = data.DataConfig(name="mnist", data_dir=_mnist_dir(tmp_path), image_size=size,
                        channels=channels, batch_size=5)
  batch = next(iter(data.build_dataset(cfg))).numpy()
  assert batch.shape == (5, size, size, channels)
  if size == 32:  # zero padding of 2 pixels around the 28x28 digit maps to -1
    assert np.all(batch[:, :2] == -1.0) and np.all(batch[:, :, -2:] == -1.0)
  assert batch.min() >= -1.0 and batch.max() <= 1.0


def test_mnist_missing_files(tmp_path):
  with pytest.raises(data.DatasetError, match="mnist.npz") as err:
    data.build_dataset(data.DataConfig(name="mnist", data_dir=str(tmp_path)))
  assert "tf-keras-datasets" in str(err.value)


@pytest.mark.parametrize("name", ["dsprites", "fake"])
def test_start_batch_continues_the_stream(name):
  cfg = data.DataConfig(name=name, image_size=32, batch_size=4, seed=2)
  ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                   num_replicas_in_sync=2)
  full = [b.numpy() for b in data.build_dataset(cfg, ctx).take(4)]
  resumed = next(iter(data.build_dataset(cfg, ctx, start_batch=3))).numpy()
  np.testing.assert_array_equal(resumed, full[3])
  # One pipeline feeding 2 replicas serves 2 per-replica batches per training step.
  one_pipeline = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                            num_replicas_in_sync=2)
  stream = [b.numpy() for b in data.build_dataset(cfg, one_pipeline).take(5)]
  np.testing.assert_array_equal(
      next(iter(data.build_dataset(cfg, one_pipeline, start_batch=2))).numpy(), stream[4])
  with pytest.raises(data.DatasetError, match="start_batch=-1"):
    data.build_dataset(cfg, start_batch=-1)


def test_start_batch_reseeds_file_datasets(tmp_path):
  cfg = _config_for("mnist", tmp_path)
  first = next(iter(data.build_dataset(cfg))).numpy()
  resumed = next(iter(data.build_dataset(cfg, start_batch=100))).numpy()
  assert resumed.shape == first.shape and np.any(resumed != first)
  np.testing.assert_array_equal(resumed,
                                next(iter(data.build_dataset(cfg, start_batch=100))).numpy())


def test_validate_is_public():
  cfg = data.DataConfig(name="fake")
  assert data.validate(cfg) is cfg
  with pytest.raises(data.DatasetError, match="seed"):
    data.validate(dataclasses.replace(cfg, seed=1.5))
