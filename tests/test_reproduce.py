"""End-to-end test of tools/reproduce.py on the `smoke` preset: 1 seed, 2 variants, 4 iterations.

Checks the files, the table structure and that a second invocation skips finished runs; the scores
of a 4-iteration model mean nothing and are not checked.
"""

import json
import os

import pytest

import in_process
from oogan_tf import presets

reproduce = in_process.load_tool("tools/reproduce.py")

# Tiny sizes: every metric runs, in seconds (DCI's boosted trees dominate otherwise).
TINY_SIZES = {"factor_vae": {"num_train": 4, "num_variance_estimate": 200, "batch_size": 10},
              "mig": {"num_train": 64}, "dci": {"num_train": 40, "num_test": 20},
              "tc": {"num_samples": 64},
              "generator_factors": {"num_samples": 32, "num_bases": 4, "sweep_steps": 3,
                                    "num_z": 2, "bootstrap": 10, "num_real": 256}}


def _argv(workdir, *extra):
  return ["--experiment=ablation", "--preset=smoke", "--seeds=0", "--variants=oogan,infogan",
          "--train_steps=4", "--num_evals=2", f"--workdir={workdir}",
          f"--eval_sizes={json.dumps(TINY_SIZES)}", "--baseline_inits=1",
          # DCI's boosted trees and TC dominate an evaluation; they are tested elsewhere.
          "--metrics=factor_vae,mig,generator_factors,ortho", *extra]


def test_read_flagfile_and_variant_configs():
  preset = reproduce.preset_path("dsprites_cpu")
  flags = presets.read_flagfile(preset)
  assert flags["ngf"] == "16"
  oogan = reproduce.make_config(preset, reproduce.VARIANTS["oogan"], train_steps=600)
  infogan = reproduce.make_config(preset, reproduce.VARIANTS["infogan"], train_steps=600)
  assert (oogan.model.ngf, oogan.batch_size, oogan.train_steps) == (16, 32, 600)
  assert (oogan.model.g_type, oogan.code_schedule, oogan.orthogonal_reg) == (
      "oogan", "reference", True)
  assert (infogan.model.g_type, infogan.model.q_type, infogan.code_schedule,
          infogan.orthogonal_reg) == ("infogan", "infogan", "uniform", False)
  assert reproduce.make_config(preset, reproduce.VARIANTS["no_ortho"]).orthogonal_reg is False
  with pytest.raises(ValueError):
    reproduce.make_config(preset, {"not_a_field": 1})
  assert reproduce.eval_steps(600, 2) == [300, 600]


def test_dry_run_prints_plan(tmp_path, capsys):
  assert reproduce.run(_argv(tmp_path / "w", "--dry_run", "--sec_per_iter=0.5")) == 0
  out = capsys.readouterr().out
  assert "2 of 2 runs to do" in out and "infogan" in out
  assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_end_to_end_and_resume(tmp_path, capsys):
  workdir = tmp_path / "w"
  assert reproduce.run(_argv(workdir)) == 0
  for variant in ("oogan", "infogan"):
    run = workdir / "runs" / variant / "seed0"
    for name in ("done.json", "eval_2.json", "eval_4.json", "traversal.png",
                 "model/export/2/saved_model.pb",
                 "model/export/4/saved_model.pb"):
      assert (run / name).exists(), name
    assert os.listdir(run / "model" / "eval")  # eval/ TensorBoard scalars
  results = json.loads((workdir / "results.json").read_text())
  assert set(results["summary"]) == {"oogan", "infogan"}
  assert results["missing_runs"] == []
  assert results["summary"]["oogan"]["factor_vae/eval_accuracy"]["n"] == 1
  # An InfoGAN Q has no orthogonal layers, so its ortho column is n/a.
  assert "ortho/mean_abs_cos_offdiag" in results["summary"]["oogan"]
  assert "ortho/mean_abs_cos_offdiag" not in results["summary"]["infogan"]
  for plot in ("plots/metric_factor_vae_eval_accuracy.png", "plots/traversal_oogan.png",
               "plots/traversal_infogan.png"):
    assert plot in results["plots"] and (workdir / plot).exists()
  table = (workdir / "results.md").read_text().splitlines()
  start = next(i for i, line in enumerate(table) if line.startswith("| variant | FactorVAE"))
  end = table.index("", start)
  header, rows = table[start], table[start + 2:end]
  assert [row.split(" | ")[0] for row in rows] == [
      "| oogan", "| infogan", "| *untrained (oogan)*", "| *untrained (infogan)*", "| *oracle*"]
  untrained = results["baselines"]["untrained (oogan)"]["factor_vae/eval_accuracy"]
  assert untrained["n"] == 1 and untrained["min"] == untrained["mean"] == untrained["max"]
  assert results["baselines"]["oracle"]["mig/discrete_mig"]["se"] is not None
  for path in ("baselines/untrained_oogan.json", "baselines/untrained_infogan.json",
               "baselines/oracle.json"):
    assert (workdir / path).exists(), path
  assert all(row.count("|") == header.count("|") for row in rows)
  assert any("0.81 ± 0.077" in line for line in table)

  capsys.readouterr()
  done_mtime = (workdir / "runs" / "oogan" / "seed0" / "done.json").stat().st_mtime
  assert reproduce.run(_argv(workdir)) == 0
  out = capsys.readouterr().out
  assert out.count("skip ") == 2 and "start " not in out
  assert (workdir / "runs" / "oogan" / "seed0" / "done.json").stat().st_mtime == done_mtime

  (workdir / "results.md").unlink()
  assert reproduce.run(_argv(workdir, "--report_only")) == 0
  assert "start " not in capsys.readouterr().out and (workdir / "results.md").exists()
