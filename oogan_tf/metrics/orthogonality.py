"""Orthogonality of Q's orthogonal layers: cosine similarities between kernel slices.

Rows are all k x k spatial slices of a kernel (reference-notes section 4): a depthwise kernel
`[4, 4, C', 1]` gives C' rows of 16, a transform weight `[C', 4, 4]` or `[4, 4, C']` gives C'
rows of 16, a PyTorch conv `[out, in, k, k]` gives out * in rows of k * k.  Per layer the
cosine Gram matrix S (n x n) is formed from unit-normalised rows and we report:

* `mean_abs_cos_offdiag`: mean |S_ij| over i != j.  This is our reading of the paper's
  Table 2 "cos-sim in Q" column (never implemented in the release): a "cosine similarity
  between kernels" is naturally between *different* kernels, and the diagonal is always 1.
* `mean_sq_cos_offdiag`: mean S_ij^2 over i != j.
* `mean_abs_cos_all`, `mean_sq_cos_all`: the same means over all n^2 entries including the
  diagonal; `mean_sq_cos_all` is exactly the training regulariser L_orth (floor 1/n for
  n <= row length, 1/row length otherwise).

Overall values pool the per-layer Gram entries (weighted by their counts; no pairs across
layers).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Sequence, Union

import numpy as np

LAYOUTS = ("auto", "spatial_first", "spatial_last", "rows")


def kernel_rows(kernel: np.ndarray, layout: str = "auto", name: str = "kernel") -> np.ndarray:
  """Reshapes a kernel into rows of its k x k spatial slices.

  Args:
    kernel: float array, 2-D (already `[rows, features]`), 3-D (`[C', kh, kw]` or
      `[kh, kw, C']`) or 4-D (Keras `[kh, kw, in, out]` or PyTorch `[out, in, kh, kw]`).
    layout: "spatial_first" (leading two axes are kh, kw: Keras), "spatial_last" (trailing
      two: PyTorch), "rows" (2-D as given) or "auto": 2-D -> rows; 3-D/4-D -> the pair of
      equal leading or trailing axes; ambiguous shapes (both pairs equal, or neither) raise.
    name: used in error messages.

  Returns:
    float64 `[num_rows, kh * kw]`.
  """
  k = np.asarray(kernel, dtype=np.float64)
  if layout not in LAYOUTS:
    raise ValueError(f"layout for {name} must be one of {LAYOUTS}, got {layout!r}.")
  if k.ndim == 2 and layout in ("auto", "rows"):
    return k
  if k.ndim not in (3, 4):
    raise ValueError(f"{name} must be a 2-D, 3-D or 4-D kernel array, got shape {k.shape}.")
  if layout == "rows":
    raise ValueError(f"layout='rows' needs a 2-D {name}, got shape {k.shape}.")
  if layout == "auto":
    first = k.shape[0] == k.shape[1]
    last = k.shape[-1] == k.shape[-2]
    if first == last:
      raise ValueError(
          f"cannot infer the spatial axes of {name} with shape {k.shape}; pass "
          "layout='spatial_first' (Keras [kh, kw, ...]) or 'spatial_last' (PyTorch [..., kh, kw]).")
    layout = "spatial_first" if first else "spatial_last"
  if layout == "spatial_first":
    k = np.moveaxis(k, (0, 1), (-2, -1))
  return k.reshape(-1, k.shape[-2] * k.shape[-1])


def _gram_stats(rows: np.ndarray, name: str):
  norms = np.linalg.norm(rows, axis=1)
  if np.any(norms == 0) or not np.all(np.isfinite(norms)):
    bad = int(np.flatnonzero((norms == 0) | ~np.isfinite(norms))[0])
    raise ValueError(f"{name} row {bad} has zero or non-finite norm; its cosine is undefined.")
  u = rows / norms[:, None]
  s = u @ u.T
  n = s.shape[0]
  off = ~np.eye(n, dtype=bool)
  abs_s, sq_s = np.abs(s), s * s
  sums = dict(abs_off=abs_s[off].sum(), sq_off=sq_s[off].sum(), abs_all=abs_s.sum(),
              sq_all=sq_s.sum(), n_off=float(n * (n - 1)), n_all=float(n * n))
  stats = {
      "mean_abs_cos_offdiag": sums["abs_off"] / sums["n_off"] if n > 1 else 0.0,
      "mean_sq_cos_offdiag": sums["sq_off"] / sums["n_off"] if n > 1 else 0.0,
      "mean_abs_cos_all": sums["abs_all"] / sums["n_all"],
      "mean_sq_cos_all": sums["sq_all"] / sums["n_all"],
      "num_rows": float(n),
      "row_length": float(rows.shape[1]),
  }
  return {k: float(v) for k, v in stats.items()}, sums


def compute_orthogonality(kernels: Union[Mapping[str, Any], Sequence[Any]],
                          layout: Union[str, Sequence[str], Mapping[str, str]] = "auto"
                          ) -> Dict[str, Any]:
  """Cosine-similarity statistics of the orthogonal layers' kernels.

  Args:
    kernels: a mapping name -> kernel array or a sequence of kernel arrays (named
      `layer_0`, ...); shapes as in `kernel_rows`.  Keras variables / tensors are accepted
      (anything `np.asarray` converts).
    layout: one layout for all kernels, or one per kernel (sequence or mapping by name).

  Returns:
    dict with `layers`: {name: {mean_abs_cos_offdiag, mean_sq_cos_offdiag, mean_abs_cos_all,
    mean_sq_cos_all, num_rows, row_length}} and the four pooled overall means at the top
    level (see module docstring; `mean_abs_cos_offdiag` is the paper's Table 2 column).
  """
  if isinstance(kernels, Mapping):
    items = [(str(k), v) for k, v in kernels.items()]
  elif isinstance(kernels, (list, tuple)):
    items = [(f"layer_{i}", v) for i, v in enumerate(kernels)]
  else:
    raise ValueError("kernels must be a mapping name -> array or a list/tuple of arrays, "
                     f"got {type(kernels).__name__}.")
  if not items:
    raise ValueError("kernels must contain at least one kernel, got none.")
  if isinstance(layout, str):
    layouts = [layout] * len(items)
  elif isinstance(layout, Mapping):
    layouts = [layout.get(name, "auto") for name, _ in items]
  else:
    layouts = list(layout)
    if len(layouts) != len(items):
      raise ValueError(f"layout has {len(layouts)} entries for {len(items)} kernels.")
  layers: Dict[str, Dict[str, float]] = {}
  total = dict(abs_off=0.0, sq_off=0.0, abs_all=0.0, sq_all=0.0, n_off=0.0, n_all=0.0)
  for (name, kernel), lay in zip(items, layouts):
    rows = kernel_rows(np.asarray(kernel), lay, name)
    layers[name], sums = _gram_stats(rows, name)
    for key in total:
      total[key] += sums[key]
  return {
      "layers": layers,
      "mean_abs_cos_offdiag": float(total["abs_off"] / total["n_off"]) if total["n_off"] else 0.0,
      "mean_sq_cos_offdiag": float(total["sq_off"] / total["n_off"]) if total["n_off"] else 0.0,
      "mean_abs_cos_all": float(total["abs_all"] / total["n_all"]),
      "mean_sq_cos_all": float(total["sq_all"] / total["n_all"]),
  }
