"""Writes latent traversals from a SavedModel export (uses only tf.saved_model.load).

One row per code dimension (or one file per dimension with --per_dimension), each sweeping that
dimension from --low to --high with z and the other codes fixed by --seed. The sheet is labelled
(rows c00..cNN, columns the swept values) and upscaled to at least --min_cell pixels per image;
--plain writes the bare grid at the export's resolution instead.

    python tools/traverse.py --export_dir=E --output=traversal.png [--steps=10 --low=0 --high=1]
"""

import argparse
import json
import os
import sys

import numpy as np
import tensorflow as tf

from oogan_tf import visualize


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--export_dir", required=True)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--low", type=float, default=None, help="default: the export's code range")
  parser.add_argument("--high", type=float, default=None)
  parser.add_argument("--per_dimension", action="store_true",
                      help="one PNG per dimension: OUTPUT stem + _cNN.png")
  parser.add_argument("--plain", action="store_true",
                      help="the bare image grid (no labels, no upscaling)")
  parser.add_argument("--min_cell", type=int, default=48,
                      help="labelled sheet: upscale each image to at least this many pixels")
  parser.add_argument("--output", default="traversal.png")
  args = parser.parse_args(argv)
  if args.steps < 2:
    parser.error(f"--steps={args.steps} must be >= 2")
  meta_path = os.path.join(args.export_dir, "assets", "oogan_metadata.json")
  if not os.path.exists(meta_path):
    parser.error(f"--export_dir={args.export_dir} has no assets/oogan_metadata.json")
  with open(meta_path) as f:
    meta = json.load(f)
  low = meta["code_range"][0] if args.low is None else args.low
  high = meta["code_range"][1] if args.high is None else args.high
  model = tf.saved_model.load(args.export_dir)
  rows = []
  for dim in range(meta["c_dim"]):
    out = model.signatures["traverse"](
        seed=tf.constant(args.seed, tf.int64), dim=tf.constant(dim, tf.int32),
        steps=tf.constant(args.steps, tf.int32), low=tf.constant(low, tf.float32),
        high=tf.constant(high, tf.float32))
    rows.append(out["images"].numpy())
  if args.per_dimension:
    stem, ext = os.path.splitext(args.output)
    for dim, images in enumerate(rows):
      visualize.save_grid_png(images, args.steps, f"{stem}_c{dim:02d}{ext or '.png'}")
    print(f"wrote {len(rows)} files {stem}_cNN{ext or '.png'}")
  elif args.plain:
    visualize.save_grid_png(np.concatenate(rows), args.steps, args.output)
    print(f"wrote {args.output} ({len(rows)} dimensions x {args.steps} steps, {low}..{high})")
  else:
    values = np.linspace(low, high, args.steps)
    sheet = visualize.labelled_sheet(visualize.to_uint8(np.stack(rows), (0.0, 1.0)),
                                     [f"c{d:02d}" for d in range(len(rows))],
                                     [f"{v:.2f}" for v in values], min_cell=args.min_cell)
    visualize.save_png(sheet, args.output)
    print(f"wrote {args.output} ({len(rows)} dimensions x {args.steps} steps, {low}..{high})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
