"""Entry point: python -m oogan_tf.export --model_dir=D [--checkpoint=PATH] [--export_dir=E]

Exports the EMA generator and the Q encoder of a run as a SavedModel (default D/export/<iteration>/);
see oogan_tf.export_lib for the signatures. BatchNorm calibration follows the run's config unless
--standing_stats_batches / --encoder_recalibration_batches are given (0 = as the released code).
"""

import sys

from absl import app
from absl import flags

from oogan_tf import export_lib

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Run directory to export from.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Checkpoint path (default: newest).")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Output (default MODEL_DIR/export/<iter>).")
_STANDING = flags.DEFINE_integer("standing_stats_batches", None, "EMA-G standing-statistics "
                                 "batches (default: the run's config; 0 = the live G's).")
_RECALIBRATION = flags.DEFINE_integer("encoder_recalibration_batches", None, "Real batches for "
                                      "D's BatchNorm recalibration (default: the run's config).")


def main(argv):
  del argv
  if not _MODEL_DIR.value:
    sys.exit("error: --model_dir is required")
  try:
    path = export_lib.export_from_checkpoint(_MODEL_DIR.value, _CHECKPOINT.value,
                                             _EXPORT_DIR.value, _STANDING.value,
                                             _RECALIBRATION.value)
  except (FileNotFoundError, FileExistsError, ValueError) as e:
    sys.exit(f"error: {e}")
  print(f"export | wrote {path}")


if __name__ == "__main__":
  app.run(main)
