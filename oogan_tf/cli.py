"""What the command-line entry points share: a bad input ends in one line and exit status 2."""

from __future__ import annotations

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


def run(main: Callable, usage: str) -> None:
  """absl's app.run(main), except that --help / -h / --helpshort print the flags grouped by
  purpose (config_flags.help_text, with this program's own flags as a last group) and exit 0,
  and that Python-side INFO logging (TensorFlow's checkpoint and AutoGraph notes) is off unless
  --verbosity is given (e.g. --verbosity=0 for INFO)."""
  from oogan_tf import config_flags  # pylint: disable=g-import-not-at-top
  if config_flags.help_requested(sys.argv):
    own = tuple(dict.fromkeys(f.name for f in flags.FLAGS.get_key_flags_for_module("__main__")))
    grouped = {n for names in config_flags.FLAG_GROUPS.values() for n in names}
    print(config_flags.help_text(flags.FLAGS, usage,
                                 {"this command": tuple(n for n in own if n not in grouped)}))
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
