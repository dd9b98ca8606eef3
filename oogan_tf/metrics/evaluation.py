"""Registry of metric names and `evaluate_representation`, which runs them with dlib defaults.

Representation metrics (need a GroundTruthData and a representation function):
`factor_vae`, `beta_vae`, `mig`, `dci`, `sap`, `modularity` (modularity + explicitness) and
`tc` (total correlation; needs `gaussian_fn` giving Q's mu and log sigma).  Model metrics
(`ortho`, `perceptual_diversity`) need the model itself: call `compute_orthogonality` /
`compute_perceptual_diversity` directly.

Every metric gets a fresh `np.random.RandomState(seed)`, as disentanglement_lib does.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from oogan_tf.metrics import _utils
from oogan_tf.metrics import beta_vae as _beta_vae
from oogan_tf.metrics import dci as _dci
from oogan_tf.metrics import factor_vae as _factor_vae
from oogan_tf.metrics import mig as _mig
from oogan_tf.metrics import modularity_explicitness as _modularity
from oogan_tf.metrics import sap as _sap
from oogan_tf.metrics import total_correlation as _tc

REPRESENTATION_METRICS: Tuple[str, ...] = (
    "factor_vae", "beta_vae", "mig", "dci", "sap", "modularity", "tc")
MODEL_METRICS: Tuple[str, ...] = ("ortho", "perceptual_diversity")
METRIC_NAMES: Tuple[str, ...] = REPRESENTATION_METRICS + MODEL_METRICS
PROTOCOLS = _factor_vae.PROTOCOLS

# gaussian_fn(observations float32 [N, H, W, C] in [-1, 1]) -> (mu [N, C], log_sigma [N, C]).
GaussianFn = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]

TC_DEFAULTS = dict(num_samples=5000, batch_size=64, mss_batch_size=1000, dataset_size=None)


def default_params(metric: str, protocol: str = "dlib") -> Dict[str, Any]:
  """The default protocol parameters (sizes) of a representation metric."""
  if metric not in REPRESENTATION_METRICS:
    raise ValueError(f"metric must be one of {REPRESENTATION_METRICS}, got {metric!r}.")
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}.")
  table = {
      "factor_vae": _factor_vae.DEFAULTS[protocol],
      "beta_vae": _beta_vae.DEFAULTS,
      "mig": _mig.DEFAULTS,
      "dci": _dci.DEFAULTS,
      "sap": _sap.DEFAULTS,
      "modularity": _modularity.DEFAULTS,
      "tc": TC_DEFAULTS,
  }
  return dict(table[metric])


_MIN_SIZE = {"num_train": 2, "num_eval": 1, "num_test": 1, "num_variance_estimate": 2,
             "num_samples": 2}


def _scaled(params: Dict[str, Any], scale: float) -> Dict[str, Any]:
  out = dict(params)
  for key, value in params.items():
    if key in _MIN_SIZE and isinstance(value, int) and value > 0:
      out[key] = max(_MIN_SIZE.get(key, 1), int(round(value * scale)))
  return out


def _run_tc(ground_truth, gaussian_fn, rs, params):
  n = _utils.check_int("num_samples", params["num_samples"], 2)
  chunk = _utils.check_int("batch_size", params["batch_size"], 1)
  mus, log_sigmas = [], []
  done = 0
  while done < n:
    m = min(chunk, n - done)
    _, obs = ground_truth.sample(m, rs)
    out = gaussian_fn(np.asarray(obs))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
      raise ValueError("gaussian_fn must return a pair (mu [N, C], log_sigma [N, C]).")
    mus.append(np.asarray(out[0], np.float64))
    log_sigmas.append(np.asarray(out[1], np.float64))
    done += m
  mu, log_sigma = np.concatenate(mus), np.concatenate(log_sigmas)
  dataset_size = params.get("dataset_size")
  if dataset_size is None:
    sizes = getattr(ground_truth, "factor_sizes", None)
    if not sizes:
      raise ValueError("tc needs sizes={'tc': {'dataset_size': M}} when ground_truth has "
                       "no factor_sizes.")
    dataset_size = int(math.prod(int(s) for s in sizes))
  batch = min(params["mss_batch_size"], n)
  dataset_size = max(int(dataset_size), batch)
  mss = _tc.compute_total_correlation(mu, log_sigma, estimator="mss", dataset_size=dataset_size,
                              batch_size=batch, random_state=rs)
  plug = _tc.compute_total_correlation(mu, log_sigma, estimator="plugin", random_state=rs)
  params["dataset_size"] = dataset_size
  params["mss_batch_size"] = batch
  return {"total_correlation_mss": mss["total_correlation"],
          "total_correlation_plugin": plug["total_correlation"],
          "num_codes": float(mu.shape[1])}


def evaluate_representation(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                            metrics: Sequence[str], *, seed: int = 0, protocol: str = "dlib",
                            sizes_scale: float = 1.0,
                            sizes: Optional[Mapping[str, Mapping[str, Any]]] = None,
                            gaussian_fn: Optional[GaussianFn] = None,
                            progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Runs the named representation metrics with disentanglement_lib default sizes.

  Args:
    ground_truth: GroundTruthData (factors int64 `[N, F]`, observations float32
      `[N, H, W, C]` in [-1, 1]).
    representation_fn: images float32 `[N, H, W, C]` in [-1, 1] -> codes `[N, D]` (Q's mu
      for OOGAN, BN in inference mode).
    metrics: names from `REPRESENTATION_METRICS`; duplicates are run once.
    seed: each metric gets a fresh `np.random.RandomState(seed)`, >= 0.
    protocol: FactorVAE protocol, "dlib" or "gan_papers" (only affects `factor_vae`).
    sizes_scale: multiplies the sample counts (num_train, num_eval, num_test,
      num_variance_estimate, num_samples) of every metric, rounded, minimum 1 or 2;
      per-vote / per-chunk `batch_size` and `num_bins` are not scaled.  For quick
      runs (e.g. 0.1).  > 0.
    sizes: explicit overrides applied after scaling, e.g.
      `{"factor_vae": {"num_train": 500}, "dci": {"num_train": 1000}}`; keys must be
      parameters listed by `default_params(metric, protocol)`.
    gaussian_fn: for `tc`: observations -> (mu `[N, C]`, log_sigma `[N, C]`).
    progress: optional hook `progress(stage, done, total)` (see `_utils.print_progress`).

  Returns:
    JSON-serialisable {metric: {score keys (floats), "params": {sizes used, "seed",
    "protocol" for factor_vae}, "elapsed_s": float}}.  Score keys:
    factor_vae: eval_accuracy, train_accuracy, num_active_dims, heldout, protocol (str);
    beta_vae: eval_accuracy, train_accuracy; mig: discrete_mig;
    dci: disentanglement, completeness, informativeness_train, informativeness_test;
    sap: SAP_score, continuous_factors; modularity: modularity_score,
    explicitness_score_train, explicitness_score_test; tc: total_correlation_mss,
    total_correlation_plugin, num_codes.

  Raises:
    ValueError: unknown metric (the message lists the valid ones), a model metric, bad
      sizes, missing ground truth or gaussian_fn.
  """
  if isinstance(metrics, str):
    metrics = [m for m in metrics.split(",") if m]
  names = list(dict.fromkeys(metrics))
  if not names:
    raise ValueError(f"metrics must name at least one of {REPRESENTATION_METRICS}.")
  for name in names:
    if name in MODEL_METRICS:
      raise ValueError(
          f"metric {name!r} is computed from the model, not a representation: use "
          "oogan_tf.metrics.compute_orthogonality / compute_perceptual_diversity. "
          f"evaluate_representation accepts {REPRESENTATION_METRICS}.")
    if name not in REPRESENTATION_METRICS:
      raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join(METRIC_NAMES)}.")
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}.")
  seed = _utils.check_int("seed", seed, 0)
  sizes_scale = _utils.check_float("sizes_scale", sizes_scale, 0.0)
  if sizes_scale <= 0:
    raise ValueError(f"sizes_scale must be > 0, got {sizes_scale!r}.")
  sizes = dict(sizes or {})
  for key in sizes:
    if key not in REPRESENTATION_METRICS:
      raise ValueError(f"sizes has unknown metric {key!r}; valid: {REPRESENTATION_METRICS}.")
  if ground_truth is None:
    raise ValueError(f"metrics {names} need ground-truth factors; the dataset has none "
                     "(use a GroundTruthData such as dSprites).")
  _utils.check_ground_truth(ground_truth)
  _utils.check_representation_fn(representation_fn)
  if "tc" in names and gaussian_fn is None:
    raise ValueError("metric 'tc' needs gaussian_fn(observations) -> (mu, log_sigma).")

  results: Dict[str, Any] = {}
  for name in names:
    params = _scaled(default_params(name, protocol), sizes_scale)
    for key, value in dict(sizes.get(name, {})).items():
      if key not in params:
        raise ValueError(f"sizes[{name!r}] has unknown parameter {key!r}; "
                         f"valid: {sorted(params)}.")
      params[key] = value
    rs = np.random.RandomState(seed)
    t0 = time.time()
    if name == "factor_vae":
      scores = _factor_vae.compute_factor_vae(ground_truth, representation_fn, rs,
                                              protocol=protocol, progress=progress, **params)
      params["protocol"] = protocol
    elif name == "beta_vae":
      scores = _beta_vae.compute_beta_vae(ground_truth, representation_fn, rs,
                                          progress=progress, **params)
    elif name == "mig":
      scores = _mig.compute_mig(ground_truth, representation_fn, rs, progress=progress, **params)
    elif name == "dci":
      scores = _dci.compute_dci(ground_truth, representation_fn, rs, progress=progress, **params)
    elif name == "sap":
      scores = _sap.compute_sap(ground_truth, representation_fn, rs, progress=progress, **params)
    elif name == "modularity":
      scores = _modularity.compute_modularity_explicitness(
          ground_truth, representation_fn, rs, progress=progress, **params)
    else:  # tc
      scores = _run_tc(ground_truth, gaussian_fn, rs, params)
    params["seed"] = seed
    entry = dict(scores)
    entry["params"] = {k: (float(v) if isinstance(v, float) else v) for k, v in params.items()}
    entry["elapsed_s"] = float(time.time() - t0)
    results[name] = entry
  return results
