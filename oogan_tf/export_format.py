"""The export format: what an oogan_tf SavedModel directory holds besides its graph, and what a
traversal is. Everything that writes or reads an export (export_lib, evaluate, the CLIs, the
server, the tools) and everything that draws a traversal (training summaries, the `traverse`
signature) takes these definitions from here.

An export directory is a SavedModel plus `assets/oogan_metadata.json`, a JSON object with
`format` (FORMAT), `iteration`, `image_size`, `channels`, `c_dim`, `cat_dim` (categories of the
categorical code, 0 for none), `z_dim`, `code_range` (the
range training draws c from, CODE_RANGE), `probabilistic_q`, `output_range` ([0, 1]: the images'
value range), `config` (the TrainConfig as a dict) and `bn_statistics` (what the export's
BatchNorm statistics are; oogan_tf.calibration.describe).

The SavedModel's object graph holds the networks' variables (`generator_variables`,
`discriminator_variables`) and Q's orthogonal kernels keyed by their object path in the
discriminator (ORTHOGONAL_KERNELS), not the Keras layers themselves. Exports written before
2026-12-05 hold the layers instead; orthogonal_kernel_variables finds the kernels in both.
"""

from __future__ import annotations

import json
import os
from typing import Any

FORMAT = "oogan_tf.export/1"
METADATA_NAME = "oogan_metadata.json"
METADATA_ASSET = os.path.join("assets", METADATA_NAME)
CODE_RANGE = (0.0, 1.0)  # training draws each code U(0, 1) in the uniform regime
OUTPUT_RANGE = (0.0, 1.0)
# The reference's traversal sheets (generate.py) hold the other codes at U(0.2, 0.6) and sweep
# the chosen one over [0, 1]; the training summaries draw their sheets that way.
TRAVERSAL_BASE_RANGE = (0.2, 0.6)
TRAVERSAL_SWEEP = (0.0, 1.0)


# The export attribute {object path: variable} of Q's orthogonal kernels, and which variables
# those are: paths ending in orth_conv/kernel (4-D, [4, 4, C', 1]) or readout/transform (3-D,
# [4, 4, C'] or [2, 2, C']), spatial axes first.
ORTHOGONAL_KERNELS = "orthogonal_kernels"
_ORTHOGONAL_SUFFIXES = {"orth_conv/kernel": 4, "readout/transform": 3}


def _children(obj: Any) -> dict[str, Any]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    return dict(tf.train.TrackableView(obj).children(obj))
  except Exception:  # pylint: disable=broad-except
    try:
      return dict(obj._trackable_children())  # pylint: disable=protected-access
    except Exception:  # pylint: disable=broad-except
      return {}


