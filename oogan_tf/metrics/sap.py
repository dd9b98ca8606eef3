"""SAP score (Kumar et al. 2018), dlib version (`sap_score.py`, `sap_score.gin`).

Score matrix S[i, j] (code i, factor j):
  discrete (default): accuracy on the test points of `LinearSVC(C=0.01,
    class_weight="balanced")` trained on the single code i to predict factor j;
  continuous: cov(z_i, y_j)^2 / (var z_i var y_j) on the training points (0 when
    var z_i <= 1e-12), i.e. the squared correlation, as InfoGAN-CR uses.
SAP = mean_j (S_(1)j - S_(2)j), the gap between the two best codes per factor.

Standard error (`bootstrap` > 0), without refitting: discrete, the test points are
resampled and the fitted LinearSVCs' accuracies recomputed (conditional on the fitted
classifiers); continuous, the training points are resampled and S recomputed.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np
from sklearn import svm
from sklearn.exceptions import ConvergenceWarning

from oogan_tf.metrics import _utils

DEFAULTS = dict(num_train=10000, num_test=5000, batch_size=16, continuous_factors=False)
SCORE_KEYS = ("SAP_score",)
BOOTSTRAP = 500  # replicates used by evaluate_representation


def _squared_correlations(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
  """Continuous score matrix `[D, K]` from codes `[D, N]` and factors `[K, N]`."""
  s = np.zeros((codes.shape[0], factors.shape[0]))
  for i in range(codes.shape[0]):
    for j in range(factors.shape[0]):
      cov = np.cov(codes[i], factors[j].astype(np.float64), ddof=1)
      var_z, var_y = cov[0, 0], cov[1, 1]
      if var_z > 1e-12 and var_y > 0:
        s[i, j] = cov[0, 1] ** 2 / (var_z * var_y)
  return s


def _test_correct(codes: np.ndarray, factors: np.ndarray, codes_test: np.ndarray,
                  factors_test: np.ndarray) -> np.ndarray:
  """bool `[D, K, M]`: whether the SVC of code i for factor j is right on test point m."""
  num_codes, num_factors = codes.shape[0], factors.shape[0]
  correct = np.zeros((num_codes, num_factors, codes_test.shape[1]), dtype=bool)
  for i in range(num_codes):
    for j in range(num_factors):
      if np.unique(factors[j]).size < 2:
        correct[i, j] = factors_test[j] == factors[j, 0]
        continue
      clf = svm.LinearSVC(C=0.01, class_weight="balanced")
      with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(codes[i][:, None], factors[j])
      correct[i, j] = clf.predict(codes_test[i][:, None]) == factors_test[j]
  return correct


def avg_diff_top_two(matrix: np.ndarray) -> float:
  """Mean over columns of (largest - second largest) entry; 1 row -> second is 0."""
  m = np.sort(matrix, axis=0)
  second = m[-2, :] if m.shape[0] > 1 else np.zeros(m.shape[1])
  return float(np.mean(m[-1, :] - second))


def compute_sap(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                random_state: np.random.RandomState, *, num_train: int = 10000,
                num_test: int = 5000, batch_size: int = 16, continuous_factors: bool = False,
                bootstrap: int = 0,
                progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Computes the SAP score.

  Args:
    ground_truth: GroundTruthData (factors int64 class indices).
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]`.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    num_train: training points (dlib 10,000), >= 2.
    num_test: test points (dlib 5,000), >= 1 (drawn in both variants, as dlib does).
    batch_size: points per sampling call (dlib 16).
    continuous_factors: False = LinearSVC accuracy (dlib default), True = squared correlation.
    bootstrap: bootstrap replicates B for the standard error (module docstring); 0 = none,
      else >= 2.  Never changes the score.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    {"SAP_score": float in [0, 1], "continuous_factors": 0.0 or 1.0}; with bootstrap > 0
    also "SAP_score_se" (float) and "se_method" (str).
  """
  _utils.check_inputs(ground_truth, representation_fn)
  if not isinstance(continuous_factors, (bool, np.bool_)):
    raise ValueError(f"continuous_factors must be True or False, got {continuous_factors!r}.")
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)
  codes, factors, codes_t, factors_t = _utils.train_test_codes(
      ground_truth, representation_fn, num_train, num_test, random_state, batch_size, progress,
      "sap")
  if continuous_factors:
    scores = {"SAP_score": avg_diff_top_two(_squared_correlations(codes, factors)),
              "continuous_factors": 1.0}
    return _utils.bootstrapped(
        scores, SCORE_KEYS, SCORE_KEYS,
        lambda idx: avg_diff_top_two(_squared_correlations(codes[:, idx], factors[:, idx])),
        [num_train], bootstrap, bootstrap_rs,
        f"bootstrap over {num_train} train points, squared correlations recomputed")
  correct = _test_correct(codes, factors, codes_t, factors_t)
  scores = {"SAP_score": avg_diff_top_two(correct.mean(axis=2)), "continuous_factors": 0.0}
  return _utils.bootstrapped(
      scores, SCORE_KEYS, SCORE_KEYS,
      lambda idx: avg_diff_top_two(correct[:, :, idx].mean(axis=2)),
      [num_test], bootstrap, bootstrap_rs,
      f"bootstrap over {num_test} test points, conditional on the fitted LinearSVCs")
