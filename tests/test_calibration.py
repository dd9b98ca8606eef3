"""BatchNorm calibration: standing statistics of the EMA G, real-image statistics for the encoder."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from oogan_tf import calibration, export_lib
from oogan_tf.config import TrainConfig
from oogan_tf.models import Generator, build_networks, copy_non_trainable
from oogan_tf.models.batch_norm import BatchNorm
import in_process
from tiny import TINY_MODEL

TINY = TINY_MODEL


def _cfg(**kw):
  return TrainConfig(model=TINY, batch_size=16, **kw)


def test_recompute_statistics_is_the_plain_average_of_batch_statistics():
  inputs = keras.Input((4, 4, 3))
  model = keras.Model(inputs, BatchNorm(momentum=0.9, epsilon=1e-5)(inputs))
  rs = np.random.RandomState(0)
  batches = [rs.normal(loc=k, scale=1 + k, size=(8, 4, 4, 3)).astype(np.float32)
             for k in range(3)]
  assert calibration.recompute_statistics(model, lambda x: model(x, training=True), batches) == 3
  layer = calibration.batch_norm_layers(model)[0]
  expected_mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
  expected_var = np.mean([b.reshape(-1, 3).var(axis=0, ddof=1) for b in batches], axis=0)
  np.testing.assert_allclose(layer.moving_mean.numpy(), expected_mean, rtol=1e-5)
  np.testing.assert_allclose(layer.moving_variance.numpy(), expected_var, rtol=1e-4)
  assert layer.momentum == 0.9  # restored


def test_standing_statistics_reproduce_the_live_generators_training_mode_outputs():
  cfg = _cfg()
  keras.utils.set_random_seed(0)
  live = Generator(TINY, name="generator").build_for()
  ema = Generator(TINY, name="ema_generator").build_for()
  for target, source in zip(ema.variables, live.variables):
    target.assign(source)  # an EMA copy that holds the live weights

  def pixel_stats(model, training):
    x = np.concatenate([model(inputs, training=training).numpy()
                        for inputs in calibration.generator_inputs(cfg, 8)])
    return x.mean(), x.std()

  # Spectral norm's power iteration runs in training mode; converge it first (as in a trained
  # model), so that live and EMA normalise their last conv by the same sigma.
  for inputs in calibration.generator_inputs(cfg, 20):
    live(inputs, training=True)
  target = pixel_stats(live, training=True)
  copy_non_trainable(live, ema)
  before = pixel_stats(ema, training=False)  # the live G's running statistics
  calibration.standing_generator_statistics(ema, cfg, 32)
  after = pixel_stats(ema, training=False)
  assert abs(after[0] - target[0]) < 0.02 and abs(after[1] - target[1]) < 0.03, (after, target)
  # The live G's running statistics (momentum 0.9 over its first calls) are off: the test can
  # fail.
  assert abs(before[0] - target[0]) + abs(before[1] - target[1]) > 0.05, (before, target)


def test_recalibrated_discriminator_restores_the_training_state():
  cfg = _cfg()
  keras.utils.set_random_seed(1)
  _, _, d = build_networks(cfg.model)
  saved = [v.numpy() for v in d.non_trainable_variables]
  layers = calibration.batch_norm_layers(d)
  assert layers
  with calibration.recalibrated_discriminator(d, cfg, 4) as n:
    assert n == 4
    inside = [layer.moving_mean.numpy() for layer in layers]
    assert any(np.abs(m).max() > 1e-3 for m in inside)  # initial means are 0
  for v, value in zip(d.non_trainable_variables, saved):
    np.testing.assert_array_equal(v.numpy(), value)


def test_export_records_its_batchnorm_statistics(tmp_path):
  cfg = _cfg(standing_stats_batches=2, encoder_recalibration_batches=0)
  keras.utils.set_random_seed(2)
  g, ema, d = build_networks(cfg.model)
  copy_non_trainable(g, ema)
  path = export_lib.export_calibrated(ema, d, cfg, 0, str(tmp_path / "e"))
  with open(os.path.join(path, "assets", "oogan_metadata.json")) as f:
    bn = json.load(f)["bn_statistics"]
  assert bn["standing_stats_batches"] == 2 and bn["encoder_recalibration_batches"] == 0
  assert bn["generator"].startswith("standing") and "training running" in bn["encoder"]
  loaded = tf.saved_model.load(path)
  out = loaded.signatures["sample"](c=tf.zeros((2, 3)), z=tf.zeros((2, 4)))["images"]
  assert out.shape == (2, 32, 32, 1)


def test_bn_serving_check_tool_prints_one_json_line(smoke_run):
  run = in_process.run_main("tools/bn_serving_check.py", f"--model_dir={smoke_run}", "--num=16",
                            "--batch=8", "--standing_batches=2")
  assert run.returncode == 0, run.stderr[-2000:]
  out = json.loads(run.stdout.strip().splitlines()[-1])
  assert out["iteration"] == 4 and out["num"] == 16 and out["standing_batches"] == 2
  assert {"batch_stats", "live_running_stats", "standing_stats"} <= set(out)
  assert 0.0 <= out["mean_abs_diff_standing"] <= 2.0
  bad = in_process.run_main("tools/bn_serving_check.py", "--num=0", f"--model_dir={smoke_run}")
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines() == [
      "error: --num=0 is not allowed; it must be in [1, 100000]"]
