"""BetaVAE score (Higgins et al. 2017), dlib protocol (`beta_vae.py` + `beta_vae_sklearn.gin`).

One point: draw k uniformly, two batches of `batch_size` factor vectors sharing factor k,
feature = mean over the batch of |r(x1) - r(x2)|, label k.  A default
`sklearn.linear_model.LogisticRegression(random_state=random_state)` is fit on `num_train`
points; the score is its accuracy on `num_eval` fresh points.

Standard errors (`bootstrap` > 0) are conditional on the fitted classifier: the eval points
(for `train_accuracy`, the train points) are resampled with replacement and the accuracy
of the same classifier recomputed; the classifier is not refitted.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np
from sklearn import linear_model
from sklearn.exceptions import ConvergenceWarning

from oogan_tf.metrics import _utils

DEFAULTS = dict(batch_size=64, num_train=10000, num_eval=5000)
SCORE_KEYS = ("train_accuracy", "eval_accuracy")
BOOTSTRAP = 1000  # replicates used by evaluate_representation; cheap (a mean per replicate)


def _points(ground_truth, representation_fn, batch_size, num_points, random_state, progress, stage):
  """Features float64 [num_points, D] (mean |r1 - r2| of a pair batch) and labels int64 [num_points].

  With a deferrable ground truth the pair batches of many points are drawn first (in dlib's
  order) and represented in one call; for a deterministic one the draws and scores are those of
  one call per batch (see _utils.deferrable).
  """
  features, labels = [], []
  width = None
  num_factors = ground_truth.num_factors
  points_per_call = (max(1, _utils.DEFERRED_IMAGES // (2 * batch_size))
                     if _utils.deferrable(ground_truth) else 1)
  for start in range(0, num_points, points_per_call):
    batches = []
    for _ in range(start, min(start + points_per_call, num_points)):
      k = random_state.randint(num_factors)
      f1 = np.array(ground_truth.sample_factors(batch_size, random_state), copy=True)
      f2 = np.array(ground_truth.sample_factors(batch_size, random_state), copy=True)
      f2[:, k] = f1[:, k]
      batches += [f1, f2]
      labels.append(k)
    codes = _utils.represent_factor_batches(ground_truth, representation_fn, batches,
                                            random_state, width)
    width = codes[0].shape[1]
    for r1, r2 in zip(codes[0::2], codes[1::2]):
      features.append(np.mean(np.abs(r1 - r2), axis=0))
    if progress is not None:
      progress(stage, len(labels), num_points)
  return np.stack(features), np.array(labels, dtype=np.int64)


def compute_beta_vae(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                     random_state: np.random.RandomState, *, batch_size: int = 64,
                     num_train: int = 10000, num_eval: int = 5000, bootstrap: int = 0,
                     progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Computes the BetaVAE score.

  Args:
    ground_truth: GroundTruthData with `num_factors >= 2`.
    representation_fn: float32 images `[N, H, W, C]` in [-1, 1] -> codes `[N, D]`.
    random_state: np.random.RandomState (fresh `RandomState(seed)` per metric).
    batch_size: images per side of a pair (dlib 64), >= 1.
    num_train: training points (dlib 10,000), >= 2.
    num_eval: evaluation points (dlib 5,000), >= 1.
    bootstrap: bootstrap replicates B for the standard errors (module docstring); 0 = none,
      else >= 2.  Never changes the scores.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict of floats `train_accuracy`, `eval_accuracy` (the reported score), in [0, 1].
    If the training points hold a single label the classifier predicts that label.  With
    bootstrap > 0 also `train_accuracy_se`, `eval_accuracy_se` (floats) and `se_method`.
  """
  _utils.check_inputs(ground_truth, representation_fn, min_factors=2)
  _utils.check_random_state(random_state)
  batch_size = _utils.check_int("batch_size", batch_size, 1)
  num_train = _utils.check_int("num_train", num_train, 2)
  num_eval = _utils.check_int("num_eval", num_eval, 1)
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)

  x_train, y_train = _points(ground_truth, representation_fn, batch_size, num_train,
                             random_state, progress, "beta_vae/train")
  if np.unique(y_train).size < 2:
    # LogisticRegression refuses one class; a constant predictor is the fitted answer.
    def predict(x, label=y_train[0]):
      return np.full(x.shape[0], label)
  else:
    model = linear_model.LogisticRegression(random_state=random_state)
    with warnings.catch_warnings():
      # dlib uses the untuned defaults (max_iter=100); convergence warnings are expected.
      warnings.simplefilter("ignore", ConvergenceWarning)
      model.fit(x_train, y_train)
    predict = model.predict
  correct_train = predict(x_train) == y_train
  x_eval, y_eval = _points(ground_truth, representation_fn, batch_size, num_eval,
                           random_state, progress, "beta_vae/eval")
  correct_eval = predict(x_eval) == y_eval
  scores = {"train_accuracy": float(np.mean(correct_train)),
            "eval_accuracy": float(np.mean(correct_eval))}
  return _utils.bootstrapped(
      scores, SCORE_KEYS, SCORE_KEYS,
      lambda i_train, i_eval: (np.mean(correct_train[i_train]), np.mean(correct_eval[i_eval])),
      [num_train, num_eval], bootstrap, bootstrap_rs,
      f"bootstrap over {num_eval} eval points (train_accuracy: {num_train} train points), "
      "conditional on the fitted classifier (not refitted)")
