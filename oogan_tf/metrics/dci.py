"""DCI disentanglement / completeness / informativeness (Eastwood & Williams 2018), dlib version.

For each factor k a default `sklearn.ensemble.GradientBoostingClassifier` (100 stages,
lr 0.1, depth 3; `gbt_stages` sets the stage count, 100 is dlib's) predicts the class index from
all codes; R[:, k] = |feature_importances_|;
informativeness = mean GBT accuracy (train / test).  With P_ik = R_ik / sum_k R_ik,
D_i = 1 - H_K(P_i.) (entropy base K = #factors), D = sum_i rho_i D_i, rho_i = sum_k R_ik / sum R;
C_k = 1 - H_D(R_.k / sum_i R_ik) (base D = #codes), C = sum_k (sum_i R_ik / sum R) C_k.
dlib builds GBTs with random_state=None; here each factor's GBT gets a seed drawn from the
metric's RandomState after all samples are drawn, so results are reproducible and the
sampled data are exactly dlib's.

Standard errors (`bootstrap` > 0): informativeness is bootstrapped over the train / test
points with the fitted GBTs fixed (conditional on them).  Disentanglement and completeness
come from the fitted importance matrix, which only a refit could resample: their `_se` is
None here (evaluate_representation(num_seeds > 1) gives a seed-to-seed SE for them).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import scipy.stats
from sklearn import ensemble

from oogan_tf.metrics import _utils

# A stage fits one tree per class (up to 40 for dSprites' orientation): the fits, not the sample
# counts, set DCI's time at small sizes; quick runs may lower gbt_stages.
DEFAULTS = dict(num_train=10000, num_test=5000, batch_size=16, gbt_stages=100)
SCORE_KEYS = ("disentanglement", "completeness", "informativeness_train",
              "informativeness_test")
BOOTSTRAP = 1000  # replicates used by evaluate_representation; cheap (a mean per replicate)


def disentanglement(importance_matrix: np.ndarray) -> float:
  """DCI disentanglement of a non-negative importance matrix `[D codes, K factors]` (K >= 2)."""
  r = np.asarray(importance_matrix, dtype=np.float64)
  per_code = 1.0 - scipy.stats.entropy(r.T + 1e-11, base=r.shape[1])
  if r.sum() == 0.0:
    r = np.ones_like(r)
  code_importance = r.sum(axis=1) / r.sum()
  return float(np.sum(per_code * code_importance))


def completeness(importance_matrix: np.ndarray) -> float:
  """DCI completeness of a non-negative importance matrix `[D codes, K factors]` (D >= 2)."""
  r = np.asarray(importance_matrix, dtype=np.float64)
  per_factor = 1.0 - scipy.stats.entropy(r + 1e-11, base=r.shape[0])
  if r.sum() == 0.0:
    r = np.ones_like(r)
  factor_importance = r.sum(axis=0) / r.sum()
  return float(np.sum(per_factor * factor_importance))


def importance_gbt(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                   y_test: np.ndarray, random_state: np.random.RandomState,
                   progress: Optional[_utils.ProgressFn] = None, stages: int = 100
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Fits one GBT of `stages` stages per factor on codes `[D, N]` -> factors `[K, N]` (test:
  `[D, M]`, `[K, M]`).

  Returns (importance matrix float64 `[D, K]`, bool `[K, N]` whether each GBT is right on
  each train point, bool `[K, M]` the same on the test points).
  """
  num_codes, num_factors = x_train.shape[0], y_train.shape[0]
  importance = np.zeros((num_codes, num_factors))
  seeds = random_state.randint(2**31 - 1, size=num_factors)
  correct_train = np.zeros(y_train.shape, dtype=bool)
  correct_test = np.zeros(y_test.shape, dtype=bool)
  for k in range(num_factors):
    if np.unique(y_train[k]).size < 2:
      # A single class in training: the GBT refuses it; it predicts that class and no
      # code is important for it.
      correct_train[k] = True
      correct_test[k] = y_test[k] == y_train[k, 0]
    else:
      model = ensemble.GradientBoostingClassifier(n_estimators=stages,
                                                  random_state=int(seeds[k]))
      model.fit(x_train.T, y_train[k])
      importance[:, k] = np.abs(model.feature_importances_)
      correct_train[k] = model.predict(x_train.T) == y_train[k]
      correct_test[k] = model.predict(x_test.T) == y_test[k]
    if progress is not None:
      progress("dci/gbt", k + 1, num_factors)
  return importance, correct_train, correct_test


def _mean_accuracy(correct: np.ndarray) -> float:
  """Mean over factors of the accuracy, from bool correctness `[K, N]`."""
  return float(np.mean([float(np.mean(row)) for row in correct]))


def compute_dci(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                random_state: np.random.RandomState, *, num_train: int = 10000,
                num_test: int = 5000, batch_size: int = 16, gbt_stages: int = 100,
                bootstrap: int = 0, progress: Optional[_utils.ProgressFn] = None
                ) -> Dict[str, Any]:
  """Computes DCI with gradient boosted trees.

  Args:
    ground_truth: GroundTruthData with `num_factors >= 2`.
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]` with D >= 2.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    num_train: training points (dlib 10,000), >= 2.
    num_test: test points (dlib 5,000), >= 1.
    batch_size: points per sampling call (dlib 16).
    gbt_stages: boosting stages of each factor's GBT (dlib: sklearn's default 100), >= 1.
    bootstrap: bootstrap replicates B for the informativeness standard errors (module
      docstring); 0 = none, else >= 2.  Never changes the scores.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict of floats in [0, 1]: `disentanglement` (the reported score), `completeness`,
    `informativeness_train`, `informativeness_test` (mean GBT accuracies).  With bootstrap
    > 0 also `k + "_se"` for each (None for disentanglement and completeness) and
    `se_method`.
  """
  _utils.check_inputs(ground_truth, representation_fn, min_factors=2)
  gbt_stages = _utils.check_int("gbt_stages", gbt_stages)
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)
  x_train, y_train, x_test, y_test = _utils.train_test_codes(
      ground_truth, representation_fn, num_train, num_test, random_state, batch_size, progress,
      "dci")
  if x_train.shape[0] < 2:
    raise ValueError(
        f"DCI needs a representation with D >= 2 codes (completeness uses entropy base D), "
        f"got D = {x_train.shape[0]}.")
  importance, correct_train, correct_test = importance_gbt(x_train, y_train, x_test, y_test,
                                                           random_state, progress, gbt_stages)
  scores = {
      "disentanglement": disentanglement(importance),
      "completeness": completeness(importance),
      "informativeness_train": _mean_accuracy(correct_train),
      "informativeness_test": _mean_accuracy(correct_test),
  }
  # Every factor is scored on the same points, so the mean accuracy is a mean over points.
  return _utils.bootstrapped(
      scores, SCORE_KEYS, ("informativeness_train", "informativeness_test"),
      lambda i_train, i_test: (np.mean(correct_train[:, i_train]),
                               np.mean(correct_test[:, i_test])),
      [x_train.shape[1], x_test.shape[1]], bootstrap, bootstrap_rs,
      "disentanglement, completeness: None (they come from the fitted importance matrix, "
      "no cheap bootstrap; use num_seeds > 1); informativeness: bootstrap over "
      f"{x_train.shape[1]} train / {x_test.shape[1]} test points, conditional on the fitted "
      "GBTs")
