"""Compares the EMA generator's images with batch statistics (training-time samples) and with
inference statistics: the live G's running statistics (the released code's export) and the
standing statistics of the EMA weights (what this project exports), on the same codes.

    python tools/bn_serving_check.py --model_dir=D [--checkpoint=D/ckpt/ckpt-N] [--num=256
        --batch=64 --seed=0 --standing_batches=32]

Prints one JSON line: pixel mean/std of each mode, the mean absolute difference of each inference
mode from the batch-statistics images, and (for binary data such as dSprites) the fraction of
"on" pixels (> 0) in each mode.
"""

import json

from absl import flags
import numpy as np

from oogan_tf import cli
from oogan_tf import shared_flags

_MODEL_DIR = shared_flags.string("model_dir", None, "Run directory to restore (required).")
_CHECKPOINT = shared_flags.string("checkpoint", None, "Checkpoint prefix (default: the newest).")
_NUM = shared_flags.integer("num", 256, "Images per mode (1-100000).")
_BATCH = shared_flags.integer("batch", 64, "Batch of the batch-statistics mode (1-4096).")
_SEED = shared_flags.integer("seed", 0, "Seed of the codes and noise.")
_STANDING = shared_flags.integer("standing_batches", 32,
                                 "Batches of the standing statistics (0-10000).")


def _stats(x: np.ndarray) -> dict:
  return {"mean": float(x.mean()), "std": float(x.std()), "on_fraction": float((x > 0).mean())}


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  if not _MODEL_DIR.value:
    cli.fail("--model_dir is required: a run directory written by python -m oogan_tf.train")
  cli.check_ranges(flags.FLAGS, {"num": (1, 100_000), "batch": (1, 4096),
                                 "standing_batches": (0, 10_000)})
  from oogan_tf import calibration, export_lib, run_dir  # pylint: disable=g-import-not-at-top
  try:
    cfg, ema, _, iteration = export_lib.restore_for_serving(_MODEL_DIR.value, _CHECKPOINT.value)
  except (FileNotFoundError, run_dir.RunDirectoryError) as e:
    cli.fail(str(e))
  num, size = _NUM.value, _BATCH.value
  rs = np.random.RandomState(_SEED.value)
  c = rs.uniform(0, 1, (num, cfg.model.c_dim)).astype(np.float32)
  z = rs.normal(size=(num, cfg.model.z_dim)).astype(np.float32)
  batches = [(c[i:i + size], z[i:i + size]) for i in range(0, num, size)]

  def images(training):
    return np.concatenate([ema(inputs, training=training).numpy() for inputs in batches])

  # Inference first: a training-mode call updates the running statistics it would read.
  live = images(False)
  batch = images(True)
  calibration.standing_generator_statistics(ema, cfg, _STANDING.value)
  standing = images(False)
  print(json.dumps({
      "model_dir": _MODEL_DIR.value, "iteration": iteration, "num": num,
      "batch": size, "standing_batches": _STANDING.value,
      "batch_stats": _stats(batch), "live_running_stats": _stats(live),
      "standing_stats": _stats(standing),
      "mean_abs_diff_live": float(np.abs(batch - live).mean()),
      "mean_abs_diff_standing": float(np.abs(batch - standing).mean()),
  }))


if __name__ == "__main__":
  cli.run(main, __doc__)
