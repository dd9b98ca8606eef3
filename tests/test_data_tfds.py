"""tfds: datasets read offline: pipeline, resume, ground truth and errors, on tfds mock data.

tfds.testing.mock_data replaces as_dataset with seeded random examples of the builder's real
features, but leaves the prepared-files check reading the (empty) data_dir, so the tests that read
data also patch that check to True.
"""
import contextlib
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import in_process
from oogan_tf import data
from oogan_tf.config import TrainConfig
from oogan_tf.data import tfds_data
from tiny import TINY_MODEL


@contextlib.contextmanager
def _mocked(num_examples):
  with tfds.testing.mock_data(num_examples=num_examples), mock.patch.object(
      tfds_data, "_is_prepared", return_value=True):
    yield


def _cfg(name, tmp_path, **kw):
  fields = dict(data_dir=str(tmp_path), image_size=32, channels=1, batch_size=4,
                shuffle_buffer=16)
  return data.DataConfig(name=name, **dict(fields, **kw))


def _batches(cfg, count, start_batch=0):
  ds = data.build_dataset(cfg, start_batch=start_batch)
  return [b.numpy() for b in ds.take(count)]


def test_mnist_batches_shape_range_and_exact_resume(tmp_path):
  with _mocked(10):
    cfg = _cfg("tfds:mnist", tmp_path)
    first = _batches(cfg, 6)
    assert first[0].shape == (4, 32, 32, 1) and first[0].dtype == np.float32
    assert all(b.min() >= -1.0 and b.max() <= 1.0 for b in first)
    np.testing.assert_array_equal(np.stack(_batches(cfg, 6)), np.stack(first))
    # Batch 3 starts mid-epoch (12 of 10 examples): the resume skips into epoch 1.
    np.testing.assert_array_equal(np.stack(_batches(cfg, 3, start_batch=3)), np.stack(first[3:]))
    # Each epoch serves every example once, in a new order.
    epoch0, epoch1 = np.concatenate(first)[:10], np.concatenate(first)[10:20]
    assert not np.array_equal(epoch0, epoch1)
    np.testing.assert_array_equal(np.sort(epoch0.reshape(10, -1), axis=0),
                                  np.sort(epoch1.reshape(10, -1), axis=0))
    rgb = _batches(_cfg("tfds:mnist:test", tmp_path, channels=3, image_size=64), 1)[0]
    assert rgb.shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    assert "tfds 'mnist' split 'train'" in data.describe_source(cfg)


def test_order_does_not_depend_on_the_global_seed(tmp_path):
  # A --seed=0 run calls keras.utils.set_random_seed(0) before it builds its data; the per-epoch
  # shuffle seed is a tensor, which tf's seed handling cannot compare with a global seed of 0.
  with _mocked(10):
    cfg = _cfg("tfds:mnist", tmp_path)
    try:
      orders = []
      for global_seed in (0, 5, None):
        tf.random.set_seed(global_seed)
        orders.append(np.stack(_batches(cfg, 4)))
    finally:
      tf.random.set_seed(None)
  np.testing.assert_array_equal(orders[0], orders[2])
  np.testing.assert_array_equal(orders[1], orders[2])


def test_pipelines_split_the_examples(tmp_path):
  with _mocked(8):
    cfg = _cfg("tfds:mnist", tmp_path, batch_size=2)
    shards = [tfds_data.build(cfg, data.registry.pipeline.Sharding(2, p, 2)) for p in (0, 1)]
    seen = [np.concatenate([b.numpy() for b in ds.take(2)]).reshape(4, -1) for ds in shards]
    assert not any((seen[0][:, None] == seen[1][None]).all(-1).any(-1))


def test_dsprites_ground_truth_matches_the_labels(tmp_path):
  with _mocked(12):
    cfg = _cfg("tfds:dsprites", tmp_path, image_size=64)
    gt = data.get_ground_truth(cfg)
    builder = tfds.builder("dsprites", data_dir=str(tmp_path))
    examples = list(tfds.as_numpy(builder.as_dataset(split="train", shuffle_files=False)))
  assert gt.factor_names == data.FACTOR_NAMES and gt.num_factors == 5
  keys = ["label_shape", "label_scale", "label_orientation", "label_x_position",
          "label_y_position"]
  labels = np.array([[ex[k] for k in keys] for ex in examples])
  assert gt.factor_sizes == tuple(len(np.unique(labels[:, f])) for f in range(5))
  assert not gt.full_grid  # 12 random rows: the row-sampling mode
  rs = np.random.RandomState(0)
  factors, obs = gt.sample(20, rs)
  assert factors.shape == (20, 5) and obs.shape == (20, 64, 64, 1) and obs.dtype == np.float32
  # Ranks of the present values map back to the mock labels of the image returned.
  values = [np.unique(labels[:, f]) for f in range(5)]
  raw = np.stack([values[f][factors[:, f]] for f in range(5)], axis=1)
  images = np.stack([ex["image"] for ex in examples]).astype(np.float32)
  expected = np.clip(images, 0, 1) * 2 - 1  # tfds dsprites stores pixels in {0, 1}
  for row, image in zip(raw, obs):
    matches = np.flatnonzero((labels == row).all(axis=1))
    assert any(np.array_equal(expected[m], image) for m in matches)
  # "Fix one factor": absent combinations are drawn among rows sharing the fixed factor.
  request = gt.sample_factors(30, rs)
  request[:, 2] = request[0, 2]
  got = gt.sample_observations_from_factors(request, rs)
  allowed = expected[labels[:, 2] == values[2][request[0, 2]]]
  assert all((allowed == image).all(axis=(1, 2, 3)).any() for image in got)


