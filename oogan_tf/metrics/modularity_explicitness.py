"""Modularity and explicitness (Ridgeway & Zemel 2018), dlib version.

Modularity: MI matrix m `[D, K]` between 20-bin discretised training codes and factors;
  theta_i = max_k m_ik^2, delta_i = (sum_k m_ik^2 - theta_i) / (theta_i (K - 1)),
  mod_i = 1 - delta_i (0 when theta_i = 0); modularity = mean_i mod_i.
Explicitness: codes z-scored with the training mean / std; per factor a default
  `LogisticRegression()` on all codes; macro one-vs-rest ROC-AUC of its class probabilities
  on train and test; averaged over factors.
Deviations from dlib only in its crash cases: a code with zero training std is divided by 1;
  AUC columns (classes) with no positive or no negative sample are skipped (dlib's
  MultiLabelBinarizer fails when the test set misses a class); a factor with a single
  training class scores 0.5 (uninformative).

Standard errors (`bootstrap` > 0): modularity is bootstrapped over the training points
(re-discretised per replicate); explicitness over the train / test points conditional on
the fitted classifiers (their class probabilities are fixed, only the points resampled).
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
from sklearn import linear_model
from sklearn import metrics as sk_metrics
from sklearn.exceptions import ConvergenceWarning

from oogan_tf.metrics import _utils

DEFAULTS = dict(num_train=10000, num_test=5000, batch_size=16, num_bins=20)
SCORE_KEYS = ("modularity_score", "explicitness_score_train", "explicitness_score_test")
BOOTSTRAP = 200  # replicates used by evaluate_representation


def modularity(mutual_information: np.ndarray) -> float:
  """Modularity score from an MI matrix `[D codes, K factors]` (K >= 2); in [0, 1]."""
  sq = np.square(np.asarray(mutual_information, dtype=np.float64))
  theta = np.max(sq, axis=1)
  numerator = np.sum(sq, axis=1) - theta
  denominator = theta * (sq.shape[1] - 1.0)
  with np.errstate(divide="ignore", invalid="ignore"):
    score = 1.0 - numerator / denominator
  score[theta == 0.0] = 0.0
  return float(np.mean(score))


def _macro_auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
  aucs = []
  for c, cls in enumerate(classes):
    positive = y == cls
    if positive.all() or not positive.any():
      continue
    aucs.append(sk_metrics.roc_auc_score(positive, proba[:, c]))
  return float(np.mean(aucs)) if aucs else 0.5


def _class_probabilities(codes_train: np.ndarray, y_train: np.ndarray, codes_test: np.ndarray
                         ) -> Optional[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
  """LogisticRegression on z-scored codes `[D, N]` for one factor.

  Returns (classes `[C]`, train probabilities `[N, C]`, test probabilities `[M, C]`), or
  None when the training points hold a single class (explicitness 0.5).
  """
  if np.unique(y_train).size < 2:
    return None
  clf = linear_model.LogisticRegression()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(codes_train.T, y_train)
  return clf.classes_, clf.predict_proba(codes_train.T), clf.predict_proba(codes_test.T)


class _ResampledMacroAuc:
  """`_macro_auc` of fixed scores on a resample of their points, vectorised.

  Per class, AUC = (sum over positives of (#points below + #ties / 2) - P^2 / 2) / (P N):
  the Mann-Whitney form of sklearn's ROC-AUC (the P^2 / 2 removes positive-positive pairs,
  a point's copies counting as ties).  With the points sorted once per class, a replicate
  is one gather and one cumsum over `[C, N]` instead of one sklearn call per class; all
  counts are integers, so it is exact.  sklearn still computes the point estimates, which
  therefore stay exactly dlib's.
  """

  def __init__(self, y: np.ndarray, proba: np.ndarray, classes: np.ndarray):
    """y: int labels `[N]`; proba: float `[N, C]` scores of `classes` `[C]`."""
    num_classes, n = len(classes), y.shape[0]
    self._order = np.argsort(proba.T, axis=1, kind="stable")  # [C, N]
    ranked = np.take_along_axis(proba.T, self._order, axis=1)
    # Per sorted position, the first and last position of its block of tied scores.
    new_block = np.ones((num_classes, n), dtype=bool)
    new_block[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    positions = np.arange(n)
    first = np.maximum.accumulate(np.where(new_block, positions, 0), axis=1)
    last_block = np.ones((num_classes, n), dtype=bool)
    last_block[:, :-1] = new_block[:, 1:]
    last = np.minimum.accumulate(np.where(last_block, positions, n - 1)[:, ::-1],
                                 axis=1)[:, ::-1]
    rank = np.empty((num_classes, n), dtype=np.int64)
    np.put_along_axis(rank, self._order, positions[None, :], axis=1)
    matches = y[:, None] == np.asarray(classes)[None, :]
    # Each point is a positive of at most one class (none if the classifier never saw it).
    self._pos_point = np.flatnonzero(matches.any(axis=1))
    self._pos_class = matches[self._pos_point].argmax(axis=1)
    r = rank[self._pos_class, self._pos_point]
    self._pos_first = self._pos_class * n + first[self._pos_class, r]
    self._pos_last = self._pos_class * n + last[self._pos_class, r]
    self._num_classes = num_classes

  def __call__(self, idx: np.ndarray) -> float:
    """Macro AUC on the points `idx` (int `[n]`, repeats allowed); 0.5 if no class scores."""
    weight = np.bincount(idx, minlength=self._order.shape[1])
    sorted_weight = weight[self._order]
    cum = np.cumsum(sorted_weight, axis=1).ravel()
    sorted_weight = sorted_weight.ravel()
    below = cum[self._pos_first] - sorted_weight[self._pos_first]
    ties = cum[self._pos_last] - below
    w = weight[self._pos_point]
    pos = np.bincount(self._pos_class, weights=w, minlength=self._num_classes)
    wins = (np.bincount(self._pos_class, weights=w * (below + 0.5 * ties),
                        minlength=self._num_classes) - 0.5 * pos * pos)
    neg = idx.size - pos
    valid = (pos > 0) & (neg > 0)
    return float(np.mean(wins[valid] / (pos[valid] * neg[valid]))) if valid.any() else 0.5


def _modularity_of(codes: np.ndarray, factors: np.ndarray, num_bins: int) -> float:
  """Modularity of codes `[D, N]` (discretised into `num_bins`) for factors `[K, N]`."""
  return modularity(_utils.discrete_mutual_info(_utils.histogram_discretize(codes, num_bins),
                                                factors))


def compute_modularity_explicitness(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                                    random_state: np.random.RandomState, *,
                                    num_train: int = 10000, num_test: int = 5000,
                                    batch_size: int = 16, num_bins: int = 20,
                                    bootstrap: int = 0,
                                    progress: Optional[_utils.ProgressFn] = None
                                    ) -> Dict[str, Any]:
  """Computes modularity and explicitness.

  Args:
    ground_truth: GroundTruthData with `num_factors >= 2`.
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]`.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    num_train: training points (dlib 10,000), >= 2.
    num_test: test points (dlib 5,000), >= 1.
    batch_size: points per sampling call (dlib 16).
    num_bins: histogram bins for the MI (dlib 20).
    bootstrap: bootstrap replicates B for the standard errors (module docstring); 0 = none,
      else >= 2.  Never changes the scores.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict of floats in [0, 1]: `modularity_score`, `explicitness_score_train`,
    `explicitness_score_test`; with bootstrap > 0 also `k + "_se"` for each and `se_method`.
  """
  _utils.check_inputs(ground_truth, representation_fn, min_factors=2)
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)
  codes, factors, codes_t, factors_t = _utils.train_test_codes(
      ground_truth, representation_fn, num_train, num_test, random_state, batch_size, progress,
      "modularity")
  mean = codes.mean(axis=1, keepdims=True)
  std = codes.std(axis=1, keepdims=True)
  std[std == 0.0] = 1.0
  z_train = (codes - mean) / std
  z_test = (codes_t - mean) / std
  train, test, fitted = [], [], []
  for k in range(factors.shape[0]):
    probabilities = _class_probabilities(z_train, factors[k], z_test)
    fitted.append(probabilities)
    if probabilities is None:
      train.append(0.5)
      test.append(0.5)
    else:
      classes, proba_train, proba_test = probabilities
      train.append(_macro_auc(factors[k], proba_train, classes))
      test.append(_macro_auc(factors_t[k], proba_test, classes))
  scores = {
      "modularity_score": _modularity_of(codes, factors, num_bins),
      "explicitness_score_train": float(np.mean(train)),
      "explicitness_score_test": float(np.mean(test)),
  }
  if bootstrap == 0:  # skip building the resampling tables
    return scores
  auc_train = [None if f is None else _ResampledMacroAuc(factors[k], f[1], f[0])
               for k, f in enumerate(fitted)]
  auc_test = [None if f is None else _ResampledMacroAuc(factors_t[k], f[2], f[0])
              for k, f in enumerate(fitted)]

  def explicitness(aucs, idx):
    return np.mean([0.5 if auc is None else auc(idx) for auc in aucs])

  num_train, num_test = codes.shape[1], codes_t.shape[1]
  return _utils.bootstrapped(
      scores, SCORE_KEYS, SCORE_KEYS,
      lambda i_train, i_test: (_modularity_of(codes[:, i_train], factors[:, i_train], num_bins),
                               explicitness(auc_train, i_train),
                               explicitness(auc_test, i_test)),
      [num_train, num_test], bootstrap, bootstrap_rs,
      f"modularity: bootstrap over {num_train} train points, re-discretised per replicate; "
      f"explicitness: bootstrap over {num_train} train / {num_test} test points, conditional "
      "on the fitted classifiers")
