"""The served export: loads an oogan_tf SavedModel, validates inputs, runs its signatures.

`ServedModel.predict` takes numpy inputs that `oogan_tf.serving.rest` parsed from JSON, checks
them against the signature's TensorSpecs and the export's limits (see `ServedModel.check_inputs`),
and returns numpy outputs. Every user error is a `RequestError` carrying the HTTP status.
"""

from __future__ import annotations

import contextlib
import os
import threading

from google.protobuf import json_format
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from oogan_tf import export_format
from oogan_tf.serving.limits import DEFAULT_MAX_REQUEST_VALUES

MAX_BATCH = 256  # cap on a batch dimension, `num` and `steps`: one request stays ~1 s of CPU

_INT_RANGES = {tf.int32: (-2**31, 2**31 - 1), tf.int64: (-2**63, 2**63 - 1)}


class RequestError(Exception):
  """A request the server refuses; `status` is the HTTP status (400, 404, 413, ...)."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status
    self.message = message


class WorkBudget:
  """Caps the image values of the requests being computed at once (memory grows with them).

  A request that does not fit waits up to `wait_s` for others to finish, then is refused with 503.
  """

  def __init__(self, max_values: int, wait_s: float = 2.0):
    self.max_values = max_values
    self.wait_s = wait_s
    self._used = 0
    self._cond = threading.Condition()

  @contextlib.contextmanager
  def reserve(self, values: int):
    """Holds `values` (<= max_values) of the budget for the `with` block.

    Raises: RequestError(503) when they do not become free within wait_s.
    """
    with self._cond:
      if not self._cond.wait_for(lambda: self._used + values <= self.max_values, self.wait_s):
        raise RequestError(503, "the server is busy (too many images being computed); retry "
                           "shortly")
      self._used += values
    try:
      yield
    finally:
      with self._cond:
        self._used -= values
        self._cond.notify_all()


class ServedModel:
  """One loaded export plus what the REST layer needs to describe and call it.

  Attributes:
    metadata: dict, the export's metadata (oogan_tf.export_format: image_size, channels, c_dim, z_dim,
      code_range, iteration, ...).
    version: int, the model version reported over REST (the export's training iteration).
    input_specs: {signature: {input name: tf.TensorSpec}}.
    output_names: {signature: sorted output names}.
    values_per_image: int, H x W x channels of the export's images.
    max_batch: int, the most images one request may ask for or send: MAX_BATCH, or fewer when
      max_batch x values_per_image would exceed max_request_values (at least 1).
  """

  def __init__(self, export_dir: str, max_request_values: int = DEFAULT_MAX_REQUEST_VALUES):
    """Loads `export_dir`.

    Raises:
      FileNotFoundError: export_dir is not an oogan_tf export (no SavedModel or no metadata).
      ValueError: max_request_values < 1.
    """
    if max_request_values < 1:
      raise ValueError(f"--max_request_values={max_request_values} is not allowed; it must be "
                       ">= 1")
    try:
      self.metadata = export_format.read_metadata(export_dir)
    except export_format.NotAnExportError as e:
      raise FileNotFoundError(str(e)) from None
    self.version = int(self.metadata.get("iteration", 1))
    self._loaded = tf.saved_model.load(export_dir)
    self._signatures = dict(self._loaded.signatures)
    self.input_specs = {name: dict(fn.structured_input_signature[1])
                        for name, fn in self._signatures.items()}
    self.output_names = {name: sorted(fn.structured_outputs)
                         for name, fn in self._signatures.items()}
    m = self.metadata
    c_dim = int(m["c_dim"])
    self.values_per_image = int(m["image_size"]) ** 2 * int(m["channels"])
    self.max_batch = max(1, min(MAX_BATCH, max_request_values // self.values_per_image))
    # Inclusive bounds of the bounded integer inputs (the scalars num / steps / dim, and the
    # categorical code's `category` of any rank), checked here so that users get one clear
    # message instead of the graph's assertion text.
    self._bounds = {"num": (1, self.max_batch), "steps": (2, max(2, self.max_batch)),
                    "dim": (0, c_dim - 1)}
    if int(m.get("cat_dim", 0)):
      self._bounds["category"] = (0, int(m["cat_dim"]) - 1)
    self._signature_def_json = self._read_signature_defs(
        os.path.join(export_dir, "saved_model.pb"))

  @staticmethod
  def _read_signature_defs(pb_path: str) -> dict:
    # TensorFlow Serving's /metadata answer is the SignatureDefMap proto printed as JSON with the
    # proto field names; read the same proto so clients see identical names, dtypes and shapes.
    saved_model = saved_model_pb2.SavedModel()
    with open(pb_path, "rb") as f:
      saved_model.ParseFromString(f.read())
    meta_graph = next((g for g in saved_model.meta_graphs if "serve" in g.meta_info_def.tags),
                      saved_model.meta_graphs[0])
    return {name: json_format.MessageToDict(sig, preserving_proto_field_name=True)
            for name, sig in meta_graph.signature_def.items()}

  def signature_defs(self) -> dict:
    """{signature name: SignatureDef as JSON} in TensorFlow Serving's /metadata format."""
    return self._signature_def_json

  def explorer_config(self) -> dict:
    """What the explorer page needs: sizes, code range, categories (0: no categorical code)
    and the request caps."""
    m = self.metadata
    return {"version": self.version, "image_size": m["image_size"], "channels": m["channels"],
            "c_dim": m["c_dim"], "cat_dim": int(m.get("cat_dim", 0)), "z_dim": m["z_dim"],
            "code_range": m["code_range"], "max_batch": self.max_batch}

  def check_signature(self, signature_name: str) -> dict:
    """Returns {input name: TensorSpec} of `signature_name`.

    Raises: RequestError(400) for an unknown signature (as TensorFlow Serving does).
    """
    if signature_name not in self.input_specs:
      raise RequestError(400, f'Serving signature key "{signature_name}" not found; available: '
                         f"{', '.join(sorted(self.input_specs))}")
    return self.input_specs[signature_name]

  def check_inputs(self, signature_name: str, inputs: dict) -> dict:
    """Validates and casts one request's inputs.

    Args:
      signature_name: a signature of the export.
      inputs: {input name: numpy array} as parsed from JSON (any numeric dtype).
    Returns:
      {input name: numpy array} of the signature's dtypes (float32 / int32 / int64) and shapes.
    Raises:
      RequestError(400): missing or unknown input names, wrong rank or fixed dimension, a batch over
        max_batch or empty, non-numeric or non-integer values for integer inputs, non-finite
        floats, integers out of the dtype's range, or `num` / `steps` / `dim` / `category` out
        of bounds.
    """
    specs = self.check_signature(signature_name)
    missing = sorted(set(specs) - set(inputs))
    unknown = sorted(set(inputs) - set(specs))
    if missing or unknown:
      raise RequestError(400, f"signature '{signature_name}' takes inputs "
                         f"{sorted(specs)}; missing {missing}, unknown {unknown}")
    return {name: self._check_one(name, value, specs[name]) for name, value in inputs.items()}

  def _check_one(self, name: str, value: np.ndarray, spec: tf.TensorSpec) -> np.ndarray:
    shape = spec.shape.as_list()
    expected = "[" + ", ".join("batch" if d is None else str(d) for d in shape) + "]"
    if value.ndim != len(shape) or any(d is not None and d != v for d, v in zip(shape, value.shape)):
      raise RequestError(400, f"input '{name}' must have shape {expected}, got "
                         f"{list(value.shape)}")
    if shape and shape[0] is None and not 1 <= value.shape[0] <= self.max_batch:
      raise RequestError(400, f"input '{name}' must have a batch of 1 to {self.max_batch}, got "
                         f"{value.shape[0]}")
    if spec.dtype.is_floating:
      if value.dtype.kind not in "iuf":
        raise RequestError(400, f"input '{name}' must be numbers ({spec.dtype.name})")
      value = value.astype(np.float32)
      if not np.all(np.isfinite(value)):
        raise RequestError(400, f"input '{name}' must be finite (no NaN or Infinity)")
      return value
    if value.dtype.kind not in "iu":
      raise RequestError(400, f"input '{name}' must be integers ({spec.dtype.name})")
    low, high = _INT_RANGES[spec.dtype]
    if name in self._bounds:
      low, high = self._bounds[name]
    if value.min() < low or value.max() > high:
      got = value.item() if not shape else f"values in [{value.min()}, {value.max()}]"
      raise RequestError(400, f"input '{name}' must be in [{low}, {high}], got {got}")
    return value.astype(spec.dtype.as_numpy_dtype)

  def request_values(self, signature_name: str, inputs: dict) -> int:
    """Image values (images x H x W x channels) a request with checked `inputs` reads or writes:
    its batch, or `num` / `steps` for the signatures with scalar inputs."""
    specs = self.input_specs[signature_name]
    batched = [inputs[n].shape[0] for n, spec in specs.items() if spec.shape.rank]
    images = batched[0] if batched else int(inputs.get("num", inputs.get("steps", 1)))
    return images * self.values_per_image

  def predict(self, signature_name: str, inputs: dict) -> dict:
    """Checks (check_inputs) and runs one signature; see `run`."""
    return self.run(signature_name, self.check_inputs(signature_name, inputs))

  def run(self, signature_name: str, inputs: dict) -> dict:
    """Runs one signature.

    Args:
      signature_name: e.g. "sample", "sample_from_seed", "traverse", "encode".
      inputs: {input name: numpy array} as check_inputs returns them.
    Returns:
      {output name: numpy array}, e.g. images float32 [B, H, W, channels] in [0, 1].
    Raises:
      RequestError(400): an input the graph's own checks reject.
    """
    # Concrete functions of a loaded SavedModel may be called from several threads at once (the
    # serve tests compare 50 concurrent calls against serial ones), so there is no lock here.
    try:
      outputs = self._signatures[signature_name](
          **{k: tf.constant(v) for k, v in inputs.items()})
    except tf.errors.InvalidArgumentError as e:
      # The graph's assertions name the input; keep their first line, not the op trace.
      raise RequestError(400, e.message.splitlines()[0]) from e
    return {k: v.numpy() for k, v in outputs.items()}
