"""Tests of oogan_tf.evaluate_lib / python -m oogan_tf.evaluate on a tiny untrained export.

The CLI runs in this process (tests/in_process.py); the one-line error of a missing InceptionV3
file is checked in a real process.
"""

import dataclasses
import glob
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import in_process
from oogan_tf import eval_report, evaluate_lib, export_format
from oogan_tf.data.ground_truth import GroundTruthBase
from tiny import TINY_MODEL, write_uncalibrated_export

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 32
TINY = {"mig": {"num_train": 64}, "tc": {"num_samples": 64, "mss_batch_size": 32},
        "factor_vae": {"num_variance_estimate": 64, "num_train": 20, "num_eval": 10,
                       "batch_size": 8}}


class BlockGroundTruth(GroundTruthBase):
  """Fake GroundTruthData: factor k paints row band k of a 32x32 image with its value."""

  factor_sizes = (3, 4, 5)
  factor_names = ("a", "b", "c")
  num_factors = 3
  observation_shape = (SIZE, SIZE, 1)

  def sample_observations_from_factors(self, factors, random_state):
    del random_state
    f = np.asarray(factors, np.float32)
    values = 2.0 * f / (np.asarray(self.factor_sizes, np.float32) - 1.0) - 1.0
    x = -np.ones((f.shape[0], SIZE, SIZE, 1), np.float32)
    band = SIZE // self.num_factors
    for k in range(self.num_factors):
      x[:, k * band:(k + 1) * band, :, 0] = values[:, k, None, None]
    return x


@pytest.fixture(scope="module")
def exports(tiny_export, tmp_path_factory):
  """Untrained tiny exports (32 px greyscale, c_dim 3, z_dim 4, widths 4): the session's OOGAN
  one (conftest.py, read-only) and an InfoGAN one (deterministic Q)."""
  infogan = dataclasses.replace(TINY_MODEL, q_type="infogan", probabilistic_q=False)
  return {"oogan": tiny_export,
          "infogan": write_uncalibrated_export(tmp_path_factory.mktemp("exports") / "infogan",
                                               infogan)}


def _cli(*args):
  return in_process.run_main("oogan_tf.evaluate", *args)


def _finite(x):
  return isinstance(x, float) and math.isfinite(x)


def test_evaluate_export_writes_complete_json(exports, tmp_path):
  result = evaluate_lib.evaluate_export(
      exports["oogan"], "mig,factor_vae,ortho,tc", seed=3, sizes=TINY, batch_size=16,
      ground_truth=BlockGroundTruth(), dataset_source="fake blocks")
  assert result["format"] == eval_report.FORMAT
  assert result["export_dir"] == os.path.abspath(exports["oogan"])
  assert result["metrics_requested"] == ["mig", "factor_vae", "ortho", "tc"]
  assert list(result["results"]) == ["mig", "factor_vae", "ortho", "tc"]
  assert result["seed"] == 3 and result["protocol"] == "dlib"
  assert result["metadata"]["c_dim"] == 3 and result["metadata"]["config"]["dataset"]
  assert result["dataset"]["source"] == "fake blocks"
  assert set(result["versions"]) >= {"tensorflow", "numpy", "sklearn"}
  r = result["results"]
  assert 0.0 <= r["mig"]["discrete_mig"] <= 1.0
  assert r["mig"]["params"]["num_train"] == 64 and r["mig"]["params"]["seed"] == 3
  fv = r["factor_vae"]
  assert 0.0 <= fv["eval_accuracy"] <= 1.0 and 0.0 <= fv["train_accuracy"] <= 1.0
  assert 0 <= fv["num_active_dims"] <= 3
  assert fv["params"]["num_train"] == 20
  ortho = r["ortho"]
  assert ortho["available"] is True
  assert sorted(ortho["layers"]) == ["discriminator/q_head/orth_conv/kernel",
                                     "discriminator/q_head/readout/transform"]
  for key in ("mean_abs_cos_offdiag", "mean_sq_cos_offdiag", "mean_abs_cos_all",
              "mean_sq_cos_all"):
    assert _finite(ortho[key]) and 0.0 <= ortho[key] <= 1.0 + 1e-9
  for layer in ortho["layers"].values():
    assert layer["row_length"] == 16.0
  assert _finite(r["tc"]["total_correlation_mss"])
  assert _finite(r["tc"]["total_correlation_plugin"])
  assert r["tc"]["num_codes"] == 3.0

  out = str(tmp_path / "eval.json")
  eval_report.write_results(result, out)
  with open(out) as f:
    assert json.load(f)["results"]["mig"] == r["mig"]
  assert not glob.glob(str(tmp_path / ".eval-tmp-*"))
  with pytest.raises(evaluate_lib.EvaluationError, match="already exists.*--overwrite"):
    eval_report.write_results(result, out)
  eval_report.write_results(result, out, overwrite=True)

  scalars = eval_report.scalar_scores(result)
  assert "factor_vae/eval_accuracy" in scalars and "ortho/mean_abs_cos_offdiag" in scalars
  assert not any(k.endswith(("elapsed_s", "/params")) for k in scalars)
  eval_report.write_summaries(result, str(tmp_path / "tb"), step=7)
  assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
  assert "discrete_mig" in eval_report.format_table(result)


