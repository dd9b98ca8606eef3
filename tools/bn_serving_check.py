"""Compares the EMA generator's images with batch statistics (training-time samples) and with
inference statistics: the live G's running statistics (the released code's export) and the
standing statistics of the EMA weights (what this project exports), on the same codes.

    python tools/bn_serving_check.py --model_dir=D [--checkpoint=D/ckpt/ckpt-N] [--num=256
        --batch=64 --seed=0 --standing_batches=32]

Prints one JSON line: pixel mean/std of each mode, the mean absolute difference of each inference
mode from the batch-statistics images, and (for binary data such as dSprites) the fraction of
"on" pixels (> 0) in each mode.
"""

import argparse
import json
import sys

import numpy as np

from oogan_tf import calibration, export_lib


def _stats(x: np.ndarray) -> dict:
  return {"mean": float(x.mean()), "std": float(x.std()), "on_fraction": float((x > 0).mean())}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--num", type=int, default=256)
  parser.add_argument("--batch", type=int, default=64, help="batch of the batch-statistics mode")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--checkpoint", default=None, help="default: the newest")
  parser.add_argument("--standing_batches", type=int, default=32)
  args = parser.parse_args(argv)
  cfg, ema, _, iteration = export_lib.restore_for_serving(args.model_dir, args.checkpoint)
  rs = np.random.RandomState(args.seed)
  c = rs.uniform(0, 1, (args.num, cfg.model.c_dim)).astype(np.float32)
  z = rs.normal(size=(args.num, cfg.model.z_dim)).astype(np.float32)
  batches = [(c[i:i + args.batch], z[i:i + args.batch]) for i in range(0, args.num, args.batch)]
  def images(training):
    return np.concatenate([ema(inputs, training=training).numpy() for inputs in batches])

  # Inference first: a training-mode call updates the running statistics it would read.
  live = images(False)
  batch = images(True)
  calibration.standing_generator_statistics(ema, cfg, args.standing_batches)
  standing = images(False)
  print(json.dumps({
      "model_dir": args.model_dir, "iteration": iteration, "num": args.num,
      "batch": args.batch, "standing_batches": args.standing_batches,
      "batch_stats": _stats(batch), "live_running_stats": _stats(live),
      "standing_stats": _stats(standing),
      "mean_abs_diff_live": float(np.abs(batch - live).mean()),
      "mean_abs_diff_standing": float(np.abs(batch - standing).mean()),
  }))
  return 0


if __name__ == "__main__":
  sys.exit(main())
