"""Presets: the absl flagfiles in flags/, and the one a bare `--dataset=X` brings.

`python -m oogan_tf.train --dataset=chairs --c_dim=16` without a `--flagfile` takes every value
of flags/chairs.flags that the command line does not set (RGB, 64 px, the released chairs
settings), so the headline command does not train chairs in greyscale. A command with a
`--flagfile` is taken as complete: the flagfile is the preset.
"""

from __future__ import annotations

import glob
import os

PRESET_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flags")

# --dataset value -> the preset (flags/<name>.flags) whose values it brings.
DATASET_PRESETS = {"dsprites": "dsprites", "chairs": "chairs", "celeba": "celeba",
                   "mnist": "mnist", "digits": "digits"}


def read_flagfile(path: str) -> dict[str, str]:
  """{'key': 'value'} of the `--key=value` lines of an absl flagfile (`#` starts a comment).

  Raises ValueError naming the file and line for anything else.
  """
  out: dict[str, str] = {}
  with open(path) as f:
    for raw in f:
      line = raw.split("#", 1)[0].strip()
      if not line:
        continue
      if not line.startswith("--") or "=" not in line:
        raise ValueError(f"{path}: cannot parse {raw.strip()!r}; expected --key=value")
      key, value = line[2:].split("=", 1)
      out[key.strip()] = value.strip()
  return out


def names() -> list[str]:
  """The preset names (flags/<name>.flags), sorted."""
  return sorted(os.path.basename(p)[:-len(".flags")]
                for p in glob.glob(os.path.join(PRESET_DIR, "*.flags")))


def preset_path(preset: str) -> str:
  """The path of a preset name (flags/<name>.flags) or of a flagfile; ValueError if neither."""
  if os.path.isfile(preset):
    return preset
  path = os.path.join(PRESET_DIR, f"{preset}.flags")
  if not os.path.isfile(path):
    raise ValueError(f"--preset={preset!r} is neither a file nor one of {', '.join(names())}")
  return path


def dataset_preset(dataset: str) -> tuple[str, dict[str, str]] | None:
  """(preset name, its flag values) that `--dataset=dataset` brings, or None (no preset, or the
  flags/ directory is not beside the package, as in a non-editable install)."""
  name = DATASET_PRESETS.get(dataset)
  path = os.path.join(PRESET_DIR, f"{name}.flags") if name else None
  if path is None or not os.path.isfile(path):
    return None
  return name, read_flagfile(path)


def flagfile_given(argv: list[str]) -> bool:
  """Whether a command line (sys.argv) names a --flagfile."""
  return any(a == "--flagfile" or a.startswith("--flagfile=") for a in argv[1:])
