"""Command-line input handling of train: dataset presets, value validation, and bad input that
ends in one line with exit status 2 and leaves nothing written."""

import json
import os
import subprocess
import sys

import pytest
from absl import flags
from absl.testing import flagsaver

import in_process
from oogan_tf import cli, config_flags, presets
from oogan_tf import train as train_main  # pylint: disable=unused-import  (defines the flags)
from oogan_tf.config import TrainConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parse(*args) -> TrainConfig:
  """The TrainConfig `python -m oogan_tf.train ARGS` resolves to (in-process)."""
  argv = ["train", *args]
  with flagsaver.flagsaver():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(argv)
    preset = None if presets.flagfile_given(argv) else presets.dataset_preset(flags.FLAGS.dataset)
    return config_flags.config_from_flags(flags.FLAGS, preset=preset[1] if preset else None)


def _run_cli(*args, cwd=REPO):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  return subprocess.run([sys.executable, "-m", "oogan_tf.train", *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def test_headline_chairs_command_brings_the_chairs_preset():
  cfg = _parse("--dataset=chairs", "--c_dim=16")
  chairs = presets.read_flagfile(presets.preset_path("chairs"))
  assert cfg.model.channels == 3 and cfg.model.image_size == 64
  assert cfg.model.c_dim == 16  # given on the command line: wins over the preset's 10
  assert cfg.model.z_dim == int(chairs["z_dim"]) == 50
  assert cfg.batch_size == int(chairs["batch_size"])
  assert cfg.reference_ortho_grads is True


def test_flags_given_win_over_the_dataset_preset():
  cfg = _parse("--dataset=chairs", "--channels=1", "--batch_size=8",
               "--reference_ortho_grads=false")
  assert (cfg.model.channels, cfg.batch_size, cfg.reference_ortho_grads) == (1, 8, False)
  assert cfg.model.image_size == 64


def test_a_flagfile_is_the_whole_preset():
  cfg = _parse("--flagfile=flags/dsprites_cpu.flags")
  cpu = presets.read_flagfile(presets.preset_path("dsprites_cpu"))
  assert cfg.model.image_size == 32
  # dsprites.flags (what a bare --dataset=dsprites brings) anneals for 5,000 iterations.
  assert cfg.instance_noise_steps == int(cpu["instance_noise_steps"]) == 300
  assert _parse("--dataset=dsprites").instance_noise_steps == 5000


def test_a_dataset_without_preset_keeps_the_defaults():
  cfg = _parse("--dataset=fake")
  assert cfg.to_dict() == TrainConfig(dataset="fake").to_dict()


@pytest.mark.parametrize("args,message", [
    (["--gp_weight=nan"], "--gp_weight=nan is not allowed; it must be finite and >= 0"),
    (["--lambda_info=-1"], "--lambda_info=-1.0 is not allowed; it must be finite and >= 0"),
    (["--learning_rate=inf"], "--learning_rate=inf is not allowed; it must be finite and > 0"),
    (["--beta_1=1"], "--beta_1=1.0 is not allowed; it must be in [0, 1)"),
    (["--beta_2=nan"], "--beta_2=nan is not allowed; it must be in [0, 1)"),
    ([f"--seed={2**70}"], f"--seed={2**70} is not allowed; it must be in [0, 2147483647]"),
    (["--sample_seed=-1"], "--sample_seed=-1 is not allowed; it must be in [0, 2147483647]"),
    (["--eval_sizes_scale=inf"], "--eval_sizes_scale=inf is not allowed"),
    (["--batch_size=0"], "--batch_size=0 is not allowed; it must be >= 1"),
    (["--c_dim=0"], "c_dim=0 is not allowed"),
])
def test_invalid_values_name_the_flag_and_what_is_allowed(args, message):
  with pytest.raises(ValueError) as info:
    _parse("--dataset=fake", *args)
  assert message in str(info.value)


def test_adam_epsilon_must_be_positive():  # a config field without a flag
  with pytest.raises(ValueError, match=r"--epsilon=0.0 is not allowed; it must be finite and > 0"):
    TrainConfig(epsilon=0.0)


def _assert_one_line_exit_2(result):
  assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
  assert "Traceback" not in result.stderr
  lines = [l for l in result.stderr.splitlines() if l.strip()]
  assert lines[-1].startswith("error: ") and len([l for l in lines if l.startswith("error")]) == 1


@pytest.mark.parametrize("case", ["nan_flag", "no_model_dir", "model_dir_is_a_file",
                                  "empty_image_folder"])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case):
  run = tmp_path / "run"
  args = ["--flagfile=flags/smoke.flags", f"--model_dir={run}"]
  if case == "nan_flag":
    args.append("--gp_weight=nan")
  elif case == "no_model_dir":
    args = ["--flagfile=flags/smoke.flags"]
  elif case == "model_dir_is_a_file":
    run.write_text("notes")
  else:
    (tmp_path / "images").mkdir()
    args += ["--dataset=image_folder", f"--data_dir={tmp_path / 'images'}", "--channels=3"]
  # One case in a real process (what fd 2 receives, C++ lines included); the others in this one.
  result = _run_cli(*args) if case == "nan_flag" else in_process.run_main("oogan_tf.train", *args)
  _assert_one_line_exit_2(result)
  if case == "model_dir_is_a_file":
    assert run.read_text() == "notes"
  else:
    assert not run.exists()
  assert "--model_dir" in result.stderr or case in ("nan_flag", "empty_image_folder")


def test_headline_command_dry_run_says_what_the_preset_brought():
  result = in_process.run_main("oogan_tf.train", "--dataset=chairs", "--c_dim=16", "--dry_run")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "brings flags/chairs.flags for" in result.stdout and "channels=3" in result.stdout
  config = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
  assert config["model"]["channels"] == 3 and config["model"]["c_dim"] == 16


def test_every_configuration_flag_has_exactly_one_help_group():
  defined = sorted(f.name for f in flags.FLAGS.get_key_flags_for_module(config_flags))
  grouped = [n for names in config_flags.FLAG_GROUPS.values() for n in names]
  assert len(defined) > 40 and sorted(grouped) == defined


def test_help_exits_0_with_flags_grouped_by_purpose():
  result = _run_cli("--help")
  assert result.returncode == 0, result.stderr[-2000:]
  out = result.stdout
  positions = [out.index(f"\n{g}:\n") for g in ("data", "model", "training", "output",
                                                 "distribution", "this command")]
  assert positions == sorted(positions)
  assert "  --c_dim: Number of continuous control codes C (>= 1). (default: 6)" in out
  assert "  --dry_run: " in out


def test_flags_parse_and_validate_without_loading_tensorflow():
  # --help and bad flags answer before TensorFlow's import (5-7 s here): the entry points, the
  # configs and the packages' config modules must not import it.
  code = ("import sys; import oogan_tf.train, oogan_tf.serve, oogan_tf.evaluate, "
          "oogan_tf.config_flags, oogan_tf.models, oogan_tf.data, oogan_tf.serving; "
          "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "[]"


def _table_case(case, tmp_path):
  """(argv, check) for one bad input; check() asserts what must be left untouched."""
  run = tmp_path / "run"
  smoke = ["--flagfile=flags/smoke.flags", f"--model_dir={run}"]
  nothing_written = lambda: not run.exists()
  flag_values = {
      "lr_nan": "--learning_rate=nan", "lr_negative": "--learning_rate=-1",
      "lr_inf": "--learning_rate=inf", "beta1_one": "--beta_1=1", "beta2_nan": "--beta_2=nan",
      "seed_negative": "--seed=-1", "seed_2_70": f"--seed={2**70}", "batch_0": "--batch_size=0",
      "image_size_48": "--image_size=48", "channels_2": "--channels=2", "c_dim_0": "--c_dim=0",
      "z_dim_1": "--z_dim=1", "gp_nan": "--gp_weight=nan", "ema_1_5": "--ema_decay=1.5",
      "steps_per_loop_0": "--steps_per_loop=0", "g_type_enum": "--g_type=stylegan3",
      "batch_not_int": "--batch_size=abc", "unknown_flag": "--no_such_flag=1",
      "dataset_unknown": "--dataset=imagenet", "strategy_unknown": "--strategy=horovod",
      "strategy_tpu_absent": "--strategy=tpu",
      "too_many_gpus": "--strategy=mirrored --num_gpus=3",
  }
  if case in flag_values:
    return smoke + flag_values[case].split(), nothing_written
  if case == "flagfile_missing":
    return [f"--flagfile={tmp_path / 'none.flags'}", f"--model_dir={run}"], nothing_written
  if case == "data_dir_missing":
    return smoke + ["--dataset=image_folder", "--channels=3",
                    f"--data_dir={tmp_path / 'nowhere'}"], nothing_written
  if case == "data_dir_empty":
    (tmp_path / "images").mkdir()
    return smoke + ["--dataset=image_folder", "--channels=3",
                    f"--data_dir={tmp_path / 'images'}"], nothing_written
  if case == "data_dir_is_file":
    (tmp_path / "images").write_text("x")
    return smoke + ["--dataset=image_folder", "--channels=3",
                    f"--data_dir={tmp_path / 'images'}"], nothing_written
  if case == "model_dir_missing":
    return ["--flagfile=flags/smoke.flags"], lambda: True
  if case == "model_dir_is_file":
    run.write_text("notes")
    return smoke, lambda: run.read_text() == "notes"
  if case == "model_dir_not_a_run":
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    return smoke, lambda: sorted(os.listdir(run)) == ["notes.txt"]
  if case == "model_dir_other_model":
    run.mkdir()
    saved = _parse("--flagfile=flags/smoke.flags", "--c_dim=5", f"--model_dir={run}")
    (run / "config.json").write_text(saved.to_json())
    before = (run / "config.json").read_text()
    return smoke, lambda: (sorted(os.listdir(run)) == ["config.json"]
                           and (run / "config.json").read_text() == before)
  raise AssertionError(case)


TABLE_CASES = (
    "lr_nan", "lr_negative", "lr_inf", "beta1_one", "beta2_nan", "seed_negative", "seed_2_70",
    "batch_0", "image_size_48", "channels_2", "c_dim_0", "z_dim_1", "gp_nan", "ema_1_5",
    "steps_per_loop_0", "g_type_enum", "batch_not_int", "unknown_flag", "dataset_unknown",
    "strategy_unknown", "strategy_tpu_absent", "too_many_gpus", "flagfile_missing",
    "data_dir_missing", "data_dir_empty", "data_dir_is_file", "model_dir_missing",
    "model_dir_is_file", "model_dir_not_a_run", "model_dir_other_model")


@pytest.mark.parametrize("case", TABLE_CASES)
def test_bad_input_table_one_line_exit_2_nothing_written(case, tmp_path, monkeypatch):
  monkeypatch.chdir(REPO)  # _table_case's relative flagfile paths
  argv, untouched = _table_case(case, tmp_path)
  result = in_process.run_main("oogan_tf.train", *argv)
  status, err = result.returncode, result.stderr
  assert status == 2, (case, status, err[-2000:])
  assert "Traceback" not in err
  lines = [l for l in err.splitlines() if l.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), (case, lines)
  assert untouched(), case


def test_early_tensorflow_log_lines_below_the_level_are_dropped():
  notice = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
  info = "I0000 00:00:1796238829.545824    7096 port.cc:153] oneDNN custom operations are on."
  error = "E0000 00:00:1796238829.545824    7096 cuda.cc:1] no GPU"
  assert not cli._keep_early_line(notice, 2) and not cli._keep_early_line(info, 2)
  assert cli._keep_early_line(error, 2) and cli._keep_early_line("Traceback (most recent", 2)
  assert cli._keep_early_line(info, 0) and cli._keep_early_line(notice, 0)


def test_config_from_args_parses_nested_flagfiles_like_train(tmp_path):
  outer = tmp_path / "outer.flags"
  outer.write_text("--flagfile=flags/dsprites_cpu.flags\n--c_dim=5\n")
  cfg = config_flags.config_from_args([f"--flagfile={outer}", "--orthogonal_reg=false"])
  assert (cfg.model.ngf, cfg.model.c_dim, cfg.orthogonal_reg) == (16, 5, False)
  with pytest.raises(ValueError, match="not_a_field"):
    config_flags.config_from_args(["--not_a_field=1"])
  with pytest.raises(ValueError, match="c_dim"):
    config_flags.config_from_args(["--c_dim=x"])
  assert "c_dim" in flags.FLAGS and flags.FLAGS["c_dim"].value == 6  # globals untouched


def test_train_and_evaluate_share_one_process():
  from oogan_tf import evaluate  # pylint: disable=import-outside-toplevel,unused-import
  for name in ("seed", "model_dir", "data_dir", "export_dir", "c_dim"):
    assert name in flags.FLAGS


def test_the_tests_tiny_model_is_the_smoke_preset():
  from tiny import SMOKE, TINY_MODEL  # pylint: disable=import-outside-toplevel
  assert (TINY_MODEL.image_size, TINY_MODEL.channels, TINY_MODEL.c_dim, TINY_MODEL.z_dim,
          TINY_MODEL.ngf, TINY_MODEL.ndf) == (32, 1, 3, 4, 4, 4)
  assert (SMOKE.train_steps, SMOKE.batch_size, SMOKE.standing_stats_batches) == (4, 8, 2)


def test_data_tools_reject_an_invalid_dataset_config_in_one_line():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  result = subprocess.run([sys.executable, "tools/preview_data.py", "--image_size=48"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      "error: dataset 'dsprites': image_size=48 is invalid; expected one of (32, 64, 128, 256)."]
