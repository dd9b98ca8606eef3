"""Compares models over seeds from their evaluation JSONs: mean ± standard error over seeds
[range, n] of each score and, against a reference group, the difference ± its standard error,
Welch's two-sided p-value and a verdict (ahead / behind at p < --alpha, 0.05 by default, else
level, with the smallest difference those seeds would detect with 80 % power); each difference
carries its (1 - alpha) confidence interval, in the table and in the .json beside --output.

    python tools/compare_evals.py \
        --group='oogan:runs/evals/oogan_s*_12000.json' \
        --group='infogan:runs/evals/infogan_s0_12000.json,runs/evals/infogan_s1_12000.json' \
        --reference=infogan --output=compare.md

Each --group is LABEL:PATHS, PATHS a comma-separated list of files or glob patterns, one
evaluation JSON per seed (`python -m oogan_tf.evaluate --export_dir=... --output=...`, all at the
same metrics, protocol and sizes). Prints the Markdown table; --output also writes it, and its
numbers go to the same path with .json.
"""

from __future__ import annotations

import glob
import json
import os

from absl import flags

from oogan_tf import cli
from oogan_tf import seed_comparison
from oogan_tf import shared_flags

_GROUPS = flags.DEFINE_multi_string("group", [], "LABEL:PATHS of one model's evaluation JSONs "
                                    "(comma-separated files or globs, one per seed).")
_REFERENCE = shared_flags.string("reference", None,
                                 "LABEL of the group the others are compared with (optional).")
_SCORES = flags.DEFINE_list("scores", ["factor_vae/eval_accuracy", "mig/discrete_mig"],
                            "The '<metric>/<key>' scores to compare.")
_ALPHA = flags.DEFINE_float("alpha", seed_comparison.ALPHA,
                             "Two-sided significance level of the verdicts, in (0, 0.5]; lower it "
                             "for a later look at a growing seed study or for several "
                             "comparisons at once.")
_OUTPUT = shared_flags.string("output", None,
                              "Markdown file to write (and its numbers beside it as .json); "
                              "never overwritten.")


def group_paths(text: str) -> tuple[str, list[str]]:
  """(label, sorted unique files) of one --group value; fail() on a bad value or no file."""
  label, sep, spec = text.partition(":")
  if not sep or not label or not spec:
    cli.fail(f"--group={text!r} must be LABEL:PATHS (comma-separated files or globs)")
  paths: list[str] = []
  for pattern in spec.split(","):
    found = sorted(glob.glob(pattern))
    if not found:
      cli.fail(f"--group={text!r}: {pattern!r} matches no file")
    paths += [p for p in found if p not in paths]
  return label, paths


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  if not _GROUPS.value:
    cli.fail("--group is required (one per model: LABEL:PATHS)")
  groups = dict(group_paths(g) for g in _GROUPS.value)
  if len(groups) != len(_GROUPS.value):
    cli.fail("--group labels must be distinct")
  if _REFERENCE.value is not None and _REFERENCE.value not in groups:
    cli.fail(f"--reference={_REFERENCE.value!r} is not a --group label; labels: "
             f"{', '.join(groups)}")
  try:
    alpha = seed_comparison.check_alpha(_ALPHA.value)
  except ValueError as e:
    cli.fail(f"--alpha={_ALPHA.value!r}: {e}")
  numbers_path = os.path.splitext(_OUTPUT.value)[0] + ".json" if _OUTPUT.value else None
  if _OUTPUT.value:
    if numbers_path == _OUTPUT.value:
      cli.fail(f"--output={_OUTPUT.value} must not end in .json (the numbers go there)")
    for path in (_OUTPUT.value, numbers_path):
      if os.path.exists(path):
        cli.fail(f"--output={_OUTPUT.value}: {path} exists; choose a new path")
  try:
    scores = {label: seed_comparison.load_scores(paths, _SCORES.value)
              for label, paths in groups.items()}
  except (OSError, ValueError) as e:
    cli.fail(str(e))
  table = seed_comparison.compare(scores, reference=_REFERENCE.value, alpha=alpha)
  text = seed_comparison.comparison_markdown(table, _SCORES.value)
  print(text, end="")
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as f:
      f.write(text)
    with open(numbers_path, "w") as f:
      json.dump({"groups": groups, "reference": _REFERENCE.value, "scores": _SCORES.value,
                 "alpha": alpha, "power": seed_comparison.POWER,
                 "table": table}, f, indent=1)


if __name__ == "__main__":
  cli.run(main, __doc__)
