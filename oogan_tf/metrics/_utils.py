"""Shared machinery for the disentanglement metrics (no TensorFlow here).

Owns: argument validation, calling a representation function in chunks, sampling
(code, factor) pairs from a ground-truth dataset (`generate_batch_factor_code`), the
20-bin histogram discretiser, the discrete mutual information / entropy used by MIG and
modularity, and the bootstrap behind every metric's standard errors.  Layouts follow
disentanglement_lib (dlib): codes are returned as `[num_codes, num_points]` and factors as
`[num_factors, num_points]` class indices.

All randomness comes from the `np.random.RandomState` passed in, and the order of draws
mirrors dlib so that a metric seeded with `RandomState(seed)` sees the same samples as the
dlib protocol would for the same dataset object.  Bootstrap draws come from a separate
RandomState derived from that one's state (`bootstrap_random_state`) without drawing from
it, so standard errors never change a score.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

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


def check_inputs(ground_truth: Any, representation_fn: Any, min_factors: int = 1) -> None:
  """check_ground_truth, then check_representation_fn: what every Q-side metric checks first."""
  check_ground_truth(ground_truth, min_factors)
  check_representation_fn(representation_fn)


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
  return check_codes(representation_fn(observations), observations.shape[0], num_codes)


def check_codes(codes: Any, n: int, num_codes: Optional[int] = None) -> np.ndarray:
  """Validates a representation's output for `n` observations; returns float64 `[n, D]`."""
  codes = np.asarray(codes)
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


# Images rendered and represented per call when a metric defers its draws (see `deferrable`):
# large enough that per-call overhead vanishes, small enough to bound memory (32 MB at 32 px).
DEFERRED_IMAGES = 8192


def deterministic(ground_truth: Any) -> bool:
  """Whether `ground_truth.deterministic_observations` is set: its observations are a function
  of the factors alone (sampling them draws nothing from the random state) and `sample(n, rs)`
  draws exactly what `sample_factors(n, rs)` draws."""
  return bool(getattr(ground_truth, "deterministic_observations", False))


def deferrable(ground_truth: Any) -> bool:
  """Whether a metric may draw many factor batches first and represent them together.

  True for a `deterministic` ground truth: deferring then leaves every random draw, every image
  and so every score unchanged, and only batches the rendering and encoding.

  Also True when `ground_truth.iid_nuisance` is set: each observation draws nuisance variables
  (a generator's noise z) from the random state, i.i.d. and independently of its factors, and
  `sample_factors` draws what it draws for any ground truth.  Deferring then moves the nuisance
  draws of a group of batches after that group's factor draws: the images differ from those of
  one call per batch, but not their joint distribution with the factors, so the scores are the
  same in distribution, and a seed still fixes every one of them.  Such a ground truth cannot
  back a CodeCache (its images are not a function of the factors).
  """
  return deterministic(ground_truth) or bool(getattr(ground_truth, "iid_nuisance", False))


def represent_factors(ground_truth: Any, representation_fn: RepresentationFn,
                      factors: np.ndarray, random_state: np.random.RandomState,
                      num_codes: Optional[int] = None) -> np.ndarray:
  """Codes float64 `[N, D]` of the observations of `factors` (int64 `[N, F]`).

  A representation with `codes_of_factors` (a `CodeCache`) looks the codes up by factors and
  encodes only images it has not seen; any other is called on the rendered observations.
  """
  if callable(getattr(representation_fn, "codes_of_factors", None)):
    return check_codes(representation_fn.codes_of_factors(factors), len(factors), num_codes)
  obs = ground_truth.sample_observations_from_factors(factors, random_state)
  return represent(representation_fn, np.asarray(obs), num_codes)


