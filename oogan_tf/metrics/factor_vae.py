"""FactorVAE score (Kim & Mnih 2018), dlib protocol and the GAN papers' protocol.

`protocol="dlib"` (disentanglement_lib `factor_vae.py` + `factor_vae_metric.gin`):
  global variances from 10,000 random images (ddof=1); dimensions with std < 0.05 pruned;
  each vote fixes one uniformly drawn factor over a batch of 64, takes the active dimension
  with the lowest variance ratio local_var / global_var; majority-vote classifier from
  10,000 training votes; `eval_accuracy` on 5,000 fresh votes (the reported score).
`protocol="gan_papers"` (InfoGAN-CR's evaluation, also quoted by JointVAE / IB-GAN):
  100 images per vote, 500 votes, factor chosen round-robin (vote i fixes factor i % K),
  std (ddof=0) over a random subset of images (default 73,728 = 10% of dSprites), no
  pruning, and the accuracy is measured on the same votes that built the classifier.
  `eval_accuracy` and `train_accuracy` are then both that same number (`heldout=0.0`).

In both protocols a dimension whose global variance is exactly 0 can never be the argmin
(the ratio would be 0/0); it is excluded and not counted in `num_active_dims`.

Standard errors (`bootstrap` > 0): the votes are resampled with replacement (dlib: train and
eval votes independently; gan_papers: within each factor, since round-robin fixes the votes
per factor), the majority-vote classifier is rebuilt from each resample of the train votes
and both accuracies are recomputed, so the SE covers the classifier's noise as well as the
accuracy's.  The global variances (and hence the active dims) are held fixed.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from oogan_tf.metrics import _utils

PROTOCOLS = ("dlib", "gan_papers")

SCORE_KEYS = ("train_accuracy", "eval_accuracy")
BOOTSTRAP = 1000  # replicates used by evaluate_representation; cheap (no representation calls)

DEFAULTS = {
    "dlib": dict(batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000,
                 prune_threshold=0.05),
    "gan_papers": dict(batch_size=100, num_train=500, num_eval=0, num_variance_estimate=73728,
                       prune_threshold=0.0),
}


def _vote_dim(codes, global_variances, active_dims):
  """The active dim with the lowest variance ratio among one vote's codes float64 [batch, D]."""
  local_variances = np.var(codes, axis=0, ddof=1)
  return int(np.argmin(local_variances[active_dims] / global_variances[active_dims]))