def test_same_seed_same_scores(exports):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  kwargs = dict(seed=1, sizes=TINY, ground_truth=BlockGroundTruth(),
                loaded=tf.saved_model.load(exports["oogan"]))
  a = evaluate_lib.evaluate_export(exports["oogan"], ["mig"], **kwargs)["results"]["mig"]
  b = evaluate_lib.evaluate_export(exports["oogan"], ["mig"], **kwargs)["results"]["mig"]
  assert a["discrete_mig"] == b["discrete_mig"]


def test_infogan_export_has_no_orthogonal_layers(exports):
  result = evaluate_lib.evaluate_export(exports["infogan"], ["ortho"])
  assert result["results"]["ortho"]["available"] is False
  assert "no orthogonal layers" in result["results"]["ortho"]["reason"]


def test_errors_name_the_flag(exports, tmp_path):
  err = evaluate_lib.EvaluationError
  with pytest.raises(err, match=r"--export_dir='?.*nope'? does not exist"):
    evaluate_lib.evaluate_export(str(tmp_path / "nope"), ["ortho"])
  with pytest.raises(err, match=r"unknown metric\(s\) bogus; valid metrics: factor_vae, .*ortho"):
    evaluate_lib.evaluate_export(exports["oogan"], "mig,bogus")
  with pytest.raises(err, match="'tc' needs a probabilistic Q.*probabilistic_q=false"):
    evaluate_lib.evaluate_export(exports["infogan"], ["tc"], ground_truth=BlockGroundTruth())
  with pytest.raises(err, match="perceptual_diversity, which needs --vgg_weights"):
    evaluate_lib.evaluate_export(exports["oogan"], ["perceptual_diversity"])
  with pytest.raises(err, match="--vgg_weights='.*missing.h5' is not a file"):
    evaluate_lib.evaluate_export(exports["oogan"], ["perceptual_diversity"],
                                 vgg_weights=str(tmp_path / "missing.h5"))
  with pytest.raises(err, match="--protocol='bad'"):
    evaluate_lib.evaluate_export(exports["oogan"], ["ortho"], protocol="bad")
  # A dataset without ground-truth factors.
  celeba = tmp_path / "celeba_export"
  shutil.copytree(exports["oogan"], celeba)
  meta_path = celeba / export_format.METADATA_ASSET
  meta = json.loads(meta_path.read_text())
  meta["config"]["dataset"] = "celeba"
  meta_path.write_text(json.dumps(meta))
  with pytest.raises(err, match="dataset='celeba', which has no ground-truth factors"):
    evaluate_lib.evaluate_export(str(celeba), ["mig"])
  # ortho needs no ground truth, so it runs on such a dataset.
  assert evaluate_lib.evaluate_export(str(celeba), ["ortho"])["results"]["ortho"]["available"]