def represent_factor_batches(ground_truth: Any, representation_fn: RepresentationFn,
                             batches: Sequence[np.ndarray], random_state: np.random.RandomState,
                             num_codes: Optional[int] = None) -> List[np.ndarray]:
  """`represent_factors` of each factor batch: a list of float64 `[n_i, D]`.

  One call for all batches when `ground_truth` is deferrable, else one call per batch (the
  order of calls and draws of dlib's loops).
  """
  if not deferrable(ground_truth):
    codes = []
    for factors in batches:
      codes.append(represent_factors(ground_truth, representation_fn, factors, random_state,
                                     num_codes))
      num_codes = codes[-1].shape[1]
    return codes
  codes = represent_factors(ground_truth, representation_fn, np.concatenate(batches, axis=0),
                            random_state, num_codes)
  return np.split(codes, np.cumsum([len(b) for b in batches])[:-1])


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
  # Deferred: the draws of many batches (in dlib's order), then one representation call.
  batches_per_call = max(1, DEFERRED_IMAGES // batch_size) if deferrable(ground_truth) else 1
  while done < num_points:
    pending = []
    while done < num_points and len(pending) < batches_per_call:
      n = min(num_points - done, batch_size)
      if batches_per_call > 1:
        f = np.asarray(ground_truth.sample_factors(n, random_state))
      else:
        f, obs = ground_truth.sample(n, random_state)
        f = np.asarray(f)
      if f.ndim != 2 or f.shape[0] != n:
        raise ValueError(
            f"ground_truth.sample({n}) returned factors of shape {f.shape}, expected [{n}, F].")
      pending.append(f.astype(np.int64))
      done += n
    if batches_per_call > 1:
      c = represent_factors(ground_truth, representation_fn, np.concatenate(pending), random_state,
                            width)
    else:
      c = represent(representation_fn, np.asarray(obs), width)
    width = c.shape[1]
    codes.append(c)
    factors.extend(pending)
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
    edges = np.histogram_bin_edges(target[i, :], num_bins)  # np.histogram's, without counting
    out[i, :] = np.digitize(target[i, :], edges[:-1])
  return out


# Above this many contingency cells the counts are found by sorting instead of np.bincount,
# so that label sets with very many distinct values cannot exhaust memory.
_DENSE_CELLS = 1 << 22


def _compress_rows(rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Per row of `rows` [R, N]: labels 0..n_r-1 in sorted value order, and n_r `[R]`."""
  labels = np.empty(rows.shape, dtype=np.int64)
  sizes = np.empty(rows.shape[0], dtype=np.int64)
  small_ints = (np.issubdtype(rows.dtype, np.integer) and rows.size > 0
                and rows.min() >= 0 and rows.max() < max(_DENSE_CELLS, rows.shape[1]))
  for r in range(rows.shape[0]):
    if small_ints:
      # Bin indices and class indices: a lookup table is several times faster than sorting.
      present = np.bincount(rows[r]) > 0
      labels[r] = (np.cumsum(present) - 1)[rows[r]]
      sizes[r] = int(present.sum())
    else:
      values, labels[r] = np.unique(rows[r], return_inverse=True)
      sizes[r] = values.size
  return labels, sizes


def _mi_terms(joint: np.ndarray, count_a: np.ndarray, count_b: np.ndarray,
              n: int) -> np.ndarray:
  """Per-cell terms of the plug-in MI (nats) from int64 joint and marginal counts.

  The operations and their order are those of sklearn's `mutual_info_score`, so that the
  per-pair sums below reproduce it bit for bit (the metrics' scores stay exactly dlib's).
  """
  p = joint / n
  log_outer = -np.log(count_a * count_b) + math.log(n) + math.log(n)
  terms = p * (np.log(joint) - math.log(n)) + p * log_outer
  return np.where(np.abs(terms) < np.finfo(np.float64).eps, 0.0, terms)


def _segment_sums(terms: np.ndarray, starts: np.ndarray) -> np.ndarray:
  """Sums of the consecutive segments of `terms` beginning at `starts`, clipped at 0."""
  # np.sum per contiguous segment (not np.add.reduceat) keeps numpy's pairwise summation,
  # which is what sklearn's single-pair sum does.
  return np.array([max(float(np.sum(t)), 0.0) for t in np.split(terms, starts[1:])])


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
  """MI in nats between discrete codes `[D, N]` and factors `[F, N]`; returns float64 `[D, F]`.

  Equals `sklearn.metrics.mutual_info_score(factors[j], codes[i])` for every pair (to the
  last bit in practice), but builds all D * F contingency tables with one np.bincount.
  Values may be any integers (or other sortable labels); MI is 0 when either side has a
  single value.
  """
  codes = np.asarray(codes)
  factors = np.asarray(factors)
  if codes.ndim != 2 or factors.ndim != 2 or codes.shape[1] != factors.shape[1]:
    raise ValueError(
        "codes and factors must be [D, N] and [F, N] with the same N, got "
        f"{codes.shape} and {factors.shape}.")
  num_codes, num_factors = codes.shape[0], factors.shape[0]
  out = np.zeros((num_codes, num_factors))
  n = codes.shape[1]
  if n == 0 or num_codes == 0 or num_factors == 0:
    return out
  code_labels, code_sizes = _compress_rows(codes)
  factor_labels, factor_sizes = _compress_rows(factors)
  # Pair (i, j) owns cells [base_ij, base_ij + ny_j * nx_i), laid out factor-major like
  # sklearn's contingency matrix (rows = factor values), so nonzero cells come out in its order.
  pair_cells = (code_sizes[:, None] * factor_sizes[None, :]).ravel()
  base = np.concatenate([[0], np.cumsum(pair_cells)[:-1]]).reshape(num_codes, num_factors)
  keys = (base[:, :, None] + factor_labels[None, :, :] * code_sizes[:, None, None]
          + code_labels[:, None, :])
  total = int(pair_cells.sum())
  if total <= _DENSE_CELLS:
    counts = np.bincount(keys.ravel(), minlength=total)
    cells = np.flatnonzero(counts)
    joint = counts[cells]
  else:
    cells, joint = np.unique(keys, return_counts=True)
  pair = np.searchsorted(base.ravel(), cells, side="right") - 1
  code_i, factor_j = np.divmod(pair, num_factors)
  offset = cells - base.ravel()[pair]
  factor_value, code_value = np.divmod(offset, code_sizes[code_i])
  code_counts = np.stack([np.bincount(row, minlength=code_sizes.max()) for row in code_labels])
  factor_counts = np.stack([np.bincount(row, minlength=factor_sizes.max())
                            for row in factor_labels])
  terms = _mi_terms(joint, factor_counts[factor_j, factor_value],
                    code_counts[code_i, code_value], n)
  present, starts = np.unique(pair, return_index=True)
  out.ravel()[present] = _segment_sums(terms, starts)
  out[code_sizes == 1, :] = 0.0
  out[:, factor_sizes == 1] = 0.0
  return out


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
  """Entropy in nats of each discrete row of `factors` `[F, N]`; returns float64 `[F]`.

  Equals sklearn's `mutual_info_score(row, row)` (dlib's definition); 0 for a constant row.
  """
  factors = np.asarray(factors)
  if factors.ndim != 2:
    raise ValueError(f"factors must be a 2-D [F, N] array, got shape {factors.shape}.")
  out = np.zeros(factors.shape[0])
  if factors.shape[1] == 0:
    return out
  labels, sizes = _compress_rows(factors)
  for j in np.flatnonzero(sizes > 1):
    counts = np.bincount(labels[j])
    out[j] = _segment_sums(_mi_terms(counts, counts, counts, factors.shape[1]),
                           np.array([0]))[0]
  return out


def print_progress() -> ProgressFn:
  """A stderr progress printer usable as the `progress` hook (no extra dependency).

  On a terminal one line per stage is rewritten in place (at most once a second); elsewhere (a
  log file, a pipe) every report is a line of its own, at most one per stage every 10 s plus
  the last, so that a log stays readable.
  """
  import sys
  import time

  tty = sys.stderr.isatty()
  interval = 1.0 if tty else 10.0
  state = {"stage": None, "t0": 0.0, "last": 0.0}

  def _progress(stage: str, done: int, total: int) -> None:
    now = time.time()
    if stage != state["stage"]:
      state.update(stage=stage, t0=now, last=0.0)
    if done < total and now - state["last"] < interval:
      return
    state["last"] = now
    elapsed = now - state["t0"]
    eta = elapsed / max(done, 1) * (total - done)
    text = (f"{stage}: {done}/{total} ({100.0 * done / total:5.1f}%) "
            f"elapsed {elapsed:6.1f}s eta {eta:6.1f}s")
    end = "\n" if done >= total or not tty else ""
    sys.stderr.write(("\r" if tty else "") + text + end)
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


# ----------------------------------------------------------------------------- standard errors

# Mixed into the seed of the bootstrap stream so it differs from any metric stream.
_BOOTSTRAP_STREAM = 0xB0075


def check_bootstrap(value: Any) -> int:
  """Validates a number of bootstrap replicates: 0 (no bootstrap) or an integer >= 2."""
  value = check_int("bootstrap", value, 0)
  if value == 1:
    raise ValueError("bootstrap must be 0 (off) or >= 2 replicates (a standard deviation "
                     "needs two), got 1.")
  return value


def bootstrap_setup(bootstrap: Any, random_state: np.random.RandomState
                    ) -> tuple[int, np.random.RandomState]:
  """(check_bootstrap(bootstrap), bootstrap_random_state(random_state))."""
  return check_bootstrap(bootstrap), bootstrap_random_state(random_state)


def bootstrap_random_state(random_state: np.random.RandomState) -> np.random.RandomState:
  """A RandomState for bootstrap draws, seeded from `random_state`'s current state.

  Nothing is drawn from `random_state`, so a metric that calls this first sees exactly the
  samples it saw before standard errors existed; for a fresh `RandomState(seed)` the
  bootstrap stream is a function of the seed alone.
  """
  check_random_state(random_state)
  _, key, pos, _, _ = random_state.get_state()
  sequence = np.random.SeedSequence([*np.asarray(key, np.uint64).tolist(), int(pos),
                                     _BOOTSTRAP_STREAM])
  return np.random.RandomState(np.random.MT19937(sequence))


def bootstrap_replicates(statistic: Callable[..., Any],
                         samples: Sequence[Union[int, np.ndarray]], num_replicates: int,
                         random_state: np.random.RandomState) -> np.ndarray:
  """Bootstrap replicates of `statistic` over one or more independent samples.

  Args:
    statistic: called as `statistic(idx_1, ..., idx_S)` with one int64 index array per
      sample (a resample with replacement of that sample's points); returns a float or a
      1-D array of floats.
    samples: per sample, either its size N (i.i.d. points) or int stratum labels `[N]`, in
      which case each stratum is resampled on its own (for designs that fix the count per
      stratum, such as round-robin factors).
    num_replicates: B >= 1.
    random_state: the bootstrap RandomState (see `bootstrap_random_state`).

  Returns:
    float64 `[B, K]` replicates (K outputs of `statistic`).
  """
  plans = []
  for sample in samples:
    labels = (np.zeros(sample, np.int64) if isinstance(sample, numbers.Integral)
              else np.asarray(sample))
    order = np.argsort(labels, kind="stable")
    _, first, size = np.unique(labels[order], return_index=True, return_counts=True)
    plans.append((order, np.repeat(first, size), np.repeat(size, size)))
  replicates = []
  for _ in range(num_replicates):
    indices = [order[first + random_state.randint(0, size)] for order, first, size in plans]
    replicates.append(np.atleast_1d(np.asarray(statistic(*indices), dtype=np.float64)))
  return np.stack(replicates)


def factor_names(ground_truth: Any) -> Tuple[str, ...]:
  """The ground truth's `factor_names`, or factor_0, factor_1, ... where it has none."""
  names = tuple(getattr(ground_truth, "factor_names", ()))
  if len(names) == ground_truth.num_factors:
    return names
  return tuple(f"factor_{k}" for k in range(ground_truth.num_factors))


def with_standard_errors(scores: Mapping[str, Any], score_keys: Sequence[str],
                         standard_errors: Mapping[str, Optional[float]],
                         se_method: str) -> Dict[str, Any]:
  """`scores` with `k + "_se"` (float or None) after every k in `score_keys`, and `se_method`.

  Keys of `score_keys` missing from `standard_errors` get None (no estimate available).
  """
  out: Dict[str, Any] = {}
  for key, value in scores.items():
    out[key] = value
    if key in score_keys:
      se = standard_errors.get(key)
      out[key + "_se"] = None if se is None else float(se)
  out["se_method"] = se_method
  return out


def bootstrapped(scores: Mapping[str, Any], score_keys: Sequence[str],
                 statistic_keys: Sequence[str], statistic: Callable[..., Any],
                 samples: Sequence[Union[int, np.ndarray]], num_replicates: int,
                 random_state: np.random.RandomState, se_method: str) -> Dict[str, Any]:
  """Adds bootstrap standard errors to a metric's `scores`; `scores` unchanged when B == 0.

  Args:
    scores: the metric's result dict (point estimates and descriptive entries).
    score_keys: the metric's score keys; each gets `k + "_se"`.
    statistic_keys: the score keys `statistic` returns, in its output order; the other
      score keys get None.
    statistic, samples, random_state: as in `bootstrap_replicates`.
    num_replicates: B (0 = off, else >= 2).
    se_method: description of the bootstrap; ", B=<B>" is appended.

  Returns:
    `with_standard_errors` of the scores, the SEs being the replicates' sample std (ddof=1).
  """
  if num_replicates == 0:
    return dict(scores)
  replicates = bootstrap_replicates(statistic, samples, num_replicates, random_state)
  se = np.std(replicates, axis=0, ddof=1)
  return with_standard_errors(scores, score_keys, dict(zip(statistic_keys, se)),
                              f"{se_method}, B={num_replicates}")
