"""Entry point: python -m oogan_tf.export --model_dir=D [--checkpoint=PATH] [--export_dir=E]

Exports the EMA generator and the Q encoder of a run as a SavedModel (default D/export/<iteration>/);
see oogan_tf.export_lib for the signatures. BatchNorm calibration follows the run's config unless
--standing_stats_batches / --encoder_recalibration_batches are given (0 = as the released code).
"""


from absl import flags

from oogan_tf import cli
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
    cli.fail("--model_dir is required")
  try:
    path = export_lib.export_from_checkpoint(_MODEL_DIR.value, _CHECKPOINT.value,
                                             _EXPORT_DIR.value, _STANDING.value,
                                             _RECALIBRATION.value)
  except export_lib.ExportExistsError as e:
    if _EXPORT_DIR.value or not export_lib.is_complete_export(e.path):
      cli.fail(f"{e}")
    # The default path of this checkpoint's iteration: the work is done already.
    print(f"export | this iteration is already exported: {e.path}")
    return
  except (FileNotFoundError, FileExistsError, ValueError) as e:
    cli.fail(f"{e}")
  print(f"export | wrote {path}")


if __name__ == "__main__":
  cli.run(main, __doc__)
