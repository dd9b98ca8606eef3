"""What the command-line entry points share: a bad input ends in one line and exit status 2."""

from __future__ import annotations

import json
import os
import sys
from typing import Callable, NoReturn

from absl import app
from absl import flags
from absl import logging

USAGE_ERROR = 2

# Entry points import this module before TensorFlow, so its C++ INFO and WARNING lines are
# hidden (the few it prints before its log is initialised cannot be). An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fail(message: str) -> NoReturn:
  """Prints `error: <message>` on stderr and exits with status 2 (no traceback)."""
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(USAGE_ERROR)


def check_ranges(values, ranges: dict[str, tuple[float, float]]) -> None:
  """fail() unless every flag named in `ranges` has a value in its [low, high]."""
  for name, (low, high) in ranges.items():
    value = values[name].value
    if not low <= value <= high:
      fail(f"--{name}={value} is not allowed; it must be in [{low}, {high}]")


def export_metadata(export_dir: str | None) -> dict:
  """The metadata of the export at --export_dir (assets/oogan_metadata.json), or fail()."""
  if not export_dir:
    fail("--export_dir is required: a directory written by python -m oogan_tf.export")
  path = os.path.join(export_dir, "assets", "oogan_metadata.json")
  if not os.path.isfile(path):
    fail(f"--export_dir={export_dir} is not an oogan_tf export (no assets/oogan_metadata.json); "
         "pass a directory written by python -m oogan_tf.export")
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    fail(f"--export_dir={export_dir}: {path} cannot be read ({e})")


def run(main: Callable, usage: str) -> None:
  """absl's app.run(main), except that --help / -h / --helpshort print the flags grouped by
  purpose (config_flags.help_text, with this program's own flags as a last group) and exit 0,
  and that Python-side INFO logging (TensorFlow's checkpoint and AutoGraph notes) is off unless
  --verbosity is given (e.g. --verbosity=0 for INFO)."""
  from oogan_tf import config_flags  # pylint: disable=g-import-not-at-top
  if config_flags.help_requested(sys.argv):
    own = tuple(dict.fromkeys(f.name for f in flags.FLAGS.get_key_flags_for_module("__main__")))
    print(config_flags.help_text(flags.FLAGS, usage, {"this command": own}))
    sys.exit(0)

  def quiet_main(argv):
    if not flags.FLAGS["verbosity"].present:
      logging.set_verbosity(logging.WARNING)
    return main(argv)

  app.run(quiet_main, flags_parser=parse_flags)


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, except that an unknown flag or a value of the wrong type or outside an
  enum ends like every other bad input: one `error:` line and exit status 2 (absl's own handler
  prints two lines and exits 1)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    # absl prefixes some messages (an unreadable --flagfile) with its own "ERROR:: ".
    fail(f"{str(e).removeprefix('ERROR:: ')}; --help lists the flags")
