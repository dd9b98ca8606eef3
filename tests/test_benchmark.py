"""tools/benchmark.py and tools/profile_step.py run the real train loop on the smoke preset."""

import json
import os
import subprocess
import shutil
import sys

import pytest

import in_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {"sec_per_iter_median", "sec_per_iter_p10", "sec_per_iter_p90", "sec_per_iter_min",
        "sec_per_iter_max", "images_per_sec", "pipeline_images_per_sec", "model_flops_per_iter",
        "achieved_flops_per_sec", "peak_matmul_flops_per_sec", "fraction_of_peak", "precision",
        "jit_compile", "preset", "machine", "iterations_timed", "replicas"}


@pytest.mark.slow
def test_benchmark_smoke_writes_one_json_line(tmp_path):
  out = tmp_path / "bench.json"
  result = in_process.run_main("tools/benchmark.py", "--flagfile=flags/smoke.flags",
                               "--iterations=2", "--warmup_loops=1", "--pipeline_batches=2",
                               f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  printed = json.loads(result.stdout.strip().splitlines()[-1])
  assert KEYS <= set(printed)
  assert json.loads(out.read_text()) == printed
  assert printed["iterations_timed"] == 2 and printed["model_flops_per_iter"] > 0
  # tools/benchmark_summary.py reads the same file back into one row with its projection.
  summary = subprocess.run([sys.executable, "tools/benchmark_summary.py", str(tmp_path),
                            "--iterations_planned=600"], cwd=REPO, capture_output=True, text=True,
                           timeout=60)
  assert summary.returncode == 0, summary.stderr[-2000:]
  (row,) = json.loads((tmp_path / "summary.json").read_text())
  assert row["file"] == "bench.json" and row["precision"] == "float32"
  assert row["projected_minutes"] == pytest.approx(600 * printed["sec_per_iter_median"] / 60)


@pytest.mark.slow
def test_profile_step_writes_a_trace_and_op_tables(tmp_path):
  logdir, out = tmp_path / "prof", tmp_path / "profile.json"
  args = ["tools/profile_step.py", "--flagfile=flags/smoke.flags", "--iterations=1",
          "--warmup_loops=1", f"--logdir={logdir}", f"--output={out}"]
  result = in_process.run_main(*args)
  assert result.returncode == 0, result.stderr[-3000:]
  profile = json.loads(out.read_text())
  assert os.path.exists(profile["trace"]) and profile["trace"].startswith(str(logdir))
  op_types = [name for name, _ in profile["by_op_type"]]
  assert any("Conv2D" in name for name in op_types), op_types
  parts = dict(profile["by_part"])
  for part in ("G forward", "G backward", "D trunk forward", "D trunk backward"):
    assert parts.get(part, 0) > 0, parts
  assert abs(sum(parts.values()) - profile["op_seconds_per_iteration"]) < 1e-6
  # A second run must not write into the first trace's directory.
  again = in_process.run_main(*args)
  assert again.returncode != 0 and "is not empty" in again.stderr


def _gpu_bench(*args, **env):
  return subprocess.run(["bash", "tools/gpu_bench.sh", *args], cwd=REPO,
                        env=dict(os.environ, **env), capture_output=True, text=True, timeout=60)


def test_gpu_bench_dry_run_plans_every_preset_precision_and_xla_setting(tmp_path):
  result = _gpu_bench(str(tmp_path / "out"), "--install", DRY_RUN="1")
  assert result.returncode == 0, result.stderr
  commands = [l[2:] for l in result.stdout.splitlines() if l.startswith("+ ")]
  benches = [c for c in commands if "tools/benchmark.py" in c]
  assert len(benches) == 3 * 3 * 2
  for preset in ("dsprites_reference", "dsprites", "chairs"):
    for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
      for xla in ("false", "true"):
        assert sum(f"--flagfile=flags/{preset}.flags " in c and f"--precision={precision} " in c
                   and f"--jit_compile={xla} " in c for c in benches) == 1
  assert all("--dataset=fake" in c for c in benches if "chairs" in c)
  assert any("tensorflow[and-cuda]==2.21.0" in c for c in commands)
  assert any("oogan_tf.train" in c and "dsprites_reference" in c for c in commands)
  assert commands[-1].startswith("python tools/benchmark_summary.py")
  assert not (tmp_path / "out").exists()  # a dry run runs nothing


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_gpu_bench_without_a_gpu_or_with_bad_arguments_exits_2(tmp_path):
  for args in ((str(tmp_path / "out"),), (), (str(tmp_path / "out"), "--fast")):
    result = _gpu_bench(*args)
    assert result.returncode == 2 and result.stderr.startswith("error: "), (args, result.stderr)
  assert not (tmp_path / "out").exists()


def test_benchmark_eval_times_render_encode_and_each_metric(tmp_path):
  out = tmp_path / "bench_eval.json"
  result = in_process.run_main(
      "tools/benchmark_eval.py", "--export_dir=docs/results/models/dsprites_cpu_study_oogan_s2",
      "--metrics=mig,sap", "--sizes_scale=0.005", "--num_images=64", "--encode_batch_size=64",
      f"--output={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  printed = json.loads(result.stdout.strip().splitlines()[-1])
  assert json.loads(out.read_text()) == printed
  assert printed["render_images_per_sec"] > 0 and printed["encode_images_per_sec"] > 0
  assert set(printed["metrics"]) == {"mig", "sap"}
  for row in printed["metrics"].values():
    assert row["images_encoded"] > 0
    assert 0 < row["projected_full_s"] <= row["projected_full_s_upper"]
  assert printed["projected_full_protocol_s"] == pytest.approx(
      sum(r["projected_full_s"] for r in printed["metrics"].values()))


def test_benchmark_eval_full_runs_the_evaluation_once_with_the_code_cache(tmp_path):
  result = in_process.run_main(
      "tools/benchmark_eval.py", "--export_dir=docs/results/models/dsprites_cpu_study_oogan_s2",
      "--metrics=mig,beta_vae", "--full", "--sizes_scale=0.005")
  assert result.returncode == 0, result.stderr[-3000:]
  printed = json.loads(result.stdout.strip().splitlines()[-1])
  assert printed["sizes_scale"] == 0.005 and printed["full_protocol_s"] > 0
  assert set(printed["metrics"]) == {"mig", "beta_vae"}
  assert 0.0 <= printed["metrics"]["mig"]["scores"]["discrete_mig"] <= 1.0
  assert printed["metrics"]["beta_vae"]["params"]["num_train"] == 50
  enc = printed["encoding"]
  assert enc["code_cache"] and 0 < enc["images_encoded"] <= enc["codes_looked_up"]
