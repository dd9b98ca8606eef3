"""Runs a command-line entry point or tool in this process, as `python -m MODULE ARGS` (or
`python tools/x.py ARGS`) runs it from the repository root: the same flag parsing
(`cli.parse_flags`) and the same `main`, without a new Python + TensorFlow start (about 5 s each
on 2 cores). Every program defines its shared flags through oogan_tf.shared_flags, so all of them
can be imported into one process, and each runs with its own defaults (use_defaults_of).

What only a real process shows stays tested in subprocesses, once per entry point (and once for
the tools): C++ log lines on file descriptor 2, signals, and --help (absl's per-module key flags).
"""

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import os
import sys

from absl import flags
from absl.testing import flagsaver

from oogan_tf import cli
from oogan_tf import shared_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Completed:
  """What the command left: its exit status and what it printed (Python-side streams)."""
  returncode: int
  stdout: str
  stderr: str


def load_tool(path: str):
  """The tool script at `path` (relative to the repository), imported once per process."""
  name = "tool_" + os.path.splitext(os.path.basename(path))[0]
  if name not in sys.modules:
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while a class is built
    spec.loader.exec_module(module)
  return sys.modules[name]


def run_main(module_name: str, *args: str) -> Completed:
  """`python -m module_name *args` (or `python tools/x.py *args` for a module_name ending in .py)
  in this process; flags and sys.argv are restored after."""
  module = (load_tool(module_name) if module_name.endswith(".py")
            else importlib.import_module(module_name))
  argv = [module_name, *args]
  out, err = io.StringIO(), io.StringIO()
  status = 0
  saved_argv = sys.argv
  with flagsaver.flagsaver(), contextlib.chdir(REPO), contextlib.redirect_stdout(out), \
      contextlib.redirect_stderr(err):
    sys.argv = argv
    try:
      flags.FLAGS.unparse_flags()
      # Defaults as in the program's own process: the training configuration's, then its own.
      for program in ("oogan_tf.config_flags", module.__name__):
        shared_flags.use_defaults_of(program)
      module.main(cli.parse_flags(argv))
    except SystemExit as e:
      status = 0 if e.code is None else (e.code if isinstance(e.code, int) else 1)
    finally:
      sys.argv = saved_argv
  return Completed(status, out.getvalue(), err.getvalue())