def _votes(ground_truth, representation_fn, batch_size, num_votes, random_state,
           global_variances, active_dims, round_robin, progress, stage):
  """Per-vote records: (fixed factor k int64 [num_votes], argmin active dim d int64 [num_votes]).

  With a deferrable ground truth the factors of many votes are drawn first (in dlib's order)
  and represented in one call; for a deterministic one the votes, draws and scores are those of
  one call per vote (see _utils.deferrable).
  """
  num_factors = ground_truth.num_factors
  num_codes = global_variances.shape[0]
  votes_per_call = (max(1, _utils.DEFERRED_IMAGES // batch_size)
                    if _utils.deferrable(ground_truth) else 1)
  factor = np.zeros(num_votes, dtype=np.int64)
  dim = np.zeros(num_votes, dtype=np.int64)
  for start in range(0, num_votes, votes_per_call):
    batches = []
    for i in range(start, min(start + votes_per_call, num_votes)):
      k = i % num_factors if round_robin else random_state.randint(num_factors)
      factors = np.array(ground_truth.sample_factors(batch_size, random_state), copy=True)
      factors[:, k] = factors[0, k]
      factor[i] = k
      batches.append(factors)
    codes = _utils.represent_factor_batches(ground_truth, representation_fn, batches,
                                            random_state, num_codes)
    for i, vote_codes in enumerate(codes, start):
      dim[i] = _vote_dim(vote_codes, global_variances, active_dims)
    if progress is not None:
      progress(stage, start + len(batches), num_votes)
  return factor, dim


def _majority_vote(factor, dim, num_factors, num_dims):
  """Classifier int64 [num_dims]: the factor most often voted for each dim (ties: lowest k)."""
  counts = np.bincount(factor * num_dims + dim, minlength=num_factors * num_dims)
  return np.argmax(counts.reshape(num_factors, num_dims), axis=0)


def _accuracy(classifier, factor, dim):
  return float(np.mean(classifier[dim] == factor))


def _per_factor_accuracy(classifier, factor, dim, names):
  """{name: accuracy of the votes that fixed that factor} for the factors with votes; a factor
  that no dimension is assigned to scores 0."""
  return {name: _accuracy(classifier, factor[factor == k], dim[factor == k])
          for k, name in enumerate(names) if np.any(factor == k)}


def resolve_params(protocol: str = "dlib", *, batch_size: Optional[int] = None,
                   num_train: Optional[int] = None, num_eval: Optional[int] = None,
                   num_variance_estimate: Optional[int] = None,
                   prune_threshold: Optional[float] = None) -> Dict[str, Any]:
  """The sizes compute_factor_vae runs with: the protocol's DEFAULTS, the given values (None
  keeps the default) in their place, validated.

  Returns {"batch_size", "num_train", "num_eval", "num_variance_estimate": int,
  "prune_threshold": float}. Raises ValueError naming the parameter and what it must be (the
  ranges are compute_factor_vae's Args), or an unknown protocol.
  """
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}.")
  d = DEFAULTS[protocol]
  batch_size = _utils.check_int(
      "batch_size", d["batch_size"] if batch_size is None else batch_size, 2)
  num_train = _utils.check_int("num_train", d["num_train"] if num_train is None else num_train, 1)
  num_eval = _utils.check_int("num_eval", d["num_eval"] if num_eval is None else num_eval,
                              0 if protocol == "gan_papers" else 1)
  if protocol == "gan_papers" and num_eval != 0:
    raise ValueError(
        f"num_eval must be 0 for protocol='gan_papers' (no held-out votes), got {num_eval}.")
  num_variance_estimate = _utils.check_int(
      "num_variance_estimate",
      d["num_variance_estimate"] if num_variance_estimate is None else num_variance_estimate, 2)
  prune_threshold = _utils.check_float(
      "prune_threshold", d["prune_threshold"] if prune_threshold is None else prune_threshold, 0.0)
  return dict(batch_size=batch_size, num_train=num_train, num_eval=num_eval,
              num_variance_estimate=num_variance_estimate, prune_threshold=prune_threshold)