def orthogonal_kernel_variables(root: Any, prefix: str = "discriminator") -> dict[str, Any]:
  """Q's orthogonal kernels under `root`: {path: variable}, sorted by path.

  `root` is a live discriminator (Keras; variables are keras.Variable, given as their
  tf.Variable) or a loaded export. A loaded export answers from its ORTHOGONAL_KERNELS
  attribute; an export written before it had one (or `root` a network) is walked: variable
  *names* lose their scope in a save/load, object paths do not.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  recorded = getattr(root, ORTHOGONAL_KERNELS, None)
  if recorded is not None:
    return dict(sorted(recorded.items()))
  if getattr(root, "discriminator", None) is not None:  # an export of the layers themselves
    root = root.discriminator
  found: dict[str, Any] = {}
  seen = set()
  stack = [(prefix, root)]
  while stack:
    path, obj = stack.pop()
    if id(obj) in seen:
      continue
    seen.add(id(obj))
    variable = getattr(obj, "value", None) if not isinstance(obj, tf.Variable) else obj
    if isinstance(variable, tf.Variable):
      if any(path.endswith(suffix) and len(variable.shape) == rank
             for suffix, rank in _ORTHOGONAL_SUFFIXES.items()):
        found[path] = variable
      continue
    for name, child in _children(obj).items():
      stack.append((f"{path}/{name}" if path else name, child))
  return dict(sorted(found.items()))


class NotAnExportError(ValueError):
  """export_dir is missing, is not an oogan_tf export, or its metadata cannot be read; the
  message names the flag (--export_dir unless read_metadata is told another) and its value."""


def metadata_for(cfg, iteration: int, bn_statistics: dict) -> dict[str, Any]:
  """The metadata object of an export of `cfg` (a TrainConfig) at `iteration`."""
  m = cfg.model
  return {"format": FORMAT, "iteration": int(iteration), "image_size": m.image_size,
          "channels": m.channels, "c_dim": m.c_dim, "cat_dim": m.cat_dim, "z_dim": m.z_dim,
          "code_range": list(CODE_RANGE), "probabilistic_q": m.probabilistic_q,
          "output_range": list(OUTPUT_RANGE), "config": cfg.to_dict(),
          "bn_statistics": bn_statistics}


def write_metadata(path: str, metadata: dict[str, Any]) -> None:
  """Writes `metadata` as the JSON file `path` (the caller places it under assets/)."""
  with open(path, "w") as f:
    json.dump(metadata, f, indent=2, sort_keys=True)


def read_metadata(export_dir: str | None, flag: str = "--export_dir") -> dict[str, Any]:
  """The metadata of the export at `export_dir`.

  flag: the command-line flag that gave export_dir, named in the errors (a tool that takes
    several exports, e.g. --export_dirs, names its own).
  Raises: NotAnExportError (one line naming `flag`) when export_dir is empty or not a
    directory, has no SavedModel or no metadata asset, or the metadata is not a JSON object.
  """
  if not export_dir:
    raise NotAnExportError(f"{flag} is required: a directory written by "
                           "python -m oogan_tf.export")
  if not os.path.isdir(export_dir):
    raise NotAnExportError(f"{flag}={export_dir} does not exist or is not a directory; "
                           "pass a directory written by python -m oogan_tf.export")
  path = os.path.join(export_dir, METADATA_ASSET)
  if not (os.path.isfile(path) and os.path.isfile(os.path.join(export_dir, "saved_model.pb"))):
    raise NotAnExportError(f"{flag}={export_dir} is not an oogan_tf export (it needs "
                           f"saved_model.pb and {METADATA_ASSET}); pass a directory written by "
                           "python -m oogan_tf.export")
  try:
    with open(path) as f:
      metadata = json.load(f)
  except (OSError, ValueError) as e:
    raise NotAnExportError(f"{flag}={export_dir}: {path} cannot be read ({e})") from None
  if not isinstance(metadata, dict):
    raise NotAnExportError(f"{flag}={export_dir}: {path} is not a JSON object")
  return metadata


def traversal_inputs(base_c, z, dim, values):
  """The generator inputs of a traversal: row r keeps (base_c[r], z[r]) and sweeps code `dim`.

  Works eagerly (numpy or tensor inputs) and inside tf.function (the export's `traverse`).
  Args: base_c float [R, C]; z float [R, Z]; dim int in [0, C); values float [K].
  Returns: tf.Tensor c float32 [R*K, C], z float32 [R*K, Z], row-major (row r is outputs r*K .. r*K+K-1;
    column k has c[dim] = values[k], the other codes and z those of row r).
  """
  # Imported here: the CLIs read metadata before TensorFlow loads (cli.py quiets its start-up).
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  base_c = tf.convert_to_tensor(base_c, tf.float32)
  values = tf.convert_to_tensor(values, tf.float32)
  k = tf.size(values)
  c = tf.repeat(base_c, k, axis=0)
  column = tf.one_hot(dim, tf.shape(base_c)[1], dtype=tf.float32)[None, :]
  swept = tf.tile(values, [tf.shape(base_c)[0]])[:, None]
  z = tf.repeat(tf.convert_to_tensor(z, tf.float32), k, axis=0)
  return c * (1.0 - column) + swept * column, z
