"""Total correlation (TC) of Q's Gaussian code posteriors q(c | x) = N(mu(x), diag sigma(x)^2).

TC = E_q(c)[log q(c) - sum_d log q_d(c_d)], with q(c) the aggregate posterior over the data.
One sample c_i = mu_i + sigma_i * eps_i is drawn per data point; the densities are mixtures
of the points' Gaussians, evaluated with a stable logsumexp.  Two estimators:

* `"mss"`: minibatch stratified sampling (beta-TCVAE, Chen et al. 2018, appendix C.2), the
  estimator the OOGAN paper names.  Points are shuffled into minibatches of B; in a batch
  the mixture weights for sample i are 1/M_data on its own point, (M_data - B') / (M_data B')
  on one other point (the next one, cyclically) and 1/B' on the remaining B - 2, with
  B' = B - 1 and M_data the size of the dataset the points were drawn from.  The weights sum
  to 1 and give an unbiased estimate of q(c_i) (the released beta-TCVAE code places the
  stratum weight slightly differently in its last rows; this version is the formula).
* `"plugin"`: the released OOGAN code's estimator (`compute_total_correlation`): the N
  points are treated as the whole data distribution (weights 1/N), with the CORRECT layout
  (mu and log sigma as separate arrays, i.e. the training-time halves [mu | log sigma];
  the released code reads interleaved pairs, a bug).  It equals minibatch-weighted
  sampling with the dataset-size term dropped.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Union

import numpy as np
from oogan_tf.metrics import _utils

ESTIMATORS = ("mss", "plugin")
_LOG_2PI = math.log(2.0 * math.pi)
_CHUNK_ELEMENTS = 4_000_000  # rows x N x C floats per block (~32 MB in float64)


def _log_normal(x: np.ndarray, mu: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
  """log N(x[:, None, :]; mu[None], sigma[None]) -> [b, n, C]."""
  z = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_sigma)[None, :, :]
  return -0.5 * _LOG_2PI - log_sigma[None, :, :] - 0.5 * z * z


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
  """Stable log(sum(exp(a))) along `axis` (finite maxima guaranteed by the callers)."""
  m = np.max(a, axis=axis, keepdims=True)
  return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def _tc_terms(samples, mu, log_sigma, log_weights_fn):
  """Per-sample log q(c_i) - sum_d log q_d(c_id) with log mixture weights [rows, n]."""
  n, c = mu.shape
  rows = max(1, _CHUNK_ELEMENTS // max(1, n * c))
  out = np.empty(samples.shape[0])
  for start in range(0, samples.shape[0], rows):
    stop = min(start + rows, samples.shape[0])
    lp = _log_normal(samples[start:stop], mu, log_sigma)  # [b, n, C]
    lw = log_weights_fn(start, stop)  # [b, n]
    joint = _logsumexp(lw + lp.sum(axis=2), axis=1)
    marginals = _logsumexp(lw[:, :, None] + lp, axis=1).sum(axis=1)
    out[start:stop] = joint - marginals
  return out


def _mss_log_weights(batch: int, dataset_size: int) -> np.ndarray:
  m = batch - 1
  w = np.full((batch, batch), 1.0 / m)
  idx = np.arange(batch)
  w[idx, (idx + 1) % batch] = (dataset_size - m) / (dataset_size * m)
  w[idx, idx] = 1.0 / dataset_size
  with np.errstate(divide="ignore"):
    return np.log(w)


def compute_total_correlation(mu: np.ndarray, log_sigma: np.ndarray, *, estimator: str = "mss",
                      dataset_size: Optional[int] = None, batch_size: Optional[int] = None,
                      random_state: Union[int, np.random.RandomState] = 0) -> Dict[str, Any]:
  """Estimates the total correlation of Gaussian codes.

  Args:
    mu: float `[N, C]` posterior means (N >= 2, C >= 1).
    log_sigma: float `[N, C]` posterior log standard deviations (natural log of sigma, not
      of the variance), already split from Q's `[mu | log sigma]` halves by the caller.
    estimator: "mss" (minibatch stratified sampling, the paper's) or "plugin" (the released
      code's estimator with the halves layout).
    dataset_size: size of the dataset the N points were sampled from (e.g. 737,280 for
      dSprites); required for "mss", >= batch_size; ignored by "plugin".
    batch_size: "mss" minibatch size B >= 2 (default: N, one batch); the N shuffled points
      are split into ceil(N / B) near-equal batches.  Ignored by "plugin".
    random_state: int seed or np.random.RandomState for eps (and the "mss" shuffle).

  Returns:
    dict: `total_correlation` (float, nats; can be slightly negative from estimation
    noise), `estimator` (str), `num_samples` (float N), and for "mss" `dataset_size`,
    `batch_size` (floats).
  """
  if estimator not in ESTIMATORS:
    raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
  mu = np.asarray(mu, dtype=np.float64)
  log_sigma = np.asarray(log_sigma, dtype=np.float64)
  if mu.ndim != 2 or mu.shape[0] < 2 or mu.shape[1] < 1:
    raise ValueError(f"mu must be a float array of shape [N >= 2, C >= 1], got shape {mu.shape}.")
  if log_sigma.shape != mu.shape:
    raise ValueError(
        f"log_sigma must have the same shape as mu {mu.shape}, got {log_sigma.shape} "
        "(split Q's [mu | log sigma] halves before calling).")
  if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(log_sigma))):
    raise ValueError("mu and log_sigma must be finite (no NaN or inf).")
  if isinstance(random_state, np.random.RandomState):
    rs = random_state
  else:
    rs = np.random.RandomState(_utils.check_int("random_state", random_state, 0))
  n, c = mu.shape
  eps = rs.randn(n, c)
  samples = mu + np.exp(log_sigma) * eps

  if estimator == "plugin":
    log_w = -math.log(n)
    terms = _tc_terms(samples, mu, log_sigma,
                      lambda a, b: np.full((b - a, n), log_w))
    return {"total_correlation": float(np.mean(terms)), "estimator": "plugin",
            "num_samples": float(n)}

  if dataset_size is None:
    raise ValueError("dataset_size is required for estimator='mss' (the size of the dataset "
                     "the codes were sampled from, e.g. 737280 for dSprites).")
  batch = n if batch_size is None else _utils.check_int("batch_size", batch_size, 2)
  batch = min(batch, n)
  dataset_size = _utils.check_int("dataset_size", dataset_size, batch)
  perm = rs.permutation(n)
  num_batches = int(math.ceil(n / batch))
  terms = []
  for idx in np.array_split(perm, num_batches):
    lw = _mss_log_weights(idx.size, dataset_size)
    terms.append(_tc_terms(samples[idx], mu[idx], log_sigma[idx],
                           lambda a, b, lw=lw: lw[a:b]))
  return {"total_correlation": float(np.mean(np.concatenate(terms))), "estimator": "mss",
          "num_samples": float(n), "dataset_size": float(dataset_size),
          "batch_size": float(batch)}
