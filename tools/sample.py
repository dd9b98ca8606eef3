"""Writes a grid of samples from a SavedModel export (uses only tf.saved_model.load).

    python tools/sample.py --export_dir=E --num=64 --seed=0 --output=grid.png
"""

import argparse
import os
import sys

import tensorflow as tf

from oogan_tf import visualize


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--export_dir", required=True)
  parser.add_argument("--num", type=int, default=64)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--ncols", type=int, default=8)
  parser.add_argument("--output", default="grid.png")
  args = parser.parse_args(argv)
  if args.num < 1:
    parser.error(f"--num={args.num} must be >= 1")
  if not os.path.isdir(args.export_dir):
    parser.error(f"--export_dir={args.export_dir} is not a directory")
  model = tf.saved_model.load(args.export_dir)
  out = model.signatures["sample_from_seed"](seed=tf.constant(args.seed, tf.int64),
                                             num=tf.constant(args.num, tf.int32))
  visualize.save_grid_png(out["images"].numpy(), args.ncols, args.output)
  print(f"wrote {args.output} ({args.num} samples, seed {args.seed})")
  return 0


if __name__ == "__main__":
  sys.exit(main())
