"""Training: CLI run directory + resume, determinism across resume, variable ownership of each
step, single trace, presets, config validation, NaN stop, bfloat16."""

import dataclasses
import glob
import json
import math
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import flags
from absl.testing import flagsaver

from oogan_tf import controller, losses, train_lib
from oogan_tf.config import TrainConfig
from oogan_tf.models import ModelConfig
from oogan_tf.trainer import NonFiniteLossError, Trainer, learning_rate_factor, new_trainer
import in_process
from tiny import FAST_CALIBRATION, SMOKE, TINY_MODEL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = TINY_MODEL


def tiny_config(model_dir, **kw):
  base = dict(model=TINY, dataset="dsprites", batch_size=8, train_steps=4, steps_per_loop=2,
              sample_every_steps=2, checkpoint_every_steps=2, instance_noise_steps=2,
              export_at_end=False, model_dir=str(model_dir) if model_dir else None,
              **FAST_CALIBRATION)
  base.update(kw)
  return TrainConfig(**base)


def _run_cli(*args):
  """`python -m oogan_tf.train ARGS`, in this process (the SIGTERM test starts a real one)."""
  return in_process.run_main("oogan_tf.train", *args)


def _scalar_and_image_tags(event_dir):
  scalars, images = set(), set()
  for path in glob.glob(os.path.join(event_dir, "events.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for v in event.summary.value:
        kind = v.metadata.plugin_data.plugin_name
        (images if kind == "images" else scalars).add(v.tag)
  return scalars, images


def test_cli_smoke_writes_run_directory_and_resumes(smoke_run, tmp_path):
  # The first run is the session's smoke run (conftest.py: this CLI, in this process).
  model_dir = tmp_path / "run"
  shutil.copytree(smoke_run, model_dir)
  first_stdout = (smoke_run.parent / "stdout.txt").read_text()
  assert "initialized (fresh run)" in first_stdout
  assert "step 4/4" in first_stdout
  saved = json.loads((model_dir / "config.json").read_text())
  assert saved["model"]["c_dim"] == 3 and saved["train_steps"] == 4
  assert tf.train.latest_checkpoint(str(model_dir / "ckpt")).endswith("ckpt-4")
  scalars, images = _scalar_and_image_tags(str(model_dir / "train"))
  for tag in ("loss/d_total", "loss/gradient_penalty", "loss/g_adv", "loss/info",
              "loss/info_reconstruction", "loss/info_onehot", "d/score_real", "d/score_fake",
              "ortho/orth_conv", "ortho/readout", "opt/learning_rate", "perf/steps_per_sec",
              "perf/images_per_sec"):
    assert tag in scalars, tag
  assert {"samples/fixed", "samples/reals", "traversal"} <= images
  pngs = sorted(os.listdir(model_dir / "samples"))
  assert {"reals.png", "fixed_step0000004.png", "traversal_step0000004.png"} <= set(pngs)
  assert not [p for p in pngs if p.startswith("traversal_c")]  # one sheet, not a file per code

  second = _run_cli("--flagfile=flags/smoke.flags", f"--model_dir={model_dir}",
                    "--train_steps=6", "--export_at_end=false")
  assert second.returncode == 0, second.stderr[-3000:]
  assert "resumed from" in second.stdout and "(iteration 4)" in second.stdout
  assert "step 6/6" in second.stdout and "step 2/" not in second.stdout
  assert tf.train.latest_checkpoint(str(model_dir / "ckpt")).endswith("ckpt-6")
  assert len((model_dir / "command.txt").read_text().splitlines()) == 2
  # One line per event, on stdout only, and the same lines in log.txt; stats.jsonl holds one
  # record per logged loop (smoke: 2 iterations per loop) of both sessions.
  assert second.stdout.count("train | step 6/6") == 1 and "train | step" not in second.stderr
  log_lines = (model_dir / "log.txt").read_text().splitlines()
  assert sum("train | step 4/4" in l for l in log_lines) == 1
  assert sum("train | step 6/6" in l for l in log_lines) == 1
  records = [json.loads(l) for l in (model_dir / "stats.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [2, 4, 6]
  assert all(math.isfinite(r["loss/d_total"]) and r["kimg"] > 0 for r in records)

  changed = _run_cli("--flagfile=flags/smoke.flags", f"--model_dir={model_dir}", "--c_dim=4")
  assert changed.returncode != 0
  assert "model.c_dim: saved 3, now 4" in changed.stderr
  assert tf.train.latest_checkpoint(str(model_dir / "ckpt")).endswith("ckpt-6")


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(tmp_path):
  model_dir = tmp_path / "run"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  proc = subprocess.Popen(
      [sys.executable, "-m", "oogan_tf.train", "--flagfile=flags/smoke.flags",
       f"--model_dir={model_dir}", "--train_steps=100000", "--checkpoint_every_steps=50000",
       "--sample_every_steps=50000", "--export_at_end=false"],
      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  lines = []
  try:
    for line in proc.stdout:
      lines.append(line)
      if line.startswith("train | step "):
        proc.send_signal(signal.SIGTERM)
        break
    rest, _ = proc.communicate(timeout=240)
  finally:
    proc.kill()
  output = "".join(lines) + rest
  assert proc.returncode == 0, output[-3000:]
  assert "received signal" in output and "stopped on request at iteration" in output
  stopped = int(output.split("stopped on request at iteration ")[1].split(";")[0])
  assert 0 < stopped < 100000
  assert tf.train.latest_checkpoint(str(model_dir / "ckpt")).endswith(f"ckpt-{stopped}")
  resumed = _run_cli("--flagfile=flags/smoke.flags", f"--model_dir={model_dir}",
                     f"--train_steps={stopped + 2}", "--checkpoint_every_steps=50000",
                     "--sample_every_steps=50000", "--export_at_end=false")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert f"(iteration {stopped})" in resumed.stdout


@pytest.mark.slow
def test_resume_is_deterministic(smoke_run, tmp_path):
  # The straight run is the session's smoke run: tiny_config() is the smoke preset.
  assert tiny_config(None) == dataclasses.replace(SMOKE, export_at_end=False, model_dir=None)
  records = [json.loads(l) for l in (smoke_run / "stats.jsonl").read_text().splitlines()]
  straight = records[-1]
  assert straight["step"] == 4
  half = train_lib.train(tiny_config(tmp_path / "b", train_steps=2))
  assert half["step"] == 2
  resumed = train_lib.train(tiny_config(tmp_path / "b", train_steps=4))
  assert resumed["resumed_from"] == 2 and resumed["step"] == 4
  assert resumed["metrics"]
  for key, value in resumed["metrics"].items():
    assert straight[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def _snapshot(variables):
  return [v.numpy().copy() for v in variables]


def _changed(before, variables):
  return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def test_each_step_updates_only_its_variables():
  cfg = tiny_config(None, orthogonal_reg=False)
  trainer = new_trainer(cfg)
  d = trainer.discriminator
  parts = {"g": trainer.generator.trainable_variables, "trunk": d.trunk.trainable_variables,
           "rf": d.real_fake_head.trainable_variables, "q": d.q_head.trainable_variables}
  real = tf.data.Dataset.from_tensors(tf.random.uniform((8, 32, 32, 1), -1, 1)).repeat()
  it = iter(real)

  def run_with(active):
    for name, opt in (("d", trainer.opt_d), ("g", trainer.opt_g), ("info", trainer.opt_info)):
      opt.learning_rate.assign(1e-3 if name in active else 0.0)
    before = {k: _snapshot(v) for k, v in parts.items()}
    trainer.train_loop(it, tf.constant(2, tf.int64))
    return {k: _changed(before[k], parts[k]) for k in parts}

  info_only = run_with({"info"})
  assert any(info_only["g"]) and any(info_only["q"])
  assert not any(info_only["trunk"]) and not any(info_only["rf"])
  d_only = run_with({"d"})
  assert not any(d_only["g"]) and not any(d_only["q"])
  assert any(d_only["trunk"]) and any(d_only["rf"])
  g_only = run_with({"g"})
  assert any(g_only["g"])
  assert not any(g_only["trunk"] + g_only["rf"] + g_only["q"])
  assert trainer.train_loop.experimental_get_tracing_count() == 1


def test_non_finite_loss_stops_without_saving(tmp_path, monkeypatch):
  monkeypatch.setitem(losses.ADVERSARIAL_LOSSES, "hinge",
                      (losses.d_hinge_loss, lambda s: tf.reduce_mean(s) * np.nan))
  with pytest.raises(NonFiniteLossError, match="loss/g_adv=nan"):
    train_lib.train(tiny_config(tmp_path / "nan"))
  assert tf.train.latest_checkpoint(str(tmp_path / "nan" / "ckpt")) is None


def test_mixed_bfloat16_gives_finite_float32_losses():
  trainer = new_trainer(tiny_config(None, precision="mixed_bfloat16"))
  try:
    real = iter(tf.data.Dataset.from_tensors(tf.zeros((8, 32, 32, 1))).repeat())
    out = trainer.train_loop(real, tf.constant(1, tf.int64))
    assert all(v.dtype == tf.float32 and np.isfinite(v.numpy()) for v in out.values())
    assert trainer.generator.to_image.compute_dtype == "bfloat16"
  finally:
    tf.keras.mixed_precision.set_global_policy("float32")


def test_foreign_directory_is_never_written(tmp_path):
  (tmp_path / "notes.txt").write_text("mine")
  with pytest.raises(train_lib.RunDirectoryError, match="not empty and has no config.json"):
    train_lib.train(tiny_config(tmp_path))
  assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


PRESETS = sorted(glob.glob(os.path.join(REPO, "flags", "*.flags")))


def test_every_preset_parses_into_a_valid_config():
  from oogan_tf import config_flags
  from oogan_tf import train as train_main  # pylint: disable=unused-import  (defines the flags)
  assert len(PRESETS) >= 8
  for path in PRESETS:
    with flagsaver.flagsaver():
      flags.FLAGS.unparse_flags()
      flags.FLAGS(["train", f"--flagfile={path}", "--model_dir=/tmp/unused"])
      cfg = config_flags.config_from_flags(flags.FLAGS)
      train_lib.data_lib.validate(cfg.data_config())
      assert cfg.train_steps > 0, path


@pytest.mark.parametrize("args,message", [
    (["--image_size=48"], "image_size=48 is not allowed; choose one of 32, 64, 128, 256"),
    (["--c_dim=0"], "c_dim=0 is not allowed"),
    (["--z_dim=1"], "z_dim=1 is not allowed with g_type='oogan'"),
    (["--dataset=imagenet"], "unknown dataset name='imagenet'"),
])
def test_invalid_flags_fail_before_any_work(tmp_path, args, message):
  model_dir = tmp_path / "run"
  result = _run_cli("--flagfile=flags/smoke.flags", f"--model_dir={model_dir}", *args)
  assert result.returncode != 0
  assert message in result.stderr
  assert not (model_dir / "config.json").exists()


def test_batch_must_divide_over_replicas():
  with pytest.raises(ValueError, match="--batch_size=7 is not divisible by the 2 replicas"):
    tiny_config(None, batch_size=7).check_replicas(2)


def test_dry_run_prints_reference_parameter_counts():
  result = _run_cli("--flagfile=flags/dsprites_reference.flags", "--dry_run")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "params/generator: 1,026,177" in result.stdout
  assert "params/d_trunk: 74,240" in result.stdout
  assert "params/d_real_fake_head: 890,369" in result.stdout
  assert "params/q_head: 323,736" in result.stdout


def test_eval_every_steps_writes_eval_scalars(tmp_path):
  cfg = tiny_config(tmp_path / "run", eval_every_steps=2,
                    eval_metrics="mig,factor_vae,generator_factors", eval_sizes_scale=0.01,
                    standing_stats_batches=2, encoder_recalibration_batches=2)
  train_lib.train(cfg)
  scalars, _ = _scalar_and_image_tags(str(tmp_path / "run" / "eval"))
  assert {"eval/mig/discrete_mig", "eval/factor_vae/eval_accuracy",
          "eval/mig/discrete_mig_se", "eval/generator_factors/score",
          "eval/generator_factors/score_se",
          # (coverage/mean is NaN, so not written, when a 4-iteration G draws no sprite at all)
          "eval/generator_factors/coverage/single_sprite_fraction"} <= scalars
  heat_maps = sorted(os.listdir(tmp_path / "run" / "eval"))
  assert [f for f in heat_maps if f.endswith(".png")] == [
      "effect_matrix_step0000002.png", "effect_matrix_step0000004.png"]


def test_eval_every_steps_needs_ground_truth():
  with pytest.raises(ValueError, match="--eval_every_steps=5 needs ground-truth factors"):
    tiny_config(None, dataset="fake", eval_every_steps=5)


def test_checkpoint_restores_every_variable(tmp_path):
  """Every variable (incl. BN statistics, SN vectors, EMA, all optimiser slots) round-trips.
  Also: the orthogonal private step runs five times per iteration."""
  source = new_trainer(tiny_config(None))
  real = iter(tf.data.Dataset.from_tensors(tf.random.uniform((8, 32, 32, 1), -1, 1)).repeat())
  source.train_loop(real, tf.constant(2, tf.int64))
  source.train_loop(real, tf.constant(1, tf.int64))
  assert [int(opt.iterations) for opt in source.ortho.optimizers] == [15, 15]
  path = source.checkpoint().save(str(tmp_path / "ckpt"))
  target = new_trainer(tiny_config(None, seed=1))
  target.checkpoint().restore(path).assert_consumed()
  pairs = []
  for a, b in ((source.generator, target.generator), (source.ema_generator, target.ema_generator),
               (source.discriminator, target.discriminator)):
    assert len(a.variables) == len(b.variables)
    pairs += list(zip(a.variables, b.variables))
  for a_opt, b_opt in zip([source.opt_d, source.opt_g, source.opt_info] + source.ortho.optimizers,
                          [target.opt_d, target.opt_g, target.opt_info] + target.ortho.optimizers):
    pairs += list(zip(a_opt.variables, b_opt.variables))
  for a, b in pairs:
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=getattr(a, "path", a.name))


@pytest.mark.slow
def test_jit_compile_step_gives_finite_losses():
  trainer = new_trainer(tiny_config(None, jit_compile=True))
  real = iter(tf.data.Dataset.from_tensors(tf.zeros((8, 32, 32, 1))).repeat())
  out = trainer.train_loop(real, tf.constant(1, tf.int64))
  assert all(np.isfinite(v.numpy()) for v in out.values())
  assert trainer.iteration == 1


def test_eval_every_steps_scores_fid_and_kid_on_any_dataset(tmp_path, monkeypatch):
  from oogan_tf import metrics  # pylint: disable=g-import-not-at-top
  cfg = tiny_config(tmp_path / "run", dataset="fake", eval_every_steps=2,
                    eval_metrics="fid,kid", eval_sizes_scale=0.004, standing_stats_batches=1,
                    encoder_recalibration_batches=1, train_steps=2,
                    inception_weights=str(tmp_path / "none.h5"))
  with pytest.raises(metrics.InceptionWeightsError, match="--inception_weights=.*none.h5"):
    train_lib.train(cfg)
  assert not (tmp_path / "run").exists()
  # A stand-in feature network: the pixels' 4x4 average pools.
  monkeypatch.setattr(metrics, "resolve_inception_weights", lambda path: path)
  monkeypatch.setattr(metrics, "inception_feature_fn", lambda path: lambda x: np.asarray(
      tf.nn.avg_pool2d(x, 8, 8, "VALID")).reshape(len(x), -1))
  train_lib.train(cfg)
  scalars, _ = _scalar_and_image_tags(str(tmp_path / "run" / "eval"))
  assert {"eval/fid/fid", "eval/kid/kid", "eval/kid/kid_se"} <= scalars
  # Every scalar carries a description; the configuration is there as text.
  described, texts = {}, {}
  for sub in ("train", "eval"):
    for path in glob.glob(str(tmp_path / "run" / sub / "events.*")):
      for event in tf.compat.v1.train.summary_iterator(path):
        for v in event.summary.value:
          if v.metadata.plugin_data.plugin_name == "hparams":
            texts.setdefault("hparams", v.metadata.plugin_data.content)
          elif v.metadata.plugin_data.plugin_name == "text":
            texts[v.tag] = tf.make_ndarray(v.tensor).item().decode()
          elif v.metadata.plugin_data.plugin_name == "scalars":
            described[v.tag] = v.metadata.summary_description
  assert described["eval/fid/fid"] == "fid score; lower is better."
  assert "setting or diagnostic" in described["eval/fid/num_real"]
  assert "relu(1 - D(x))" in described["loss/d_hinge"]
  assert [t for t in described if t.startswith("ortho/") and "cosine" in described[t]]
  assert all(described.values()), [k for k, v in described.items() if not v]
  assert '"eval_metrics": "fid,kid"' in texts["config"]
  assert b"model.c_dim" in texts["hparams"] and b"eval_metrics" in texts["hparams"]


def test_eval_metrics_are_checked_with_the_dataset():
  with pytest.raises(ValueError, match="--eval_metrics='fid,bogus' is not allowed"):
    tiny_config(None, dataset="fake", eval_every_steps=5, eval_metrics="fid,bogus")
  with pytest.raises(ValueError, match="needs ground-truth factors for mig"):
    tiny_config(None, dataset="fake", eval_every_steps=5, eval_metrics="fid,mig")
  assert tiny_config(None, dataset="fake", eval_every_steps=5, eval_metrics="fid,kid,ortho")


def test_actions_run_when_a_loop_crosses_their_interval():
  assert controller.crossed(0, 25, 25) and controller.crossed(20, 30, 25)
  assert not controller.crossed(25, 49, 25) and not controller.crossed(0, 24, 25)
  assert controller.crossed(0, 100, 30)  # several multiples in one loop: one call
  assert not controller.crossed(0, 100, 0)  # 0 = never


def test_config_fields_are_validated_at_construction():
  from oogan_tf import data  # pylint: disable=import-outside-toplevel
  with pytest.raises(data.DatasetError, match="unknown dataset name='imagenet'"):
    TrainConfig(dataset="imagenet")
  with pytest.raises(data.DatasetError, match="image_size=128"):
    TrainConfig(model=ModelConfig(image_size=128))  # dSprites is 32 or 64 px
  with pytest.raises(data.DatasetError, match="batch_size=0"):
    data.DataConfig(batch_size=0)


def test_trainer_refuses_a_keras_policy_other_than_the_configs():
  import keras  # pylint: disable=import-outside-toplevel
  from oogan_tf.trainer import Trainer  # pylint: disable=import-outside-toplevel
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  try:
    with pytest.raises(ValueError, match="call trainer.set_keras_globals"):
      Trainer(tiny_config(None))
  finally:
    keras.mixed_precision.set_global_policy("float32")


def test_controller_runs_chunks_and_fires_actions_in_order():
  done, fired, reports = [0], [], []

  def train_loop(n):
    done[0] += n
    return {"loss": float(n)}

  ctl = controller.Controller(
      train_loop, lambda: done[0], steps_per_loop=4, train_steps=10,
      actions=[controller.TrainAction(5, lambda s: fired.append(("a", s))),
               controller.TrainAction(4, lambda s: fired.append(("b", s))),
               controller.TrainAction(0, lambda s: fired.append(("never", s)))],
      on_loop=lambda m, step, n, sec: reports.append((step, n, m["loss"])))
  step, metrics = ctl.run()
  assert step == 10 and metrics == {"loss": 2.0}
  assert reports == [(4, 4, 4.0), (8, 4, 4.0), (10, 2, 2.0)]  # the last chunk is shortened
  assert fired == [("b", 4), ("a", 8), ("b", 8), ("a", 10)]
  stopped = controller.Controller(train_loop, lambda: done[0], 4, 100, [],
                                  lambda *a: None).run(lambda: done[0] >= 14)
  assert stopped[0] == 14  # a stop request ends the run after the current chunk


def test_learning_rate_factor_falls_linearly_from_the_decay_start():
  assert learning_rate_factor(5, 0, 10) == 1.0  # off
  assert [learning_rate_factor(n, 4, 8) for n in (0, 3, 4, 6, 8)] == [1.0, 1.0, 1.0, 0.5, 0.0]


def test_lr_decay_sets_every_adams_rate_before_each_loop(tmp_path, monkeypatch):
  seen = []
  original = Trainer.set_learning_rate_factor

  def recording(self, factor):
    original(self, factor)
    seen.append((self.iteration, factor, float(self.opt_g.learning_rate.numpy()),
                 float(self.opt_d.learning_rate.numpy()), float(self.opt_info.learning_rate.numpy())))

  monkeypatch.setattr(Trainer, "set_learning_rate_factor", recording)
  cfg = tiny_config(tmp_path / "run", steps_per_loop=1, lr_decay_start=2, learning_rate=1e-3,
                    d_lr_ratio=1.0)
  train_lib.train(cfg)
  assert [(n, f) for n, f, *_ in seen] == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.5)]
  assert seen[-1][2:] == pytest.approx((5e-4, 5e-4, 5e-4))


def test_lr_decay_start_is_validated():
  with pytest.raises(ValueError, match="--lr_decay_start=4 is not allowed; it must be 0 "
                                       r"\(off\) or below --train_steps=4"):
    tiny_config(None, lr_decay_start=4)
  with pytest.raises(ValueError, match="lr_decay_start"):
    tiny_config(None, lr_decay_start=-1)
