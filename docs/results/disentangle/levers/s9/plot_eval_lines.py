"""Plots the in-training evaluation lines of one run against the iteration, with the untrained range.

    python docs/results/disentangle/levers/s9/plot_eval_lines.py EVAL_LINES.txt OUT.png

EVAL_LINES.txt holds the `eval | step N | key=value±se ...` lines of a training log. The grey bands
are the untrained OOGAN ranges of docs/RESULTS.md (5 inits, RESULTS protocol); the screens here use
smaller sizes (`--eval_sizes_scale=0.25`), so their standard errors are about twice as large.
"""

import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

PANELS = [("factor_vae/eval_accuracy", "FactorVAE (screen)", (0.329, 0.450), 0.70),
          ("mig/discrete_mig", "MIG (screen)", (0.004, 0.032), 0.20),
          ("generator_factors/score", "generator_factors score", (0.0, 0.131), None)]


def main(path: str, out: str) -> None:
  steps, rows = [], []
  for line in open(path):
    if not line.startswith("eval | step"):
      continue
    steps.append(int(re.search(r"step (\d+)", line).group(1)))
    rows.append({k: (float(v), float(e)) for k, v, e in re.findall(r"(\S+)=([-\d.]+)±([-\d.]+)", line)})
  fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.2))
  for ax, (key, title, band, target) in zip(axes, PANELS):
    vals = [r[key] for r in rows]
    ax.errorbar(steps, [v for v, _ in vals], yerr=[e for _, e in vals], marker="o", capsize=3)
    ax.axhspan(*band, color="0.85", label="untrained range")
    if target is not None:
      ax.axhline(target, color="tab:red", linestyle="--", label="issue 16 target")
    ax.set_title(title)
    ax.set_xlabel("iteration")
    ax.legend(fontsize=7, loc="upper left")
  fig.tight_layout()
  fig.savefig(out, dpi=90)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
