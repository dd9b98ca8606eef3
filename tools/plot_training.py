"""Plots a run's training losses from its stats.jsonl (what the console and TensorBoard show), for
docs and for runs whose TensorBoard is not at hand.

    python tools/plot_training.py --model_dir=runs/sg_dsprites --png=curves.png \
        --keys=loss/d_wgan,loss/gradient_penalty,loss/info_reconstruction

One panel per key (the per-loop means against the iteration; a symmetric log scale for a key
whose values pass 10^4 in magnitude). For a StyleGAN-based run, dashed
lines mark where the resolution (progress/resolution) changes, labelled with the new size.
Unknown keys are named in one error line (exit 2).
"""

from __future__ import annotations

import json
import os
import sys

from absl import app
from absl import flags
import matplotlib

from oogan_tf import shared_flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position

# --model_dir is shared with the training flags, so this module imports into a process that
# defined them.
shared_flags.define_if_absent(flags.DEFINE_string, "model_dir", None,
                              "Run directory holding stats.jsonl.")
_PNG = flags.DEFINE_string("png", None, "PNG file to write.")
_KEYS = flags.DEFINE_list("keys", ["loss/d_total", "loss/g_adv", "loss/info"],
                          "stats.jsonl keys to plot, one panel each.")


def read_stats(model_dir: str) -> list[dict]:
  """The per-loop records of model_dir/stats.jsonl (evaluation records left out)."""
  path = os.path.join(model_dir, "stats.jsonl")
  if not os.path.isfile(path):
    raise ValueError(f"--model_dir={model_dir} has no stats.jsonl; pass a run directory")
  with open(path) as f:
    records = [json.loads(line) for line in f if line.strip()]
  return [r for r in records if "eval" not in r and "step" in r]


def plot(records: list[dict], keys: list[str], output: str) -> None:
  """Writes one panel per key against the iteration, resolution changes marked."""
  missing = [k for k in keys if not any(k in r for r in records)]
  if missing:
    known = sorted({k for r in records for k in r if isinstance(r[k], (int, float))})
    raise ValueError(f"--keys: {', '.join(missing)} not in stats.jsonl; known: {', '.join(known)}")
  changes, last = [], None
  for r in records:
    res = r.get("progress/resolution")
    if res is not None and res != last:
      if last is not None:
        changes.append((r["step"], int(res)))
      last = res
  fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True, squeeze=False)
  for ax, key in zip(axes[:, 0], keys):
    points = [(r["step"], r[key]) for r in records if key in r]
    ax.plot([p[0] for p in points], [p[1] for p in points], lw=1)
    ax.set_ylabel(key.split("/")[-1], fontsize=8)
    if max(abs(p[1]) for p in points) > 1e4:  # a diverging loss would flatten the rest
      ax.set_yscale("symlog")
    for step, res in changes:
      ax.axvline(step, color="grey", ls="--", lw=0.8)
      ax.text(step, ax.get_ylim()[1], f" {res}px", fontsize=7, va="top")
  axes[-1, 0].set_xlabel("iteration")
  fig.tight_layout()
  fig.savefig(output, dpi=100)
  plt.close(fig)


def main(argv):
  del argv
  model_dir = flags.FLAGS.model_dir
  if not model_dir or not _PNG.value:
    print("error: --model_dir and --png are required", file=sys.stderr)
    return 2
  try:
    plot(read_stats(model_dir), _KEYS.value, _PNG.value)
  except ValueError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {_PNG.value}")
  return 0


if __name__ == "__main__":
  app.run(main)