def compute_factor_vae(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                       random_state: np.random.RandomState, *, protocol: str = "dlib",
                       batch_size: Optional[int] = None, num_train: Optional[int] = None,
                       num_eval: Optional[int] = None,
                       num_variance_estimate: Optional[int] = None,
                       prune_threshold: Optional[float] = None, bootstrap: int = 0,
                       progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Computes the FactorVAE score.

  Args:
    ground_truth: GroundTruthData with `num_factors >= 1`; observations float32
      `[N, H, W, C]` in [-1, 1], factors int64 class indices `[N, F]`.
    representation_fn: float32 images `[N, H, W, C]` -> codes `[N, D]` (D >= 1).
    random_state: np.random.RandomState (use a fresh `RandomState(seed)` per metric).
    protocol: "dlib" or "gan_papers" (see module docstring); picks the defaults below.
    batch_size: images per vote (dlib 64, gan_papers 100), >= 2; also the chunk size for
      the variance images.
    num_train: votes that build the majority-vote classifier (dlib 10,000; gan_papers 500).
    num_eval: held-out votes (dlib 5,000); must be 0 for gan_papers (no held-out set).
    num_variance_estimate: images for the global variances (dlib 10,000; gan_papers 73,728),
      >= 2.
    prune_threshold: dims with global std < threshold are pruned (dlib 0.05; gan_papers 0).
    bootstrap: bootstrap replicates B for the standard errors (module docstring); 0 = none,
      else >= 2.  Never changes the scores.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict with floats `train_accuracy`, `eval_accuracy` (the reported score; for gan_papers
    the accuracy on the training votes), `num_active_dims`, `heldout` (1.0 for dlib, 0.0 for
    gan_papers) and the string `protocol`.  All scores are 0 if no dimension is active.
    With bootstrap > 0 also `train_accuracy_se`, `eval_accuracy_se` (floats, the replicates'
    std) and `se_method` (str).
  """
  params = resolve_params(protocol, batch_size=batch_size, num_train=num_train,
                          num_eval=num_eval, num_variance_estimate=num_variance_estimate,
                          prune_threshold=prune_threshold)  # checks the protocol too
  _utils.check_inputs(ground_truth, representation_fn)
  _utils.check_random_state(random_state)
  batch_size, num_train, num_eval, num_variance_estimate, prune_threshold = (
      params[k] for k in ("batch_size", "num_train", "num_eval", "num_variance_estimate",
                          "prune_threshold"))
  bootstrap, bootstrap_rs = _utils.bootstrap_setup(bootstrap, random_state)

  # Global variances (dlib: sample_observations then represent in chunks of batch_size).
  if _utils.deferrable(ground_truth):
    factors = ground_truth.sample_factors(num_variance_estimate, random_state)
    step = _utils.DEFERRED_IMAGES
    codes = np.concatenate([
        _utils.represent_factors(ground_truth, representation_fn, factors[i:i + step],
                                 random_state) for i in range(0, len(factors), step)])
  else:
    _, obs = ground_truth.sample(num_variance_estimate, random_state)
    codes = _utils.obtain_representation(np.asarray(obs), representation_fn, batch_size)
  if protocol == "dlib":
    global_variances = np.var(codes, axis=0, ddof=1)
  else:
    global_variances = np.var(codes, axis=0, ddof=0)
  active_dims = (np.sqrt(global_variances) >= prune_threshold) & (global_variances > 0)
  result: Dict[str, Any] = {"protocol": protocol, "heldout": 1.0 if protocol == "dlib" else 0.0}
  if not active_dims.any():
    result.update(train_accuracy=0.0, eval_accuracy=0.0, num_active_dims=0.0, per_factor={})
    if bootstrap == 0:
      return result
    return _utils.with_standard_errors(
        result, SCORE_KEYS, {"train_accuracy": 0.0, "eval_accuracy": 0.0},
        "none needed: no active dimension, so the scores are 0 for every resample")

  num_factors, num_dims = ground_truth.num_factors, int(active_dims.sum())
  round_robin = protocol == "gan_papers"
  train_factor, train_dim = _votes(
      ground_truth, representation_fn, batch_size, num_train, random_state, global_variances,
      active_dims, round_robin, progress, "factor_vae/train")
  classifier = _majority_vote(train_factor, train_dim, num_factors, num_dims)
  train_accuracy = _accuracy(classifier, train_factor, train_dim)
  if protocol == "dlib":
    eval_factor, eval_dim = _votes(
        ground_truth, representation_fn, batch_size, num_eval, random_state, global_variances,
        active_dims, round_robin, progress, "factor_vae/eval")
    eval_accuracy = _accuracy(classifier, eval_factor, eval_dim)
  else:
    eval_factor, eval_dim = train_factor, train_dim
    eval_accuracy = train_accuracy
  result.update(train_accuracy=train_accuracy, eval_accuracy=eval_accuracy,
                num_active_dims=float(num_dims),
                per_factor=_per_factor_accuracy(classifier, eval_factor, eval_dim,
                                                _utils.factor_names(ground_truth)))

  if protocol == "dlib":
    def statistic(i_train, i_eval):
      clf = _majority_vote(train_factor[i_train], train_dim[i_train], num_factors, num_dims)
      return (_accuracy(clf, train_factor[i_train], train_dim[i_train]),
              _accuracy(clf, eval_factor[i_eval], eval_dim[i_eval]))
    samples = [num_train, num_eval]
    method = (f"bootstrap over {num_train} train votes and {num_eval} eval votes, resampled "
              "independently; majority-vote classifier rebuilt per replicate")
  else:
    def statistic(i_train):
      clf = _majority_vote(train_factor[i_train], train_dim[i_train], num_factors, num_dims)
      accuracy = _accuracy(clf, train_factor[i_train], train_dim[i_train])
      return accuracy, accuracy
    samples = [train_factor]
    method = (f"bootstrap over {num_train} votes, resampled within each factor (round-robin); "
              "classifier rebuilt and accuracy measured on the same resample")
  return _utils.bootstrapped(result, SCORE_KEYS, SCORE_KEYS, statistic, samples, bootstrap,
                             bootstrap_rs, method)
