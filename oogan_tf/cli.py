"""What the command-line entry points share: a bad input ends in one line and exit status 2."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from typing import Callable, NoReturn, Sequence

from absl import app
from absl import flags
from absl import logging

from oogan_tf import export_format
from oogan_tf import shared_flags

USAGE_ERROR = 2

# Entry points import this module before TensorFlow, so its C++ INFO and WARNING lines are
# hidden. An explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# C++ log lines TensorFlow writes while it loads, before its log level applies: absl's notice,
# then e.g. "I0000 00:00:... port.cc:153] oneDNN custom operations are on" on AVX-512 CPUs.
_EARLY_LOG_NOTICE = "WARNING: All log messages before absl::InitializeLog()"
_EARLY_LOG_LINE = re.compile(r"^([IWE])\d{4} ")
_SEVERITY = {"I": 0, "W": 1, "E": 2}


def _keep_early_line(line: str, min_level: int) -> bool:
  match = _EARLY_LOG_LINE.match(line)
  if line.startswith(_EARLY_LOG_NOTICE):
    return min_level == 0
  return match is None or _SEVERITY[match.group(1)] >= min_level


@contextlib.contextmanager
def _filtered_stderr():
  """Drops the early C++ log lines below TF_CPP_MIN_LOG_LEVEL from what fd 2 receives meanwhile."""
  try:
    min_level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
  except ValueError:
    min_level = 0
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", errors="replace")
      kept = [l for l in text.splitlines(keepends=True) if _keep_early_line(l, min_level)]
      if kept:
        os.write(2, "".join(kept).encode("utf-8"))


class _QuietLoader(importlib.abc.Loader):
  """Loads TensorFlow with `_filtered_stderr`, so a bad input still ends in one line."""

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    with _filtered_stderr():
      self._loader.exec_module(module)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
  """Wraps the loader of the first `import tensorflow` (wherever it happens) in `_QuietLoader`."""

  def find_spec(self, fullname, path=None, target=None):
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)
    spec = importlib.util.find_spec(fullname)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


if "tensorflow" not in sys.modules:
  sys.meta_path.insert(0, _QuietTensorFlowFinder())


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


class DataSourceFlags:
  """--dataset, --data_dir, --image_size and --channels of the data tools (preview, benchmark).

  Args: purpose: completes "Dataset to ..." in --dataset's help; datasets: the built-in names.
  """

  def __init__(self, purpose: str, datasets: Sequence[str]):
    tool = shared_flags.calling_module(1)  # the flags belong to the tool that creates these
    self.dataset = shared_flags.string(
        "dataset", "dsprites", f"Dataset to {purpose}: {', '.join(datasets)}, or "
        "tfds:<name>[:split] (prepared by tensorflow_datasets in --data_dir).", module=tool)
    self.data_dir = shared_flags.string("data_dir", None, "Directory with the dataset's files.",
                                        module=tool)
    self.image_size = shared_flags.integer("image_size", 64, "Side S of the [S, S, C] images.",
                                           module=tool)
    self.channels = shared_flags.integer("channels", 1, "1 (greyscale) or 3 (RGB).",
                                         module=tool)

  def open(self, batch_size: int, seed: int = 0):
    """(description of the source, tf.data.Dataset of float32 [batch_size, S, S, C] batches in
    [-1, 1]) of the flags' dataset, or fail() with the data error's one line."""
    from oogan_tf import data  # pylint: disable=g-import-not-at-top
    try:  # DataConfig validates at construction
      cfg = data.DataConfig(name=self.dataset.value, data_dir=self.data_dir.value,
                            image_size=self.image_size.value, channels=self.channels.value,
                            batch_size=batch_size, seed=seed)
      return data.describe_source(cfg), data.build_dataset(cfg)
    except data.DatasetError as e:
      fail(str(e))


class ExportImageFlags:
  """--export_dir, --seed, --upscale and --output of the tools that draw images from an export.

  Args: seed_help: what --seed fixes; output: --output's default file name.
  """

  def __init__(self, seed_help: str, output: str):
    tool = shared_flags.calling_module(1)  # the flags belong to the tool that creates these
    self.export_dir = shared_flags.string(
        "export_dir", None, "Export directory (python -m oogan_tf.export); required.",
        module=tool)
    self.seed = shared_flags.integer("seed", 0, seed_help, module=tool)
    self.upscale = shared_flags.integer(
        "upscale", 1, "Nearest-neighbour upscaling factor of each image (1-16), e.g. 4 for "
        "readable 32 px images.", module=tool)
    self.output = shared_flags.string("output", output, "PNG file to write.", module=tool)

  def start(self, argv: Sequence[str], ranges: dict[str, tuple[float, float]]) -> dict:
    """Checks argv (no positional arguments), the flags in `ranges` and --upscale; returns the
    export's metadata. Each problem is fail()."""
    if len(argv) > 1:
      fail(f"unexpected arguments {argv[1:]}")
    check_ranges(flags.FLAGS, dict(ranges, upscale=(1, 16)))
    return export_metadata(self.export_dir.value)


def export_metadata(export_dir: str | None) -> dict:
  """The metadata of the export at --export_dir (export_format.read_metadata), or fail()."""
  try:
    return export_format.read_metadata(export_dir)
  except export_format.NotAnExportError as e:
    fail(str(e))


def run(main: Callable, usage: str) -> None:
  """absl's app.run(main), except that --help / -h / --helpshort print the flags grouped by
  purpose (config_flags.help_text, with this program's own flags as a last group) and exit 0,
  and that Python-side INFO logging (TensorFlow's checkpoint and AutoGraph notes) is off unless
  --verbosity is given (e.g. --verbosity=0 for INFO)."""
  from oogan_tf import config_flags  # pylint: disable=g-import-not-at-top
  if config_flags.help_requested(sys.argv):
    # The program's own flags: those it defined, and the shared groups of this module it uses.
    own = tuple(dict.fromkeys(
        f.name for module in ("__main__", __name__)
        for f in flags.FLAGS.get_key_flags_for_module(module)))
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
