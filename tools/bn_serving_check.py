"""Compares the EMA generator's images with batch statistics (training-time samples) and with
inference statistics (what the SavedModel export serves), on the same codes.

    python tools/bn_serving_check.py --model_dir=D [--num=256 --batch=64 --seed=0]

Prints one JSON line: pixel mean/std of both modes, their mean absolute difference, and (for
binary data such as dSprites) the fraction of "on" pixels (> 0) in each mode.
"""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf

from oogan_tf import export_lib


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--num", type=int, default=256)
  parser.add_argument("--batch", type=int, default=64, help="batch of the batch-statistics mode")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  cfg, ema, _, iteration = export_lib.restore_for_serving(args.model_dir)
  rs = np.random.RandomState(args.seed)
  c = rs.uniform(0, 1, (args.num, cfg.model.c_dim)).astype(np.float32)
  z = rs.normal(size=(args.num, cfg.model.z_dim)).astype(np.float32)
  batches = [(c[i:i + args.batch], z[i:i + args.batch]) for i in range(0, args.num, args.batch)]
  # Inference first: a training-mode call updates the moving statistics it would read.
  b = np.concatenate([ema(inputs, training=False).numpy() for inputs in batches])
  a = np.concatenate([ema(inputs, training=True).numpy() for inputs in batches])
  print(json.dumps({
      "model_dir": args.model_dir, "iteration": iteration, "num": args.num,
      "batch": args.batch,
      "batch_stats": {"mean": float(a.mean()), "std": float(a.std()),
                      "on_fraction": float((a > 0).mean())},
      "inference_stats": {"mean": float(b.mean()), "std": float(b.std()),
                          "on_fraction": float((b > 0).mean())},
      "mean_abs_diff": float(np.abs(a - b).mean()),
  }))
  return 0


if __name__ == "__main__":
  sys.exit(main())
