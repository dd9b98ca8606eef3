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


def explicitness_per_factor(codes_train: np.ndarray, y_train: np.ndarray, codes_test: np.ndarray,
                            y_test: np.ndarray) -> Tuple[float, float]:
  """Train/test macro ROC-AUC of a LogisticRegression on z-scored codes `[D, N]` for one factor."""
  if np.unique(y_train).size < 2:
    return 0.5, 0.5
  clf = linear_model.LogisticRegression()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(codes_train.T, y_train)
  return (_macro_auc(y_train, clf.predict_proba(codes_train.T), clf.classes_),
          _macro_auc(y_test, clf.predict_proba(codes_test.T), clf.classes_))


def compute_modularity_explicitness(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                                    random_state: np.random.RandomState, *,
                                    num_train: int = 10000, num_test: int = 5000,
                                    batch_size: int = 16, num_bins: int = 20,
                                    progress: Optional[_utils.ProgressFn] = None
                                    ) -> Dict[str, float]:
  """Computes modularity and explicitness.

  Args:
    ground_truth: GroundTruthData with `num_factors >= 2`.
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]`.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    num_train: training points (dlib 10,000), >= 2.
    num_test: test points (dlib 5,000), >= 1.
    batch_size: points per sampling call (dlib 16).
    num_bins: histogram bins for the MI (dlib 20).
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict of floats in [0, 1]: `modularity_score`, `explicitness_score_train`,
    `explicitness_score_test`.
  """
  _utils.check_ground_truth(ground_truth, min_factors=2)
  _utils.check_representation_fn(representation_fn)
  codes, factors, codes_t, factors_t = _utils.train_test_codes(
      ground_truth, representation_fn, num_train, num_test, random_state, batch_size, progress,
      "modularity")
  mi = _utils.discrete_mutual_info(_utils.histogram_discretize(codes, num_bins), factors)
  mean = codes.mean(axis=1, keepdims=True)
  std = codes.std(axis=1, keepdims=True)
  std[std == 0.0] = 1.0
  z_train = (codes - mean) / std
  z_test = (codes_t - mean) / std
  train, test = [], []
  for k in range(factors.shape[0]):
    a, b = explicitness_per_factor(z_train, factors[k], z_test, factors_t[k])
    train.append(a)
    test.append(b)
  return {
      "modularity_score": modularity(mi),
      "explicitness_score_train": float(np.mean(train)),
      "explicitness_score_test": float(np.mean(test)),
  }
