"""Entry point: python -m oogan_tf.export --model_dir=D [--checkpoint=PATH] [--export_dir=E]

Exports the EMA generator and the Q encoder of a run as a SavedModel (default D/export/<iteration>/);
see oogan_tf.export_lib for the signatures.
"""

import sys

from absl import app
from absl import flags

from oogan_tf import export_lib

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Run directory to export from.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Checkpoint path (default: newest).")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Output (default MODEL_DIR/export/<iter>).")


def main(argv):
  del argv
  if not _MODEL_DIR.value:
    sys.exit("error: --model_dir is required")
  try:
    path = export_lib.export_from_checkpoint(_MODEL_DIR.value, _CHECKPOINT.value, _EXPORT_DIR.value)
  except (FileNotFoundError, FileExistsError) as e:
    sys.exit(f"error: {e}")
  print(f"export | wrote {path}")


if __name__ == "__main__":
  app.run(main)
