"""tools/plot_training.py: curves from a run's stats.jsonl, resolution changes marked."""
import importlib.util
import json
import os

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                     "plot_training.py")
_spec = importlib.util.spec_from_file_location("plot_training", _PATH)
plot_training = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_training)


def _write_stats(run):
  run.mkdir()
  lines = [{"step": s, "loss/d_wgan": -s / 10, "progress/resolution": 8.0 * 2 ** (s // 4)}
           for s in range(1, 12)] + [{"step": 8, "eval": {"fid": 1.0}}]
  (run / "stats.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")


def test_plots_the_keys_and_finds_the_resolution_changes(tmp_path):
  _write_stats(tmp_path / "run")
  records = plot_training.read_stats(str(tmp_path / "run"))
  assert len(records) == 11  # the evaluation record is left out
  out = tmp_path / "curves.png"
  plot_training.plot(records, ["loss/d_wgan", "progress/resolution"], str(out))
  assert out.stat().st_size > 1000


def test_unknown_keys_and_missing_runs_are_named(tmp_path):
  _write_stats(tmp_path / "run")
  records = plot_training.read_stats(str(tmp_path / "run"))
  with pytest.raises(ValueError, match="loss/nope not in stats.jsonl; known: loss/d_wgan"):
    plot_training.plot(records, ["loss/nope"], str(tmp_path / "x.png"))
  with pytest.raises(ValueError, match="has no stats.jsonl"):
    plot_training.read_stats(str(tmp_path / "missing"))
