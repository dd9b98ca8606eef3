"""Plots and tabulates evaluation JSONs of runs over training, beside the reference rows.

    python tools/eval_curves.py --run=oogan:RUN/eval_new --run=infogan:RUN2/eval_new \
        --baseline=untrained:B/untrained_oogan.json --baseline=oracle:B/oracle.json \
        --output_dir=docs/results/curves

Each --run names a directory of `eval_<iteration>.json` files (python -m oogan_tf.evaluate
--model_dir=... --checkpoint=.../ckpt-<iteration> --output=DIR/eval_<iteration>.json) or a run
directory trained with --eval_every_steps (its stats.jsonl evaluation records); each
--baseline a `python -m oogan_tf.evaluate --baseline=...` JSON. Writes `curve_<metric>.png` per
score (value ± standard error against the iteration; the untrained range as a grey band, other
reference rows as dashed lines) and `curves.md` (every run's scores at every iteration, with
standard errors, and the reference rows).
"""

from __future__ import annotations

import glob
import json
import os
import re

from absl import app
from absl import flags

from oogan_tf import eval_report
from oogan_tf import shared_flags

_RUNS = flags.DEFINE_multi_string("run", [], "LABEL:DIR of eval_<iteration>.json files.")
_BASELINES = flags.DEFINE_multi_string("baseline", [], "LABEL:PATH of a baseline JSON.")
_OUTPUT = shared_flags.string("output_dir", None, "Where the plots and curves.md go.")
_SCORES = flags.DEFINE_list(
    "scores", ["factor_vae/eval_accuracy", "mig/discrete_mig", "generator_factors/score",
               "generator_factors/coverage/mean", "generator_factors/c_variance_share/mean"],
    "The '<metric>/<key>' scores to plot and tabulate.")


def _label_path(text: str, flag: str) -> tuple[str, str]:
  if ":" not in text:
    raise app.UsageError(f"--{flag}={text!r} must be LABEL:PATH")
  label, path = text.split(":", 1)
  return label, path


def read_run(directory: str) -> dict[int, dict[str, dict]]:
  """{iteration: eval_report.score_summaries} of a directory of eval_<iteration>.json files, or
  of a run directory's in-training evaluations (the "eval" records of its stats.jsonl, already in
  that summary form)."""
  out = {}
  for path in glob.glob(os.path.join(directory, "eval_*.json")):
    match = re.fullmatch(r"eval_(\d+)\.json", os.path.basename(path))
    if match:
      with open(path) as f:
        out[int(match.group(1))] = eval_report.score_summaries(json.load(f))
  stats = os.path.join(directory, "stats.jsonl")
  if os.path.exists(stats):
    with open(stats) as f:
      for record in (json.loads(line) for line in f if line.strip()):
        if "eval" in record:
          out.setdefault(int(record["step"]), record["eval"])
  return dict(sorted(out.items()))


def read_baseline(path: str) -> dict[str, dict]:
  """eval_report.score_summaries of a baseline JSON (min/max: untrained only)."""
  with open(path) as f:
    return eval_report.score_summaries(json.load(f))


def _fmt(summary: dict | None) -> str:
  if summary is None:
    return "n/a"
  value, se = summary["value"], summary["se"]
  return f"{value:.3f}" if se is None else f"{value:.3f} ± {se:.3f}"


def markdown(runs: dict, baselines: dict, scores: list[str]) -> str:
  lines = ["| run | iteration | " + " | ".join(scores) + " |",
           "|---|---|" + "---|" * len(scores)]
  for label, curve in runs.items():
    for it, values in curve.items():
      lines.append(f"| {label} | {it} | " + " | ".join(_fmt(values.get(k)) for k in scores)
                   + " |")
  for label, values in baselines.items():
    cells = []
    for k in scores:
      v = values.get(k)
      if v is None:
        cells.append("n/a")
      elif v["min"] is not None:
        cells.append(f"{_fmt(v)} [{v['min']:.3f}-{v['max']:.3f}]")
      else:
        cells.append(_fmt(v))
    lines.append(f"| *{label}* | - | " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"


def plot(runs: dict, baselines: dict, score: str, path: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(5.5, 3.6))
  for i, (label, curve) in enumerate(runs.items()):
    its = [it for it in curve if score in curve[it]]
    values = [curve[it][score]["value"] for it in its]
    errors = [curve[it][score]["se"] or 0.0 for it in its]
    ax.errorbar(its, values, yerr=errors, color=f"C{i}", marker="o", ms=3, capsize=2,
                label=label)
  for j, (label, values) in enumerate(baselines.items()):
    ref = values.get(score)
    if ref is None:
      continue
    if ref["min"] is not None:
      ax.axhspan(ref["min"], ref["max"], color=f"C{j + 5}", alpha=0.25, lw=0,
                 label=f"{label} (range)")
    else:
      ax.axhline(ref["value"], color=f"C{j + 5}", ls="--", lw=1, label=label)
  ax.set_xlabel("training iteration")
  ax.set_ylabel(score)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv):
  del argv
  if not _OUTPUT.value:
    raise app.UsageError("--output_dir is required")
  runs = {label: read_run(d) for label, d in (_label_path(r, "run") for r in _RUNS.value)}
  baselines = {label: read_baseline(p)
               for label, p in (_label_path(b, "baseline") for b in _BASELINES.value)}
  os.makedirs(_OUTPUT.value, exist_ok=True)
  for score in _SCORES.value:
    plot(runs, baselines, score,
         os.path.join(_OUTPUT.value, f"curve_{score.replace('/', '_')}.png"))
  with open(os.path.join(_OUTPUT.value, "curves.md"), "w") as f:
    f.write(markdown(runs, baselines, _SCORES.value))
  print(f"wrote {_OUTPUT.value}/curves.md and {len(_SCORES.value)} plots")


if __name__ == "__main__":
  app.run(main)
