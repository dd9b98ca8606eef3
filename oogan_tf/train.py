"""Entry point: python -m oogan_tf.train --flagfile=flags/<preset>.flags [--flag=value ...]

Flags are turned into one validated, frozen TrainConfig (later flags win over the flagfile); the
library never reads FLAGS. Without a --flagfile, `--dataset=X` brings the values of the matching
preset (oogan_tf.presets: chairs, celeba, mnist, dsprites) for every flag not given.
`--dry_run` prints the resolved config and parameter counts and exits.
"""

from __future__ import annotations

import os
import sys

from absl import flags

from oogan_tf import cli
from oogan_tf import config_flags
from oogan_tf import presets
from oogan_tf import shared_flags
from oogan_tf.config import TrainConfig

config_flags.define_config_flags()
shared_flags.boolean("dry_run", False,
                     "Print the resolved config and parameter counts, then exit.")

FLAGS = flags.FLAGS


def dry_run(cfg: TrainConfig) -> None:
  """Prints the resolved config and the trainable parameter counts of every part."""
  from oogan_tf.trainer import new_trainer  # pylint: disable=g-import-not-at-top
  print(cfg.to_json())
  for name, count in new_trainer(cfg).parameter_counts().items():
    print(f"params/{name}: {count:,}")


def main(argv):
  del argv
  preset = None if presets.flagfile_given(sys.argv) else presets.dataset_preset(FLAGS.dataset)
  try:
    cfg = config_flags.config_from_flags(FLAGS, preset=preset[1] if preset else None)
  except ValueError as e:
    cli.fail(f"{e}")
  if preset:
    filled = config_flags.preset_fills(FLAGS, preset[1])
    print(f"config: --dataset={FLAGS.dataset} brings flags/{preset[0]}.flags for "
          f"{', '.join(f'{k}={preset[1][k]}' for k in filled) or 'nothing (all given)'}; "
          "flags given win", flush=True)
  if FLAGS.dry_run:
    dry_run(cfg)
    return
  if not cfg.model_dir:
    cli.fail("--model_dir is required: the run directory for config, checkpoints, TensorBoard "
             "events and samples (created, or resumed if it holds a run)")
  if os.path.exists(cfg.model_dir) and not os.path.isdir(cfg.model_dir):
    cli.fail(f"--model_dir={cfg.model_dir} is a file; give a directory (new, or a run to resume)")
  from oogan_tf import train_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.data import DatasetError  # pylint: disable=g-import-not-at-top
  from oogan_tf.metrics import InceptionWeightsError  # pylint: disable=g-import-not-at-top
  try:
    train_lib.train(cfg, command_line=" ".join(sys.argv))
  except (train_lib.RunDirectoryError, train_lib.StrategyError, DatasetError,
          InceptionWeightsError) as e:
    cli.fail(f"{e}")


if __name__ == "__main__":
  cli.run(main, __doc__)
