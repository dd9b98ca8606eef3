"""Entry point: python -m oogan_tf.train --flagfile=flags/<preset>.flags [--flag=value ...]

Flags are turned into one validated, frozen TrainConfig (later flags win over the flagfile); the
library never reads FLAGS. `--dry_run` prints the resolved config and parameter counts and exits.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

from oogan_tf import config_flags
from oogan_tf.config import TrainConfig

config_flags.define_config_flags()
flags.DEFINE_bool("dry_run", False, "Print the resolved config and parameter counts, then exit.")

FLAGS = flags.FLAGS


def dry_run(cfg: TrainConfig) -> None:
  """Prints the resolved config and the trainable parameter counts of every part."""
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.trainer import Trainer  # pylint: disable=g-import-not-at-top
  data_lib.validate(cfg.data_config())
  print(cfg.to_json())
  for name, count in Trainer(cfg).parameter_counts().items():
    print(f"params/{name}: {count:,}")


def main(argv):
  del argv
  try:
    cfg = config_flags.config_from_flags(FLAGS)
  except ValueError as e:
    sys.exit(f"error: {e}")
  if FLAGS.dry_run:
    dry_run(cfg)
    return
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf import train_lib  # pylint: disable=g-import-not-at-top
  try:
    train_lib.train(cfg, command_line=" ".join(sys.argv))
  except (train_lib.RunDirectoryError, data_lib.DatasetError) as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  app.run(main)
