"""Mutual Information Gap (Chen et al. 2018), dlib's discretised estimator (`mig.py`, `mig.gin`).

Codes of `num_train` random points are discretised into `num_bins` equal-width bins per
dimension; with m[i, k] the discrete MI (nats) between code i and factor k and H_k the
factor entropy, MIG = mean_k (m_(1)k - m_(2)k) / H_k over the two largest codes.
This is NOT Chen et al.'s original encoder-distribution estimator; values differ.
`per_factor` keeps each factor's gap (the terms of that mean), because the mean alone cannot
say which factor a model captures: a model that puts the shape in one code and one that spreads
it over all codes can share a MIG.

Standard error (`bootstrap` > 0): the points are resampled with replacement and the whole
estimate (bin edges, MI, entropies) is recomputed per replicate.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from oogan_tf.metrics import _utils

DEFAULTS = dict(num_train=10000, batch_size=16, num_bins=20)
SCORE_KEYS = ("discrete_mig",)
BOOTSTRAP = 200  # replicates used by evaluate_representation (~15 ms each at 10,000 points)


def mig_from_codes(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20,
                   names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
  """MIG from precomputed codes float `[D, N]` and factor class indices int `[F, N]`.

  With D == 1 the second-largest MI is taken as 0.  Factors whose sampled entropy is 0
  (a single value in the sample) are skipped; if all are, the score is 0.
  Returns {"discrete_mig": float in [0, 1]}; with `names` (F strings) also
  "per_factor": {name: that factor's normalised gap in [0, 1]} for the factors not skipped.
  """
  discretized = _utils.histogram_discretize(codes, num_bins)
  m = _utils.discrete_mutual_info(discretized, factors)
  entropy = _utils.discrete_entropy(factors)
  if m.shape[0] == 1:
    m = np.concatenate([m, np.zeros_like(m)], axis=0)
  sorted_m = np.sort(m, axis=0)[::-1]
  valid = entropy > 0
  if not valid.any():
    return {"discrete_mig": 0.0, **({"per_factor": {}} if names is not None else {})}
  gaps = (sorted_m[0, valid] - sorted_m[1, valid]) / entropy[valid]
  result: Dict[str, Any] = {"discrete_mig": float(np.mean(gaps))}
  if names is not None:
    result["per_factor"] = {name: float(gap) for name, gap in
                            zip(np.asarray(names)[valid].tolist(), gaps)}
  return result


def compute_mig(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                random_state: np.random.RandomState, *, num_train: int = 10000,
                batch_size: int = 16, num_bins: int = 20, bootstrap: int = 0,
                progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Computes the (discretised) MIG.

  Args:
    ground_truth: GroundTruthData (factors int64 class indices, observations float32 in [-1, 1]).
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]`.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    num_train: points (dlib 10,000), >= 2.
    batch_size: points per sampling call (dlib 16).
    num_bins: histogram bins per code (dlib 20).
    bootstrap: bootstrap replicates B for the standard error; 0 = none, else >= 2.  Never
      changes the score.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    {"discrete_mig": float in [0, 1], "per_factor": {factor name: its gap in [0, 1]}
    (mig_from_codes; no standard error)}; with bootstrap > 0 also "discrete_mig_se" (float)
    and "se_method" (str).
  """
  _utils.check_inputs(ground_truth, representation_fn)
  num_train = _utils.check_int("num_train", num_train, 2)
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)
  codes, factors = _utils.generate_batch_factor_code(
      ground_truth, representation_fn, num_train, random_state, batch_size, progress, "mig")
  scores = mig_from_codes(codes, factors, num_bins, _utils.factor_names(ground_truth))
  return _utils.bootstrapped(
      scores, SCORE_KEYS, SCORE_KEYS,
      lambda idx: mig_from_codes(codes[:, idx], factors[:, idx], num_bins)["discrete_mig"],
      [num_train], bootstrap, bootstrap_rs,
      f"bootstrap over {num_train} points, re-discretised per replicate")
