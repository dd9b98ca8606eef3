"""tools/benchmark.py runs the real train loop on the smoke preset and reports every key."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = {"sec_per_iter_median", "sec_per_iter_p10", "sec_per_iter_p90", "sec_per_iter_min",
        "sec_per_iter_max", "images_per_sec", "pipeline_images_per_sec", "model_flops_per_iter",
        "achieved_flops_per_sec", "peak_matmul_flops_per_sec", "fraction_of_peak", "precision",
        "jit_compile", "preset", "machine", "iterations_timed", "replicas"}


def test_benchmark_smoke_writes_one_json_line(tmp_path):
  out = tmp_path / "bench.json"
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  result = subprocess.run(
      [sys.executable, "tools/benchmark.py", "--flagfile=flags/smoke.flags", "--iterations=2",
       "--warmup_loops=1", "--pipeline_batches=2", f"--output={out}"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  printed = json.loads(result.stdout.strip().splitlines()[-1])
  assert KEYS <= set(printed)
  assert json.loads(out.read_text()) == printed
  assert printed["iterations_timed"] == 2 and printed["model_flops_per_iter"] > 0
