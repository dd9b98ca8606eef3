"""TensorFlow Serving's REST predict format: JSON request bodies in, JSON response bodies out.

Follows https://www.tensorflow.org/tfx/serving/api_rest ("Predict API"):
  request  {"signature_name": S (default "serving_default"), "instances": [...]}  (row format)
        or {"signature_name": S, "inputs": {...} | value}                          (columnar format)
  response {"predictions": [...]} for row requests, {"outputs": {...} | value} for columnar ones.
Row format stacks the instances along a new batch dimension; an instance is an object keyed by
input name, or a bare value when the signature has one input. Signatures whose inputs are scalars
(sample_from_seed, traverse) accept exactly one instance in row format, whose values are used as is;
their outputs are still split into rows along the first dimension.
"""

from __future__ import annotations

import json

import numpy as np

from oogan_tf.serving.model import RequestError

DEFAULT_SIGNATURE = "serving_default"


def parse_predict(body: bytes, input_specs_for) -> tuple[str, dict, bool]:
  """Parses a predict request body.

  Args:
    body: the raw request body (UTF-8 JSON).
    input_specs_for: callable(signature_name) -> {input name: tf.TensorSpec}; raises RequestError
      for unknown signatures.
  Returns:
    (signature_name, {input name: numpy array (not yet cast)}, row_format).
  Raises:
    RequestError(400): malformed JSON (incl. integer literals over Python's 4300-digit limit and
      nesting deeper than the recursion limit), a body that is not an object, neither or both of
      "instances" and "inputs", an unnamed input where names are needed, inconsistent instances
      or ragged (non-rectangular) arrays.
  """
  try:
    request = json.loads(body.decode("utf-8"))
  # ValueError covers UnicodeDecodeError, JSONDecodeError and the int digit limit.
  except (ValueError, RecursionError) as e:
    raise RequestError(400, f"malformed JSON: {e}") from e
  if not isinstance(request, dict):
    raise RequestError(400, "the request body must be a JSON object")
  signature_name = request.get("signature_name", DEFAULT_SIGNATURE)
  if not isinstance(signature_name, str):
    raise RequestError(400, "'signature_name' must be a string")
  specs = input_specs_for(signature_name)
  if ("instances" in request) == ("inputs" in request):
    raise RequestError(400, "the request must have exactly one of 'instances' (row format) or "
                       "'inputs' (columnar format)")
  if "instances" in request:
    return signature_name, _from_instances(request["instances"], specs), True
  return signature_name, _from_columns(request["inputs"], specs), False


def _array(name: str, value) -> np.ndarray:
  try:
    return np.asarray(value)
  except (ValueError, OverflowError) as e:
    # numpy refuses ragged nesting such as [[1, 2], [3]].
    raise RequestError(400, f"input '{name}' is not a rectangular array: {e}") from e


def _from_columns(inputs, specs: dict) -> dict:
  if isinstance(inputs, dict):
    return {name: _array(name, value) for name, value in inputs.items()}
  if len(specs) != 1:
    raise RequestError(400, f"'inputs' must be an object keyed by input name {sorted(specs)}")
  (name,) = specs
  return {name: _array(name, inputs)}


def _from_instances(instances, specs: dict) -> dict:
  if not isinstance(instances, list) or not instances:
    raise RequestError(400, "'instances' must be a non-empty list")
  if not all(isinstance(i, dict) for i in instances):
    if len(specs) != 1 or any(isinstance(i, dict) for i in instances):
      raise RequestError(400, "each instance must be an object keyed by input name "
                         f"{sorted(specs)}")
    (name,) = specs
    return {name: _array(name, instances)}
  names = set(instances[0])
  if any(set(i) != names for i in instances):
    raise RequestError(400, "all instances must have the same input names")
  if any(spec.shape.rank == 0 for spec in specs.values()):
    if len(instances) != 1:
      raise RequestError(400, "this signature takes scalar inputs: send exactly one instance "
                         "(or use the columnar 'inputs' format)")
    return {name: (_array(name, value) if specs.get(name) is None or specs[name].shape.rank == 0
                   else _array(name, [value])) for name, value in instances[0].items()}
  return {name: _array(name, [i[name] for i in instances]) for name in names}


def format_predict(outputs: dict, row_format: bool) -> dict:
  """Formats signature outputs as TensorFlow Serving does.

  Args:
    outputs: {output name: numpy array}; for row format all share the first dimension N.
    row_format: the request used "instances".
  Returns:
    {"predictions": [N rows]} (a row is the value itself for one output, else {name: value}),
    or {"outputs": value} for one output / {"outputs": {name: value}} in columnar format.
  """
  names = sorted(outputs)
  if not row_format:
    if len(names) == 1:
      return {"outputs": outputs[names[0]].tolist()}
    return {"outputs": {k: outputs[k].tolist() for k in names}}
  if len(names) == 1:
    return {"predictions": outputs[names[0]].tolist()}
  columns = {k: outputs[k].tolist() for k in names}
  rows = len(columns[names[0]])
  return {"predictions": [{k: columns[k][i] for k in names} for i in range(rows)]}