def test_cli_writes_json_refuses_overwrite_and_unknown_metric(exports, tmp_path):
  out = tmp_path / "cli.json"
  tb = tmp_path / "tb"
  # Real (rendered) dSprites ground truth from the export's training config, tiny sizes.
  proc = _cli(f"--export_dir={exports['oogan']}", "--metrics=mig,ortho", "--sizes_scale=0.01",
              f"--output={out}", f"--summary_dir={tb}", "--step=5")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "ortho/mean_abs_cos_offdiag" in proc.stdout and "mig/discrete_mig" in proc.stdout
  result = json.loads(out.read_text())
  assert result["results"]["ortho"]["available"] is True
  assert 0.0 <= result["results"]["mig"]["discrete_mig"] <= 1.0
  assert result["results"]["mig"]["params"]["num_train"] == 100
  assert result["dataset"]["name"] == "dsprites" and "dsprites" in result["dataset"]["source"]
  assert glob.glob(str(tb / "events.out.tfevents.*"))
  proc = _cli(f"--export_dir={exports['oogan']}", "--metrics=ortho", f"--output={out}")
  assert proc.returncode != 0 and "already exists" in proc.stderr
  proc = _cli(f"--export_dir={exports['oogan']}", "--metrics=mig,nope", f"--output={out}")
  assert proc.returncode != 0
  assert "unknown metric(s) nope; valid metrics: factor_vae" in proc.stderr


def test_cli_evaluates_a_run_directory_checkpoint(smoke_run, tmp_path):
  """--model_dir: the smoke run's newest checkpoint (EMA weights) is evaluated end to end."""
  run_dir = tmp_path / "run"
  shutil.copytree(smoke_run, run_dir)
  result = _cli(f"--model_dir={run_dir}", "--metrics=mig,factor_vae,ortho,tc",
                "--sizes_scale=0.01", "--noprogress")
  assert result.returncode == 0, result.stderr[-2000:]
  with open(run_dir / "eval" / "eval_4.json") as f:
    out = json.load(f)
  assert set(out["results"]) == {"mig", "factor_vae", "ortho", "tc"}
  assert out["metadata"]["iteration"] == 4
  assert "rendered" in out["dataset"]["source"]
  assert {"numpy", "sklearn", "tensorflow"} <= set(out["versions"])
  both = _cli(f"--model_dir={run_dir}", f"--export_dir={run_dir}")
  assert both.returncode != 0 and "exactly one of --export_dir or --model_dir" in both.stderr


def _pooled_features(images):
  """A stand-in for InceptionV3: 4x4 average pooling, [N, S, S, C] -> [N, 16 C]."""
  x = np.asarray(images)
  n, s, _, c = x.shape
  return x.reshape(n, 4, s // 4, 4, s // 4, c).mean(axis=(2, 4)).reshape(n, -1)


def test_fid_and_kid_of_an_export_against_its_dataset(exports):
  result = evaluate_lib.evaluate_export(
      exports["oogan"], "fid,kid", sizes={"fid": {"num_samples": 64, "batch_size": 32},
                                          "kid": {"kid_subsets": 10}},
      feature_fn=_pooled_features)
  fid, kid = result["results"]["fid"], result["results"]["kid"]
  assert _finite(fid["fid"]) and fid["fid"] > 0 and fid["num_real"] == fid["num_fake"] == 64
  assert _finite(kid["kid"]) and kid["subset_size"] == 32 and kid["num_subsets"] == 10
  assert kid["params"]["num_samples"] == 64 and "inception_weights" not in kid["params"]
  assert "dsprites" in result["dataset"]["source"]


def test_fid_without_inception_weights_is_one_line_exit_2(exports, tmp_path):
  env_home = tmp_path / "home"
  env_home.mkdir()
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
             KERAS_HOME=str(env_home / ".keras"))
  proc = subprocess.run([sys.executable, "-m", "oogan_tf.evaluate",
                         f"--export_dir={exports['oogan']}", "--metrics=fid,kid",
                         f"--output={tmp_path / 'out.json'}"], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      "error: fid/kid need InceptionV3 weights: pass --inception_weights=PATH or place "
      f"inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 in {env_home / '.keras'}"
      "/models (nothing is downloaded)"]
  assert not (tmp_path / "out.json").exists()


