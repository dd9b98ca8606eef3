"""Runs a command-line entry point in this process, as `python -m MODULE ARGS` runs it from the
repository root: the same flag parsing (`cli.parse_flags`) and the same `main`, without a new
Python + TensorFlow start (about 5 s each on 2 cores).

What only a real process shows stays tested in subprocesses, once per entry point: C++ log lines
on file descriptor 2, signals, and --help (absl's per-module key flags).
"""

import contextlib
import dataclasses
import importlib
import io
import os
import sys

from absl import flags
from absl.testing import flagsaver

from oogan_tf import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Completed:
  """What the command left: its exit status and what it printed (Python-side streams)."""
  returncode: int
  stdout: str
  stderr: str


def run_main(module_name: str, *args: str) -> Completed:
  """`python -m module_name *args` in this process; flags and sys.argv are restored after."""
  module = importlib.import_module(module_name)
  argv = [module_name, *args]
  out, err = io.StringIO(), io.StringIO()
  status = 0
  saved_argv = sys.argv
  with flagsaver.flagsaver(), contextlib.chdir(REPO), contextlib.redirect_stdout(out), \
      contextlib.redirect_stderr(err):
    sys.argv = argv
    try:
      flags.FLAGS.unparse_flags()
      module.main(cli.parse_flags(argv))
    except SystemExit as e:
      status = 0 if e.code is None else (e.code if isinstance(e.code, int) else 1)
    finally:
      sys.argv = saved_argv
  return Completed(status, out.getvalue(), err.getvalue())
