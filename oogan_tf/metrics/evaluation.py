"""Registry of metric names and `evaluate_representation`, which runs them with dlib defaults.

Representation metrics (need a GroundTruthData and a representation function):
`factor_vae`, `beta_vae`, `mig`, `dci`, `sap`, `modularity` (modularity + explicitness) and
`tc` (total correlation; needs `gaussian_fn` giving Q's mu and log sigma).  Model metrics
(`ortho`, `perceptual_diversity`) need the model itself: call `compute_orthogonality` /
`compute_perceptual_diversity` directly; fidelity metrics (`fid`, `kid`) need generated and
real images of any dataset: `compute_fidelity`.

Every metric gets a fresh `np.random.RandomState(seed)`, as disentanglement_lib does.

Standard errors: every score key k gets `k + "_se"` (float or None) and each metric a
`se_method` string.  At one evaluation seed they are bootstrap SEs over the i.i.d. draws
made at evaluation time, without refitting any learned model (see each metric module;
bootstrap draws use their own RandomState, so the scores are those of a run without them).
With `num_seeds` = K > 1 the metric is run at seeds seed .. seed + K - 1, the score is the
mean over seeds and its SE the seed-to-seed sample std / sqrt(K), which includes every
source of sampling noise and the refits; `k + "_seeds"` lists the per-seed values.
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
from oogan_tf.metrics import fidelity as _fidelity
from oogan_tf.metrics import mig as _mig
from oogan_tf.metrics import modularity_explicitness as _modularity
from oogan_tf.metrics import sap as _sap
from oogan_tf.metrics import total_correlation as _tc

REPRESENTATION_METRICS: Tuple[str, ...] = (
    "factor_vae", "beta_vae", "mig", "dci", "sap", "modularity", "tc")
# Need a generator (c, z) -> images and the ground truth's real images, no encoder.
GENERATOR_METRICS: Tuple[str, ...] = ("generator_factors",)
MODEL_METRICS: Tuple[str, ...] = ("ortho", "perceptual_diversity")
# Need an encoder with a categorical code and a dataset with class labels (digits).
LABEL_METRICS: Tuple[str, ...] = ("categorical_accuracy",)
# Need a generator and real images of any dataset (no factors): metrics.fidelity.
FIDELITY_METRICS: Tuple[str, ...] = _fidelity.FIDELITY_METRICS
METRIC_NAMES: Tuple[str, ...] = (REPRESENTATION_METRICS + GENERATOR_METRICS + MODEL_METRICS
                                 + FIDELITY_METRICS + LABEL_METRICS)
# generator_factors is cheap at these sizes (seconds), so sizes_scale does not shrink it.
GENERATOR_FACTORS_DEFAULTS = dict(num_samples=512, num_bases=32, sweep_steps=8, num_z=8,
                                  bootstrap=200, num_real=2048)
PROTOCOLS = _factor_vae.PROTOCOLS

# gaussian_fn(observations float32 [N, H, W, C] in [-1, 1]) -> (mu [N, C], log_sigma [N, C]).
GaussianFn = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]

TC_DEFAULTS = dict(num_samples=5000, batch_size=64, mss_batch_size=1000, dataset_size=None)
TC_SCORE_KEYS = ("total_correlation_mss", "total_correlation_plugin")

# Keys that get a standard error; the others (num_active_dims, heldout, protocol,
# continuous_factors, num_codes) describe the run.
SCORE_KEYS: Dict[str, Tuple[str, ...]] = {
    "factor_vae": _factor_vae.SCORE_KEYS,
    "beta_vae": _beta_vae.SCORE_KEYS,
    "mig": _mig.SCORE_KEYS,
    "dci": _dci.SCORE_KEYS,
    "sap": _sap.SCORE_KEYS,
    "modularity": _modularity.SCORE_KEYS,
    "tc": TC_SCORE_KEYS,
}
# Bootstrap replicates per metric when `bootstrap` is None (tc has no cheap bootstrap).
BOOTSTRAP_DEFAULTS: Dict[str, int] = {
    "factor_vae": _factor_vae.BOOTSTRAP,
    "beta_vae": _beta_vae.BOOTSTRAP,
    "mig": _mig.BOOTSTRAP,
    "dci": _dci.BOOTSTRAP,
    "sap": _sap.BOOTSTRAP,
    "modularity": _modularity.BOOTSTRAP,
    "tc": 0,
}


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


def _run_metric(name, ground_truth, representation_fn, gaussian_fn, seed, protocol, params,
                bootstrap, progress):
  """One metric at one seed; returns its scores (with SEs when bootstrap > 0)."""
  rs = np.random.RandomState(seed)
  if name == "tc":
    # _run_tc records the dataset_size and mss_batch_size it used in params; idempotent, so
    # later seeds see the same values.
    return _run_tc(ground_truth, gaussian_fn, rs, params)
  compute = {"factor_vae": _factor_vae.compute_factor_vae, "beta_vae": _beta_vae.compute_beta_vae,
             "mig": _mig.compute_mig, "dci": _dci.compute_dci, "sap": _sap.compute_sap,
             "modularity": _modularity.compute_modularity_explicitness}[name]
  extra = {"protocol": protocol} if name == "factor_vae" else {}
  return compute(ground_truth, representation_fn, rs, bootstrap=bootstrap, progress=progress,
                 **extra, **params)


def _mean_over_seeds(runs: Sequence[Mapping[str, Any]], score_keys: Sequence[str],
                     seeds: Sequence[int]) -> Dict[str, Any]:
  """Combines single-seed results: mean, std / sqrt(K) and per-seed list of each score."""
  k = len(runs)
  out: Dict[str, Any] = {}
  for key, first in runs[0].items():
    values = [run[key] for run in runs]
    if key in score_keys:
      out[key] = float(np.mean(values))
      out[key + "_se"] = float(np.std(values, ddof=1) / math.sqrt(k))
      out[key + "_seeds"] = [float(v) for v in values]
    elif isinstance(first, str):
      out[key] = first
    elif isinstance(first, dict):
      # Per-factor breakdowns: each entry's mean over the seeds that have it.
      out[key] = {name: float(np.mean([run[key][name] for run in runs if name in run[key]]))
                  for name in first}
    else:
      # Descriptive counts (e.g. num_active_dims) can differ between seeds: their mean.
      out[key] = float(np.mean(values))
  out["se_method"] = (f"{k} evaluation seeds ({seeds[0]}..{seeds[-1]}): sample std over "
                      f"seeds / sqrt({k}); includes all sampling noise and refits")
  return out


def evaluate_representation(ground_truth: Any, representation_fn: _utils.RepresentationFn,
                            metrics: Sequence[str], *, seed: int = 0, protocol: str = "dlib",
                            sizes_scale: float = 1.0,
                            sizes: Optional[Mapping[str, Mapping[str, Any]]] = None,
                            gaussian_fn: Optional[GaussianFn] = None,
                            bootstrap: Optional[int] = None, num_seeds: int = 1,
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
    bootstrap: bootstrap replicates B for the single-seed standard errors: None =
      `BOOTSTRAP_DEFAULTS` per metric, 0 = none (every `_se` None), else >= 2 for every
      metric that has a bootstrap.  Unused when num_seeds > 1.
    num_seeds: K >= 1 evaluation seeds (seed, ..., seed + K - 1); K > 1 reports the mean
      over seeds with the seed-to-seed SE (module docstring), at K times the cost.
    progress: optional hook `progress(stage, done, total)` (see `_utils.print_progress`).

  Returns:
    JSON-serialisable {metric: {score keys (floats) each followed by `k + "_se"` (float or
    None) and, when num_seeds > 1, `k + "_seeds"` (list of floats); descriptive keys;
    "se_method" (str); "params": {sizes used, "seed", "num_seeds", "bootstrap" (replicates
    used), "protocol" for factor_vae}; "elapsed_s": float (all seeds)}}.  Score keys
    (`SCORE_KEYS`): factor_vae: train_accuracy, eval_accuracy; beta_vae: train_accuracy,
    eval_accuracy; mig: discrete_mig; dci: disentanglement, completeness,
    informativeness_train, informativeness_test; sap: SAP_score; modularity:
    modularity_score, explicitness_score_train, explicitness_score_test; tc:
    total_correlation_mss, total_correlation_plugin.  Descriptive keys: factor_vae:
    num_active_dims, heldout, protocol (str), per_factor ({factor: accuracy}); mig:
    per_factor ({factor: gap}); sap: continuous_factors; tc: num_codes.

  Raises:
    ValueError: unknown metric (the message lists the valid ones), a model metric, bad
      sizes, bootstrap or num_seeds, missing ground truth or gaussian_fn.
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
  num_seeds = _utils.check_int("num_seeds", num_seeds, 1)
  if bootstrap is not None:
    bootstrap = _utils.check_bootstrap(bootstrap)
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
  _utils.check_inputs(ground_truth, representation_fn)
  if "tc" in names and gaussian_fn is None:
    raise ValueError("metric 'tc' needs gaussian_fn(observations) -> (mu, log_sigma).")

  seeds = list(range(seed, seed + num_seeds))
  results: Dict[str, Any] = {}
  for name in names:
    params = _scaled(default_params(name, protocol), sizes_scale)
    for key, value in dict(sizes.get(name, {})).items():
      if key not in params:
        raise ValueError(f"sizes[{name!r}] has unknown parameter {key!r}; "
                         f"valid: {sorted(params)}.")
      params[key] = value
    if num_seeds > 1 or name == "tc":
      replicates = 0
    else:
      replicates = BOOTSTRAP_DEFAULTS[name] if bootstrap is None else bootstrap
    t0 = time.time()
    runs = [_run_metric(name, ground_truth, representation_fn, gaussian_fn, s, protocol, params,
                        replicates, progress) for s in seeds]
    if num_seeds > 1:
      entry = _mean_over_seeds(runs, SCORE_KEYS[name], seeds)
    elif replicates == 0:
      entry = _utils.with_standard_errors(runs[0], SCORE_KEYS[name], {}, _no_se_method(name))
    else:
      entry = runs[0]
    if name == "factor_vae":
      params["protocol"] = protocol
    params.update(seed=seed, num_seeds=num_seeds, bootstrap=replicates)
    entry["params"] = {k: (float(v) if isinstance(v, float) else v) for k, v in params.items()}
    entry["elapsed_s"] = float(time.time() - t0)
    results[name] = entry
  return results


def _no_se_method(name: str) -> str:
  if name == "tc":
    return ("none at one evaluation seed: TC has no cheap bootstrap; use num_seeds > 1 for a "
            "seed-to-seed SE")
  return "none: bootstrap=0 and one evaluation seed; use bootstrap >= 2 or num_seeds > 1"


def evaluate_generator(ground_truth: Any, sampler: Callable[[np.ndarray, np.ndarray], np.ndarray],
                       c_dim: int, z_dim: int, *, seed: int = 0, sizes_scale: float = 1.0,
                       sizes: Optional[Mapping[str, Any]] = None,
                       progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Runs `generator_factors` (metrics.generator_factors) with its defaults and a fresh seed.

  sampler: (c float32 [N, C] in [0, 1], z float32 [N, Z]) -> images float32 [N, S, S, 1] in
  [0, 1]. sizes: overrides of GENERATOR_FACTORS_DEFAULTS. sizes_scale is recorded but not
  applied (the metric runs in seconds at its defaults, and smaller sweeps are mostly noise).
  """
  from oogan_tf.metrics import generator_factors  # pylint: disable=g-import-not-at-top
  if sampler is None:
    raise ValueError("generator_factors needs a generator (the export's `sample` signature)")
  params = dict(GENERATOR_FACTORS_DEFAULTS)
  for key, value in dict(sizes or {}).items():
    if key not in params:
      raise ValueError(f"sizes['generator_factors'] has unknown parameter {key!r}; "
                       f"valid: {sorted(params)}.")
    params[key] = value
  seed = _utils.check_int("seed", seed, 0)
  t0 = time.time()
  result = generator_factors.compute_generator_factors(
      sampler, c_dim, z_dim, ground_truth, np.random.RandomState(seed), progress=progress,
      **params)
  result["params"].update(seed=seed, sizes_scale_ignored=float(sizes_scale))
  result["elapsed_s"] = float(time.time() - t0)
  return result