def test_table_separates_scores_from_settings_and_warns_about_pruned_codes():
  result = {"metadata": {"c_dim": 4}, "dataset": {"num_factors": 5}, "results": {
      "factor_vae": {"eval_accuracy": 0.0, "eval_accuracy_se": 0.0, "train_accuracy": 0.0,
                     "num_active_dims": 0.0, "heldout": 1.0},
      "mig": {"discrete_mig": 0.25, "discrete_mig_se": 0.01},
      "fid": {"fid": 12.5, "fid_se": None, "num_real": 100.0},
      "ortho": {"available": False, "reason": "no orthogonal layers"}}}
  table = eval_report.format_table(result)
  scores, rest = table.split("settings and diagnostics")
  rows = {line.split()[0]: line for line in scores.splitlines()[2:] if line}
  assert set(rows) == {"factor_vae/eval_accuracy", "factor_vae/train_accuracy",
                       "mig/discrete_mig", "fid/fid"}
  assert rows["factor_vae/eval_accuracy"].split()[-2:] == ["higher", "0.2000"]
  assert rows["mig/discrete_mig"].split()[-3:] == ["0.0100", "higher", "0"]
  assert rows["fid/fid"].split()[-1] == "lower"
  assert "factor_vae/num_active_dims" in rest and "factor_vae/heldout" in rest
  assert "fid/num_real" in rest and "ortho  " in rest.split("unavailable")[1]
  assert "warning: factor_vae: every code dimension was pruned" in rest
  result["results"]["factor_vae"]["num_active_dims"] = 3.0
  assert "warning: factor_vae: 1 of 4 code dimensions were pruned" in (
      eval_report.format_table(result))


class _PerCallGroundTruth:
  """The same dSprites ground truth without `deterministic_observations`: the metrics then
  render and encode one batch per call, as disentanglement_lib does (the slow reference path)."""

  def __init__(self, ground_truth):
    self._gt = ground_truth
    self.factor_sizes = ground_truth.factor_sizes
    self.factor_names = ground_truth.factor_names
    self.num_factors = ground_truth.num_factors
    self.observation_shape = ground_truth.observation_shape

  def sample_factors(self, num, random_state):
    return self._gt.sample_factors(num, random_state)

  def sample_observations_from_factors(self, factors, random_state):
    return self._gt.sample_observations_from_factors(factors, random_state)

  def sample(self, num, random_state):
    return self._gt.sample(num, random_state)


def test_batched_cached_evaluation_equals_per_call_evaluation(exports):
  """Deferred draws + the code cache change the speed only: every score and SE is identical."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf.data import dsprites  # pylint: disable=g-import-not-at-top
  gt = dsprites.GroundTruthData(dsprites.RenderedSource(), SIZE)
  names = ["factor_vae", "beta_vae", "mig", "dci", "sap", "modularity"]
  sizes = {"factor_vae": {"num_variance_estimate": 300, "num_train": 40, "num_eval": 20,
                          "batch_size": 16, "prune_threshold": 0.0},
           "beta_vae": {"num_train": 30, "num_eval": 20, "batch_size": 8},
           # Boosting stages set DCI's time here (one tree per class and stage).
           "mig": {"num_train": 200},
           "dci": {"num_train": 100, "num_test": 50, "gbt_stages": 10},
           "sap": {"num_train": 100, "num_test": 50},
           "modularity": {"num_train": 100, "num_test": 50}}
  loaded = tf.saved_model.load(exports["oogan"])
  kwargs = dict(seed=2, sizes=sizes, loaded=loaded, batch_size=64)
  fast = evaluate_lib.evaluate_export(exports["oogan"], names, ground_truth=gt, **kwargs)
  slow = evaluate_lib.evaluate_export(exports["oogan"], names,
                                      ground_truth=_PerCallGroundTruth(gt), **kwargs)
  enc = fast["encoding"]
  assert enc["code_cache"] and 0 < enc["images_encoded"] < enc["codes_looked_up"]
  assert slow["encoding"] == {"code_cache": False, "encode_batch_size": 64}
  assert 0.0 < fast["results"]["mig"]["discrete_mig"] and fast["results"]["factor_vae"][
      "num_active_dims"] > 0
  for name in names:
    a = {k: v for k, v in fast["results"][name].items() if k != "elapsed_s"}
    b = {k: v for k, v in slow["results"][name].items() if k != "elapsed_s"}
    assert a == b, name
