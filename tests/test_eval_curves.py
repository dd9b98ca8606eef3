"""tools/eval_curves.py reads in-training evaluations from a run directory's stats.jsonl.

Run in a subprocess: the tool defines absl flags (--baseline among them) at import, and the
suite's in-process CLI tests share the global flag registry.
"""

import json
import os
import subprocess
import sys

_TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def test_read_run_takes_the_eval_records_of_stats_jsonl(tmp_path):
  summary = {"value": 0.41, "se": 0.03, "min": None, "max": None}
  records = [{"step": 25, "loss/d_hinge": 1.0},
             {"step": 5000, "time": 1.0, "eval": {"factor_vae/eval_accuracy": summary}},
             {"step": 5025, "loss/d_hinge": 0.9}]
  (tmp_path / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import eval_curves; "
          "print(json.dumps(eval_curves.read_run(sys.argv[2])))")
  proc = subprocess.run([sys.executable, "-c", code, _TOOLS, str(tmp_path)],
                        capture_output=True, text=True, check=True)
  assert json.loads(proc.stdout) == {"5000": {"factor_vae/eval_accuracy": summary}}