def test_full_grid_lookup_is_exact():
  sizes = (2, 3)
  classes = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, 2)
  perm = np.random.RandomState(1).permutation(len(classes))
  images = (np.arange(6, dtype=np.uint8)[perm] * 40)[:, None, None, None] * np.ones(
      (1, 4, 4, 1), np.uint8)
  labels = classes[perm] * 10  # raw label values need not be 0..k-1
  gt = tfds_data.GroundTruthData(images, labels, ("a", "b"), 4, 1)
  assert gt.full_grid and gt.factor_sizes == sizes
  obs = gt.sample_observations_from_factors(classes, np.random.RandomState(0))
  np.testing.assert_allclose(obs[:, 0, 0, 0], np.arange(6) * 40 / 127.5 - 1, atol=1e-6)
  with pytest.raises(data.DatasetError, match="factor classes must lie"):
    gt.sample_observations_from_factors([[2, 0]], np.random.RandomState(0))


def test_not_prepared_is_one_clear_line(tmp_path):
  cfg = _cfg("tfds:dsprites", tmp_path / "empty")
  for call in (data.describe_source, data.build_dataset, data.get_ground_truth):
    with pytest.raises(data.DatasetError) as e:
      call(cfg)
    message = str(e.value)
    assert "\n" not in message
    for part in ("--dataset='tfds:dsprites'", f"--data_dir='{tmp_path / 'empty'}'",
                 "tfds build dsprites", "nothing is downloaded"):
      assert part in message
  assert not (tmp_path / "empty").exists()  # nothing written, nothing downloaded
  with pytest.raises(data.DatasetError, match="needs --data_dir"):
    data.build_dataset(_cfg("tfds:mnist", tmp_path, data_dir=None))
  with pytest.raises(data.DatasetError, match="has no dataset 'no_such_set'"):
    data.describe_source(_cfg("tfds:no_such_set", tmp_path))


def test_train_cli_not_prepared_exits_2_before_writing(tmp_path):
  run = in_process.run_main("oogan_tf.train", "--dataset=tfds:dsprites",
                            f"--data_dir={tmp_path / 'empty'}", f"--model_dir={tmp_path / 'run'}")
  assert run.returncode == 2, run.stderr
  assert run.stderr.strip().splitlines() == [run.stderr.strip()]
  assert "--dataset='tfds:dsprites' is not prepared" in run.stderr
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["tfds:mnist", "tfds:mnist:test", "tfds:dsprites:train[:10%]",
                                  "tfds:celeb_a", "tfds:shapes3d:train+test"])
def test_config_accepts_tfds_names(name):
  data.validate(data.DataConfig(name=name, channels=3))
  assert data.has_ground_truth(name) == (name.split(":")[1] in ("dsprites", "shapes3d"))


@pytest.mark.parametrize("name", ["tfds:", "tfds:MNIST", "tfds:mnist:", "tfds:mnist:tr ain",
                                  "tfds:../x"])
def test_config_rejects_malformed_tfds_names(name):
  with pytest.raises(data.DatasetError) as e:
    data.validate(data.DataConfig(name=name))
  message = str(e.value)
  assert "\n" not in message and f"--dataset={name!r} is malformed" in message
  assert "tfds:<name>[:split]" in message


def test_train_config_eval_metrics_accept_tfds_ground_truth():
  TrainConfig(dataset="tfds:smallnorb", eval_every_steps=10, eval_metrics="mig")
  with pytest.raises(ValueError, match="tfds:smallnorb have"):
    TrainConfig(dataset="tfds:mnist", eval_every_steps=10, eval_metrics="mig")


def test_metrics_run_on_shapes3d_ground_truth(tmp_path):
  from oogan_tf import metrics  # pylint: disable=import-outside-toplevel
  with _mocked(20):
    gt = data.get_ground_truth(_cfg("tfds:shapes3d", tmp_path, channels=3))
  assert gt.observation_shape == (32, 32, 3) and gt.num_factors == 6

  def representation(images):  # float32 [N, 32, 32, 3] -> codes [N, 3]
    return np.asarray(images).mean(axis=(1, 2))

  sizes = {"factor_vae": {"num_train": 20, "num_eval": 10, "num_variance_estimate": 50,
                          "batch_size": 8}, "mig": {"num_train": 50}}
  result = metrics.evaluate_representation(gt, representation, ["factor_vae", "mig"],
                                           sizes=sizes)
  assert set(result) >= {"factor_vae", "mig"}


def test_trainer_steps_on_the_mock_pipeline(tmp_path):
  from oogan_tf.trainer import new_trainer  # pylint: disable=import-outside-toplevel
  model = TINY_MODEL
  cfg = TrainConfig(model=model, dataset="tfds:mnist", data_dir=str(tmp_path), batch_size=4,
                    train_steps=2, steps_per_loop=2, export_at_end=False)
  with _mocked(8):
    it = iter(data.build_dataset(cfg.data_config()))
    trainer = new_trainer(cfg)
    losses = trainer.train_loop(it, tf.constant(2, tf.int64))
  assert int(trainer.step.numpy()) == 2
  assert all(np.isfinite(float(v)) for v in losses.values())
