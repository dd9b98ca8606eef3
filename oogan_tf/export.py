"""Entry point: python -m oogan_tf.export --model_dir=D [--checkpoint=PATH] [--export_dir=E]

Exports the EMA generator and the Q encoder of a run as a SavedModel (default D/export/<iteration>/);
see oogan_tf.export_lib for the signatures. BatchNorm calibration follows the run's config unless
--standing_stats_batches / --encoder_recalibration_batches are given (0 = as the released code).
"""


from absl import flags

from oogan_tf import cli
from oogan_tf import shared_flags
from oogan_tf import export_lib
from oogan_tf.config import TrainConfig

# Shared names (train and evaluate define them too), so that the entry points can share a
# process. The calibration sizes keep train's defaults; only a value given on the command line
# replaces the run's config.
_DEFAULTS = TrainConfig()
shared_flags.define_locations({
    "model_dir": "Run directory to export from.",
    "checkpoint": "Checkpoint path (default: newest).",
    "export_dir": "Output (default MODEL_DIR/export/<iter>)."})
shared_flags.define_if_absent(flags.DEFINE_integer, "standing_stats_batches",
                              _DEFAULTS.standing_stats_batches,
                              "EMA-G standing-statistics batches; not given: the run's config "
                              "(0 = the live G's).")
shared_flags.define_if_absent(flags.DEFINE_integer, "encoder_recalibration_batches",
                              _DEFAULTS.encoder_recalibration_batches,
                              "Real batches for D's BatchNorm recalibration; not given: the run's "
                              "config.")
FLAGS = flags.FLAGS


def _given(name: str):
  """The flag's value if given on the command line, else None (the run's config decides)."""
  return FLAGS[name].value if FLAGS[name].present else None


def main(argv):
  del argv
  if not FLAGS.model_dir:
    cli.fail("--model_dir is required")
  try:
    path = export_lib.export_from_checkpoint(FLAGS.model_dir, FLAGS.checkpoint, FLAGS.export_dir,
                                             _given("standing_stats_batches"),
                                             _given("encoder_recalibration_batches"))
  except export_lib.ExportExistsError as e:
    if FLAGS.export_dir or not export_lib.is_complete_export(e.path):
      cli.fail(f"{e}")
    # The default path of this checkpoint's iteration: the work is done already.
    print(f"export | this iteration is already exported: {e.path}")
    return
  except (FileNotFoundError, FileExistsError, ValueError) as e:
    cli.fail(f"{e}")
  print(f"export | wrote {path}")


if __name__ == "__main__":
  cli.run(main, __doc__)
