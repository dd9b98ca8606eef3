"""tools/eval_curves.py reads in-training evaluations from a run directory's stats.jsonl."""

import importlib.util
import json
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                     "eval_curves.py")
_spec = importlib.util.spec_from_file_location("eval_curves", _PATH)
eval_curves = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eval_curves)


def test_read_run_takes_the_eval_records_of_stats_jsonl(tmp_path):
  summary = {"value": 0.41, "se": 0.03, "min": None, "max": None}
  records = [{"step": 25, "loss/d_hinge": 1.0},
             {"step": 5000, "time": 1.0, "eval": {"factor_vae/eval_accuracy": summary}},
             {"step": 5025, "loss/d_hinge": 0.9}]
  (tmp_path / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  assert eval_curves.read_run(str(tmp_path)) == {5000: {"factor_vae/eval_accuracy": summary}}
