"""Shared machinery for the disentanglement metrics (no TensorFlow here).

Owns: argument validation, calling a representation function in chunks, sampling
(code, factor) pairs from a ground-truth dataset (`generate_batch_factor_code`), the
20-bin histogram discretiser and the discrete mutual information / entropy used by MIG and
modularity.  Layouts follow disentanglement_lib (dlib): codes are returned as
`[num_codes, num_points]` and factors as `[num_factors, num_points]` class indices.

All randomness comes from the `np.random.RandomState` passed in, and the order of draws
mirrors dlib so that a metric seeded with `RandomState(seed)` sees the same samples as the
dlib protocol would for the same dataset object.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Tuple

import numpy as np
from sklearn import metrics as sk_metrics

RepresentationFn = Callable[[np.ndarray], np.ndarray]
# progress(stage, done, total): optional hook for progress bars in long metrics.
ProgressFn = Callable[[str, int, int], None]

_GROUND_TRUTH_METHODS = ("sample_factors", "sample_observations_from_factors", "sample")


def check_int(name: str, value: Any, minimum: int = 1) -> int:
  """Returns `value` as int, raising ValueError unless it is an integer >= minimum."""
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
  if value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
  return int(value)


def check_float(name: str, value: Any, minimum: Optional[float] = None,
                maximum: Optional[float] = None) -> float:
  """Returns `value` as a finite float within [minimum, maximum], else ValueError."""
  if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
    raise ValueError(f"{name} must be a finite real number, got {value!r}.")
  if minimum is not None and value < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
  if maximum is not None and value > maximum:
    raise ValueError(f"{name} must be <= {maximum}, got {value!r}.")
  return float(value)


def check_random_state(random_state: Any) -> np.random.RandomState:
  """Validates that `random_state` is a np.random.RandomState (dlib's convention)."""
  if not isinstance(random_state, np.random.RandomState):
    raise ValueError(
        "random_state must be a np.random.RandomState (e.g. np.random.RandomState(0)), "
        f"got {type(random_state).__name__}.")
  return random_state


def check_ground_truth(ground_truth: Any, min_factors: int = 1) -> None:
  """Checks that `ground_truth` has the GroundTruthData interface the metrics need."""
  missing = [m for m in _GROUND_TRUTH_METHODS if not callable(getattr(ground_truth, m, None))]
  if missing or not hasattr(ground_truth, "num_factors"):
    raise ValueError(
        "ground_truth must provide num_factors and the methods "
        f"{', '.join(_GROUND_TRUTH_METHODS)} (a GroundTruthData such as rendered dSprites); "
        f"{type(ground_truth).__name__} lacks {missing or ['num_factors']}. "
        "Metrics that need ground-truth factors cannot run on a dataset without them.")
  num_factors = ground_truth.num_factors
  if not isinstance(num_factors, numbers.Integral) or num_factors < min_factors:
    raise ValueError(
        f"ground_truth.num_factors must be an integer >= {min_factors} for this metric, "
        f"got {num_factors!r}.")


def check_representation_fn(representation_fn: Any) -> None:
  if not callable(representation_fn):
    raise ValueError(
        "representation_fn must be a callable mapping float32 images [N, H, W, C] in "
        f"[-1, 1] to float32 codes [N, D], got {type(representation_fn).__name__}.")


def represent(representation_fn: RepresentationFn, observations: np.ndarray,
              num_codes: Optional[int] = None) -> np.ndarray:
  """Calls `representation_fn` once and validates its output.

  Args:
    representation_fn: maps float32 `[N, H, W, C]` in [-1, 1] to `[N, D]`.
    observations: float32 `[N, H, W, C]`.
    num_codes: if given, the expected D (so that every call returns the same width).

  Returns:
    float64 `[N, D]` codes.

  Raises:
    ValueError: if the output is not a finite `[N, D]` array.
  """
  codes = np.asarray(representation_fn(observations))
  n = observations.shape[0]
  if codes.ndim != 2 or codes.shape[0] != n:
    raise ValueError(
        f"representation_fn must return an array of shape [N, D] = [{n}, D] for {n} "
        f"observations, got shape {codes.shape}.")
  if num_codes is not None and codes.shape[1] != num_codes:
    raise ValueError(
        f"representation_fn returned {codes.shape[1]} codes, earlier calls returned "
        f"{num_codes}.")
  if not np.issubdtype(codes.dtype, np.number):
    raise ValueError(f"representation_fn must return numbers, got dtype {codes.dtype}.")
  codes = codes.astype(np.float64)
  if not np.all(np.isfinite(codes)):
    raise ValueError("representation_fn returned non-finite values (NaN or inf).")
  return codes


def obtain_representation(observations: np.ndarray, representation_fn: RepresentationFn,
                          batch_size: int) -> np.ndarray:
  """Represents `observations` ([N, H, W, C]) in chunks of `batch_size`; returns float64 [N, D]."""
  batch_size = check_int("batch_size", batch_size)
  chunks = []
  width = None
  for start in range(0, observations.shape[0], batch_size):
    codes = represent(representation_fn, observations[start:start + batch_size], width)
    width = codes.shape[1]
    chunks.append(codes)
  return np.concatenate(chunks, axis=0)


def generate_batch_factor_code(ground_truth: Any, representation_fn: RepresentationFn,
                               num_points: int, random_state: np.random.RandomState,
                               batch_size: int, progress: Optional[ProgressFn] = None,
                               stage: str = "codes") -> Tuple[np.ndarray, np.ndarray]:
  """Samples `num_points` (code, factor) pairs, `batch_size` at a time (dlib order of draws).

  Args:
    ground_truth: GroundTruthData; `sample(num, random_state)` returns int64 factors
      `[num, F]` (class indices) and float32 observations `[num, H, W, C]` in [-1, 1].
    representation_fn: float32 `[n, H, W, C]` -> `[n, D]`.
    num_points: number of points, >= 1.
    random_state: np.random.RandomState.
    batch_size: points per `sample` / `representation_fn` call, >= 1.
    progress: optional hook `progress(stage, done, total)`.
    stage: label passed to `progress`.

  Returns:
    (codes float64 `[D, num_points]`, factors int64 `[F, num_points]`).
  """
  num_points = check_int("num_points", num_points)
  batch_size = check_int("batch_size", batch_size)
  check_random_state(random_state)
  codes, factors = [], []
  width = None
  done = 0
  while done < num_points:
    n = min(num_points - done, batch_size)
    f, obs = ground_truth.sample(n, random_state)
    f = np.asarray(f)
    if f.ndim != 2 or f.shape[0] != n:
      raise ValueError(
          f"ground_truth.sample({n}) returned factors of shape {f.shape}, expected [{n}, F].")
    c = represent(representation_fn, np.asarray(obs), width)
    width = c.shape[1]
    codes.append(c)
    factors.append(f.astype(np.int64))
    done += n
    if progress is not None:
      progress(stage, done, num_points)
  return np.concatenate(codes, axis=0).T, np.concatenate(factors, axis=0).T


def histogram_discretize(target: np.ndarray, num_bins: int = 20) -> np.ndarray:
  """Discretises each row of `target` ([D, N] float) into `num_bins` equal-width bins.

  Bins span each row's own [min, max] (np.histogram edges); returns int64 `[D, N]` bin
  indices in 1..num_bins.  A constant row falls into a single bin.
  """
  num_bins = check_int("num_bins", num_bins, minimum=1)
  target = np.asarray(target)
  if target.ndim != 2:
    raise ValueError(
        f"target must be a 2-D [num_codes, num_points] array, got shape {target.shape}.")
  out = np.zeros(target.shape, dtype=np.int64)
  for i in range(target.shape[0]):
    edges = np.histogram(target[i, :], num_bins)[1]
    out[i, :] = np.digitize(target[i, :], edges[:-1])
  return out


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
  """MI in nats between discrete codes `[D, N]` and factors `[F, N]`; returns `[D, F]`."""
  codes = np.asarray(codes)
  factors = np.asarray(factors)
  if codes.ndim != 2 or factors.ndim != 2 or codes.shape[1] != factors.shape[1]:
    raise ValueError(
        "codes and factors must be [D, N] and [F, N] with the same N, got "
        f"{codes.shape} and {factors.shape}.")
  m = np.zeros((codes.shape[0], factors.shape[0]))
  for i in range(codes.shape[0]):
    for j in range(factors.shape[0]):
      m[i, j] = sk_metrics.mutual_info_score(factors[j, :], codes[i, :])
  return m


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
  """Entropy in nats of each discrete row of `factors` `[F, N]`; returns `[F]`."""
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(f"factors must be a 2-D [F, N] array, got shape {factors.shape}.")
  return np.array([sk_metrics.mutual_info_score(row, row) for row in factors])


def print_progress() -> ProgressFn:
  """A simple stderr progress printer usable as the `progress` hook (no extra dependency)."""
  import sys
  import time

  state = {"stage": None, "t0": 0.0, "last": 0.0}

  def _progress(stage: str, done: int, total: int) -> None:
    now = time.time()
    if stage != state["stage"]:
      state.update(stage=stage, t0=now, last=0.0)
    if done < total and now - state["last"] < 1.0:
      return
    state["last"] = now
    elapsed = now - state["t0"]
    eta = elapsed / max(done, 1) * (total - done)
    sys.stderr.write(f"\r{stage}: {done}/{total} ({100.0 * done / total:5.1f}%) "
                     f"elapsed {elapsed:6.1f}s eta {eta:6.1f}s")
    if done >= total:
      sys.stderr.write("\n")
    sys.stderr.flush()

  return _progress


def train_test_codes(ground_truth: Any, representation_fn: RepresentationFn, num_train: int,
                     num_test: int, random_state: np.random.RandomState, batch_size: int,
                     progress: Optional[ProgressFn], metric: str
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Validated train then test draws (dlib order): (codes, factors, codes_test, factors_test).

  Shapes as generate_batch_factor_code: codes [D, N], factors [F, N]. Checks num_train >= 2 and
  num_test >= 1.
  """
  num_train = check_int("num_train", num_train, 2)
  num_test = check_int("num_test", num_test, 1)
  codes, factors = generate_batch_factor_code(ground_truth, representation_fn, num_train,
                                              random_state, batch_size, progress, f"{metric}/train")
  codes_t, factors_t = generate_batch_factor_code(ground_truth, representation_fn, num_test,
                                                  random_state, batch_size, progress,
                                                  f"{metric}/test")
  return codes, factors, codes_t, factors_t
