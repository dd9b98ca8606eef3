"""Summarises a folder of tools/benchmark.py JSON files into one table.

    python tools/benchmark_summary.py DIR [--iterations_planned=50000]

Writes DIR/summary.json (a list, one row per bench_*.json / *.json benchmark line, sorted by file
name) and prints each row as one JSON line. Each row has the file, preset size, precision, XLA
setting, median seconds per iteration, images/s, fraction of the matmul peak, and the projected
wall time in minutes of a run of --iterations_planned iterations at that median.
"""

from __future__ import annotations

import glob
import json
import os
import sys

from absl import app
from absl import flags

from oogan_tf import cli

_PLANNED = flags.DEFINE_integer("iterations_planned", 50000,
                                "Iterations of the run whose wall time is projected.")


def summarise(folder: str, iterations_planned: int) -> list[dict]:
  """One row per benchmark JSON in folder (files whose last line has sec_per_iter_median)."""
  rows = []
  for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
    if os.path.basename(path) == "summary.json":
      continue
    with open(path, encoding="utf-8") as f:
      lines = f.read().strip().splitlines()
    try:
      result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
      continue
    if "sec_per_iter_median" not in result:
      continue
    seconds = result["sec_per_iter_median"]
    preset = result.get("preset", {})
    rows.append({
        "file": os.path.basename(path),
        "image_size": preset.get("image_size"), "batch_size": preset.get("batch_size"),
        "precision": result.get("precision"), "jit_compile": result.get("jit_compile"),
        "sec_per_iter_median": seconds, "images_per_sec": result.get("images_per_sec"),
        "fraction_of_peak": result.get("fraction_of_peak"),
        "projected_minutes": iterations_planned * seconds / 60.0,
    })
  return rows


def main(argv):
  if len(argv) != 2 or not os.path.isdir(argv[1]):
    cli.fail(f"give one folder of benchmark JSON files (got {argv[1:]!r})")
  rows = summarise(argv[1], _PLANNED.value)
  if not rows:
    cli.fail(f"{argv[1]} holds no tools/benchmark.py JSON file")
  with open(os.path.join(argv[1], "summary.json"), "w", encoding="utf-8") as f:
    json.dump(rows, f, indent=1)
  for row in rows:
    print(json.dumps(row))


if __name__ == "__main__":
  if "--help" in sys.argv or "-h" in sys.argv:
    print(__doc__)
    sys.exit(0)
  app.run(main, flags_parser=cli.parse_flags)
