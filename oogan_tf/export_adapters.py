"""A loaded oogan_tf SavedModel export as the plain functions the metrics take: an encoder
(observations in [-1, 1] -> Q's codes), a sampler and a generator (codes -> images), and Q's
orthogonal kernels by object path (oogan_tf.export_format). Inputs that do not fit the export
raise ValueError.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Tuple

import numpy as np

from oogan_tf import export_format
from oogan_tf import metrics as metrics_lib

def _batched(fn: Callable[[np.ndarray], Tuple[np.ndarray, ...]], x: np.ndarray,
             batch_size: int) -> Tuple[np.ndarray, ...]:
  outs: List[List[np.ndarray]] = []
  for start in range(0, x.shape[0], batch_size):
    parts = fn(x[start:start + batch_size])
    if not outs:
      outs = [[] for _ in parts]
    for acc, p in zip(outs, parts):
      acc.append(p)
  return tuple(np.concatenate(acc, axis=0) for acc in outs)


def make_encoder(loaded: Any, metadata: Mapping[str, Any], batch_size: int):
  """(representation_fn, gaussian_fn or None): observations in [-1, 1] -> Q's c_mean etc."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  encode = loaded.signatures["encode"]
  s, ch = int(metadata["image_size"]), int(metadata["channels"])

  def _call(obs):
    x = np.asarray(obs, np.float32)
    if x.shape[1:] != (s, s, ch):
      raise ValueError(f"the ground truth's observations have shape {x.shape[1:]}, the "
                       f"export encodes [{s}, {s}, {ch}] images")
    out = encode(images=tf.constant((x + 1.0) * 0.5))
    mean = out["c_mean"].numpy()
    log_sigma = out["c_log_sigma"].numpy() if "c_log_sigma" in out else None
    return (mean,) if log_sigma is None else (mean, log_sigma)

  def representation_fn(obs):
    return _batched(lambda b: _call(b)[:1], np.asarray(obs), batch_size)[0]

  if not metadata.get("probabilistic_q"):
    return representation_fn, None

  def gaussian_fn(obs):
    return _batched(_call, np.asarray(obs), batch_size)

  return representation_fn, gaussian_fn


def find_orthogonal_kernels(loaded: Any) -> Dict[str, np.ndarray]:
  """Q's orthogonal kernels of a loaded export, keyed by object path (sorted; see
  export_format.orthogonal_kernel_variables): orth_conv/kernel [4, 4, C', 1] and
  readout/transform [4, 4, C']."""
  return {path: v.numpy() for path, v in export_format.orthogonal_kernel_variables(loaded).items()}


def orthogonality_of(loaded: Any) -> Dict[str, Any]:
  kernels = find_orthogonal_kernels(loaded)
  if not kernels:
    return {"available": False,
            "reason": "the export's Q has no orthogonal layers (no orth_conv/kernel or "
                      "readout/transform variables: an InfoGAN Q?)"}
  # orth_conv [4, 4, C', 1] and transform [4, 4, C'] both keep the spatial axes first.
  result = metrics_lib.compute_orthogonality(kernels, layout="spatial_first")
  result["available"] = True
  return result


def make_sampler(loaded: Any, cat_dim: int = 0, seed: int = 0
                 ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
  """sample(c float32 [N, C], z float32 [N, Z]) -> images float32 [N, S, S, ch] in [0, 1].

  The export's `sample` signature (EMA generator, inference-mode BatchNorm). For an export with
  a categorical code (cat_dim K > 0) each image's category is drawn uniformly from [0, K), from a
  numpy stream of `seed`, as training draws it.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  signature = loaded.signatures["sample"]
  categories = np.random.RandomState(seed)

  def sample(c, z):
    inputs = {"c": tf.constant(c, tf.float32), "z": tf.constant(z, tf.float32)}
    if cat_dim:
      inputs["category"] = tf.constant(categories.randint(0, cat_dim, len(c)), tf.int32)
    return signature(**inputs)["images"].numpy()

  return sample


def make_generator(loaded: Any, channels: int, cat_dim: int = 0, *, rgb: bool = True,
                   seed: int = 0) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
  """generate(c float32 [N, C], z float32 [N, Z]) -> images float32 [N, S, S, ch'] in [-1, 1]
  via the export's `sample` signature (categories as make_sampler draws them, from `seed`).

  rgb: greyscale (channels == 1) is tiled to ch' = 3, as ImageNet networks want it; False keeps
    the export's own channels (ch' = channels), as its encoder wants them.
  """
  sample = make_sampler(loaded, cat_dim, seed)

  def generate(c, z):
    x = np.clip(sample(c, z) * 2.0 - 1.0, -1.0, 1.0)
    if rgb and channels == 1:
      x = np.repeat(x, 3, axis=-1)
    return x

  return generate
