"""Evaluation of an exported OOGAN (SavedModel from oogan_tf.export_lib); no flags here.

`evaluate_export(export_dir, metrics, ...)` validates the request, loads the export and its
dataset, runs the requested metrics and returns one JSON-serialisable dict (the result document of
oogan_tf.eval_report, which also writes it, logs it to TensorBoard and prints it as a table). The
export is reached through the plain functions of oogan_tf.export_adapters.

* `categorical_accuracy` (a categorical code, --cat_dim) encodes the labelled digits and scores
  the most probable category against the labels (metrics.categorical_accuracy).
* Representation metrics (factor_vae, beta_vae, mig, dci, sap, modularity, tc) use Q's
  prediction of c on real images: the export's `encode` signature (`c_mean`; `tc` also uses
  `c_log_sigma`, so it needs a probabilistic Q), BN in inference mode.  Observations of the
  ground truth come in [-1, 1] and go to `encode` in [0, 1].
* `ortho` reads Q's orthogonal kernels (`.../orth_conv/kernel` [4, 4, C', 1] and
  `.../readout/transform` [4, 4, C']) from the export's object graph (variable *names* do not
  survive a save/load, the object paths do).  An InfoGAN Q has none: the result says so.
* `perceptual_diversity` generates with the `sample` signature (output mapped [0, 1] -> [-1, 1],
  greyscale tiled to RGB) and needs a local VGG16 weights file.
* `fid` and `kid` (metrics.fidelity) compare images of the `sample` signature (c ~ U(0, 1),
  z ~ N(0, I)) with real images of the export's training dataset (any dataset; no random flip)
  on InceptionV3 features: weights from `inception_weights` or Keras' cache, or any stand-in
  `feature_fn`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from oogan_tf import export_format
from oogan_tf import metrics as metrics_lib
from oogan_tf.eval_report import EvaluationError, result_document
from oogan_tf.export_adapters import (make_encoder, make_generator, make_sampler,
                                      orthogonality_of)
from oogan_tf.metrics import code_cache
from oogan_tf.metrics import fidelity as fidelity_lib

# Datasets whose loader provides ground-truth factors (GroundTruthData); a tfds: one may name a
# split (tfds:dsprites:train).
GROUND_TRUTH_DATASETS = ("dsprites", "tfds:dsprites", "tfds:shapes3d", "tfds:smallnorb")
PD_DEFAULTS = dict(trials=1000, batch_size=100)
PD_CODE_RANGE = (-1.0, 1.0)  # the paper's script; the export trains on U(0, 1)
# sizes_scale shrinks the images per side; the KID subsets follow (kid_from_features caps them).
FIDELITY_DEFAULTS = fidelity_lib.DEFAULTS


def parse_metrics(metrics: Any) -> List[str]:
  """'a,b' or a sequence -> de-duplicated list of valid names (EvaluationError otherwise)."""
  if isinstance(metrics, str):
    names = [m.strip() for m in metrics.split(",") if m.strip()]
  else:
    names = [str(m).strip() for m in (metrics or ())]
  names = list(dict.fromkeys(names))
  if not names:
    raise EvaluationError(f"--metrics is empty; valid metrics: {', '.join(metrics_lib.METRIC_NAMES)}")
  unknown = [m for m in names if m not in metrics_lib.METRIC_NAMES]
  if unknown:
    raise EvaluationError(f"--metrics={','.join(names)}: unknown metric(s) {', '.join(unknown)}; "
                          f"valid metrics: {', '.join(metrics_lib.METRIC_NAMES)}")
  return names


def parse_sizes(text: Optional[str]) -> Dict[str, Dict[str, Any]]:
  """--sizes JSON ('{"mig": {"num_train": 4000}}') -> {metric: {parameter: value}}; None or ''
  -> {}. EvaluationError naming --sizes when it is not JSON or not an object of objects (the
  metric names and parameters are checked by whoever runs the metrics)."""
  if not text:
    return {}
  try:
    sizes = json.loads(text)
  except json.JSONDecodeError as e:
    raise EvaluationError(f"--sizes={text!r} is not valid JSON ({e})") from e
  if not isinstance(sizes, dict) or not all(isinstance(v, dict) for v in sizes.values()):
    raise EvaluationError(f"--sizes={text!r} must be a JSON object of objects: "
                          "{metric: {parameter: value}}")
  return sizes


# ----------------------------------------------------------------------------- export access


# ----------------------------------------------------------------------------- data


def _data_config(metadata: Mapping[str, Any], data_dir: Optional[str], **fields):
  """The DataConfig of the export's training images (data_dir and `fields` override);
  EvaluationError naming --data_dir when it is not valid."""
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  cfg = metadata.get("config", {})
  data_dir = data_dir if data_dir is not None else cfg.get("data_dir")
  try:
    return data_lib.DataConfig(name=cfg.get("dataset", "dsprites"), data_dir=data_dir,
                               image_size=int(metadata["image_size"]),
                               channels=int(metadata["channels"]), **fields)
  except ValueError as e:  # DatasetError names the field and value
    raise EvaluationError(f"--data_dir={data_dir!r}: {e}") from e


def load_ground_truth(metadata: Mapping[str, Any], data_dir: Optional[str]):
  """(ground_truth, source description) for the export's training dataset."""
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  dataset = metadata.get("config", {}).get("dataset", "dsprites")
  if not data_lib.has_ground_truth(dataset):
    raise EvaluationError(
        f"the export was trained on dataset={dataset!r}, which has no ground-truth factors "
        f"(only {', '.join(GROUND_TRUTH_DATASETS)} have); metrics that need them "
        f"({', '.join(m for m in metrics_lib.REPRESENTATION_METRICS)}) cannot run. Use "
        "--metrics=ortho,perceptual_diversity,fid,kid (and categorical_accuracy for a "
        "categorical code on digits)")
  dcfg = _data_config(metadata, data_dir)
  try:
    return data_lib.get_ground_truth(dcfg), str(data_lib.describe_source(dcfg))
  except ValueError as e:  # DatasetError names the field and value
    raise EvaluationError(f"--data_dir={dcfg.data_dir!r}: {e}") from e


# ----------------------------------------------------------------------------- main entry


def _fidelity_params(sizes_scale: float, sizes: Mapping[str, Mapping[str, Any]]
                     ) -> Dict[str, Any]:
  """FIDELITY_DEFAULTS, num_samples scaled, then sizes['fid'] and sizes['kid'] (shared: one
  feature extraction serves both)."""
  params = dict(FIDELITY_DEFAULTS)
  params["num_samples"] = max(4, int(round(params["num_samples"] * sizes_scale)))
  for metric in metrics_lib.FIDELITY_METRICS:
    for key, value in sizes.get(metric, {}).items():
      if key not in FIDELITY_DEFAULTS:
        raise EvaluationError(f"sizes[{metric!r}] has unknown parameter {key!r}; valid: "
                              f"{sorted(FIDELITY_DEFAULTS)}")
      params[key] = int(value)
  return params


def _real_batches(metadata: Mapping[str, Any], data_dir: Optional[str], batch_size: int,
                  seed: int):
  """(numpy iterator of real images float32 [b, S, S, ch] in [-1, 1], source description)."""
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  dcfg = _data_config(metadata, data_dir, batch_size=batch_size, seed=seed, random_flip=False)
  try:
    source = data_lib.describe_source(dcfg)
    dataset = data_lib.build_dataset(dcfg)
  except ValueError as e:  # DatasetError names the field and value
    raise EvaluationError(f"--data_dir={dcfg.data_dir!r}: {e}") from e
  return dataset.as_numpy_iterator(), source


def _generated_batches(sampler: Callable[[np.ndarray, np.ndarray], np.ndarray], c_dim: int,
                       z_dim: int, batch_size: int, seed: int):
  """Endless images float32 [b, S, S, ch] in [-1, 1] for c ~ U(0, 1), z ~ N(0, I)."""
  rs = np.random.RandomState(seed)
  while True:
    c = rs.uniform(0.0, 1.0, (batch_size, c_dim)).astype(np.float32)
    z = rs.randn(batch_size, z_dim).astype(np.float32)
    yield np.clip(sampler(c, z) * 2.0 - 1.0, -1.0, 1.0)


def _check_categorical(metadata: Mapping[str, Any], export_dir: str) -> None:
  """EvaluationError unless the export has a categorical code and a labelled dataset."""
  from oogan_tf.data import LABELLED_DATASETS  # pylint: disable=g-import-not-at-top
  if not int(metadata.get("cat_dim", 0)):
    raise EvaluationError(f"--metrics includes categorical_accuracy, but the export at "
                          f"--export_dir={export_dir} has no categorical code (cat_dim=0); "
                          "train with --cat_dim=K")
  dataset = metadata.get("config", {}).get("dataset")
  if dataset not in LABELLED_DATASETS:
    raise EvaluationError(f"--metrics includes categorical_accuracy, which needs class labels; "
                          f"the export was trained on --dataset={dataset}, and only "
                          f"{' and '.join(LABELLED_DATASETS)} have them")


def _categorical_accuracy(loaded: Any, metadata: Mapping[str, Any], data_dir: Optional[str],
                          batch_size: int, seed: int, overrides: Mapping[str, Any],
                          progress) -> Dict[str, Any]:
  """The categorical code's unsupervised accuracy on the labelled training images
  (metrics.categorical_accuracy; sizes: num_samples, first N images in file order, and
  bootstrap)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.metrics import categorical_accuracy  # pylint: disable=g-import-not-at-top
  params = dict(categorical_accuracy.DEFAULTS, batch_size=batch_size)
  unknown = set(overrides) - {"num_samples", "bootstrap"}
  if unknown:
    raise EvaluationError(f"sizes['categorical_accuracy'] has unknown keys {sorted(unknown)}; "
                          "valid: bootstrap, num_samples")
  params.update(overrides)
  try:
    images, labels, num_classes = data_lib.get_labelled(_data_config(metadata, data_dir),
                                                        limit=int(params["num_samples"]))
  except ValueError as e:  # DatasetError names the file and what is expected
    raise EvaluationError(f"--data_dir={data_dir!r}: {e}") from e
  n = len(labels)
  encode = loaded.signatures["encode"]

  def category_fn(x):
    return encode(images=tf.constant((x + 1.0) * 0.5))["category_probabilities"].numpy()

  result = metrics_lib.compute_categorical_accuracy(
      category_fn, images[:n], labels[:n], int(metadata["cat_dim"]), num_classes,
      batch_size=int(params["batch_size"]), bootstrap=int(params["bootstrap"]), seed=seed,
      progress=progress)
  result["params"] = dict(params, num_samples=n, seed=seed)
  return result


def _pd_params(sizes_scale: float, overrides: Mapping[str, Any]) -> Dict[str, Any]:
  params = dict(PD_DEFAULTS)
  params["trials"] = max(1, int(round(params["trials"] * sizes_scale)))
  for key, value in overrides.items():
    if key not in PD_DEFAULTS:
      raise EvaluationError(f"sizes['perceptual_diversity'] has unknown parameter {key!r}; "
                            f"valid: {sorted(PD_DEFAULTS)}")
    params[key] = int(value)
  return params


def evaluate_export(export_dir: str, metrics: Any, *, seed: int = 0, protocol: str = "dlib",
                    sizes_scale: float = 1.0,
                    sizes: Optional[Mapping[str, Mapping[str, Any]]] = None,
                    batch_size: int = 512, data_dir: Optional[str] = None,
                    vgg_weights: Optional[str] = None,
                    pd_code_range: Sequence[float] = PD_CODE_RANGE,
                    ground_truth: Any = None, dataset_source: Optional[str] = None,
                    progress: Optional[Callable[[str, int, int], None]] = None,
                    loaded: Any = None, num_seeds: int = 1,
                    inception_weights: Optional[str] = None,
                    feature_fn: Optional[fidelity_lib.FeatureFn] = None
                    ) -> Dict[str, Any]:
  """Runs `metrics` on an export and returns the result dict (see README / module docstring).

  Args:
    export_dir: directory written by `export_lib.write_export`.
    metrics: names from `oogan_tf.metrics.METRIC_NAMES` (list or 'a,b,c').
    seed: seed of every metric (each gets a fresh RandomState(seed)).
    protocol: FactorVAE protocol, "dlib" or "gan_papers".
    sizes_scale: multiplies every metric's sample counts (and perceptual_diversity's trials).
    sizes: per-metric overrides, e.g. {"mig": {"num_train": 500},
      "perceptual_diversity": {"trials": 10, "batch_size": 8}}.
    batch_size: images per `encode` call.
    data_dir: overrides the training config's data_dir for the ground truth.
    vgg_weights: local VGG16 weights file (perceptual_diversity only).
    pd_code_range: (low, high) of the perceptual-diversity codes.
    ground_truth: a GroundTruthData to use instead of loading the export's dataset (tests,
      tools); its observations must match the export's [S, S, ch] in [-1, 1].
    dataset_source: the description recorded for `ground_truth` when it is given.
    progress: optional hook progress(stage, done, total).
    loaded: an already `tf.saved_model.load`ed export (else it is loaded here).
    num_seeds: run each representation metric with seeds seed .. seed + num_seeds - 1 and
      report the mean, with the standard error over seeds (metrics.evaluate_representation).
    inception_weights: InceptionV3 no-top weights file of fid / kid (None: Keras' cache file).
    feature_fn: fid / kid feature network to use instead of InceptionV3 (then
      inception_weights is not read): images float32 [N, H, W, C] in [-1, 1] -> [N, D].

  Returns:
    {"format", "export_dir", "metadata", "metrics_requested", "protocol", "seed", "num_seeds",
     "sizes_scale", "sizes", "dataset": {"name", "data_dir", "image_size", "channels",
     "source"}, "versions", "created", "elapsed_s", "results": {metric: {...}}}.

  Raises:
    EvaluationError: missing export, unknown metric, bad option, dataset without factors,
      tc on a deterministic Q, perceptual_diversity without vgg_weights, fid / kid without
      InceptionV3 weights.
  """
  t0 = time.time()
  names = parse_metrics(metrics)
  try:
    metadata = export_format.read_metadata(export_dir)
  except export_format.NotAnExportError as e:
    raise EvaluationError(str(e)) from None
  if protocol not in metrics_lib.PROTOCOLS:
    raise EvaluationError(f"--protocol={protocol!r} is invalid; valid: "
                          f"{', '.join(metrics_lib.PROTOCOLS)}")
  if not isinstance(seed, numbers.Integral) or seed < 0:
    raise EvaluationError(f"--seed={seed!r} must be an integer >= 0")
  if not (isinstance(sizes_scale, numbers.Real) and math.isfinite(sizes_scale)
          and sizes_scale > 0):
    raise EvaluationError(f"--sizes_scale={sizes_scale!r} must be a finite number > 0")
  if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
    raise EvaluationError(f"--batch_size={batch_size!r} must be an integer >= 1")
  sizes = {k: dict(v) for k, v in (sizes or {}).items()}
  for key in sizes:
    if key not in metrics_lib.METRIC_NAMES or key == "ortho":  # ortho has no sizes
      raise EvaluationError(f"sizes has unknown metric {key!r}; valid: "
                            f"{', '.join(m for m in metrics_lib.METRIC_NAMES if m != 'ortho')}")
  if "tc" in names and not metadata.get("probabilistic_q"):
    raise EvaluationError(
        f"--metrics={','.join(names)}: 'tc' needs a probabilistic Q (c_mean and c_log_sigma), "
        f"but the export at --export_dir={export_dir!r} has probabilistic_q=false")
  if "perceptual_diversity" in names:
    if not vgg_weights:
      raise EvaluationError(
          "--metrics includes perceptual_diversity, which needs --vgg_weights=PATH (a local "
          "VGG16 include_top=False weights file; nothing is downloaded)")
    if not os.path.isfile(vgg_weights):
      raise EvaluationError(f"--vgg_weights={vgg_weights!r} is not a file")
    if int(metadata["c_dim"]) < 2:
      raise EvaluationError("perceptual_diversity needs c_dim >= 2; the export has "
                            f"c_dim={metadata['c_dim']}")
    pd_params = _pd_params(sizes_scale, sizes.get("perceptual_diversity", {}))
  if "categorical_accuracy" in names:
    _check_categorical(metadata, export_dir)
  fidelity_names = [m for m in names if m in metrics_lib.FIDELITY_METRICS]
  if fidelity_names:
    fidelity_params = _fidelity_params(sizes_scale, sizes)
    if feature_fn is None:
      try:
        weights = metrics_lib.resolve_inception_weights(inception_weights)
      except metrics_lib.InceptionWeightsError as e:
        raise EvaluationError(str(e)) from None
      fidelity_params["inception_weights"] = os.path.abspath(weights)

  config = metadata.get("config", {})
  dataset = {"name": config.get("dataset"), "image_size": metadata.get("image_size"),
             "channels": metadata.get("channels"),
             "data_dir": data_dir if data_dir is not None else config.get("data_dir"),
             "source": dataset_source}
  if needs_ground_truth(names) and ground_truth is None:
    ground_truth, dataset["source"] = load_ground_truth(metadata, data_dir)
  elif ground_truth is not None:
    dataset["ground_truth"] = type(ground_truth).__name__
    if dataset_source is None and getattr(ground_truth, "source", None) is not None:
      dataset["source"] = str(ground_truth.source)
  if ground_truth is not None:
    dataset["num_factors"] = int(ground_truth.num_factors)

  if loaded is None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    loaded = tf.saved_model.load(export_dir)

  results: Dict[str, Any] = {}
  representation_fn, gaussian_fn = make_encoder(loaded, metadata, batch_size)
  cat_dim = int(metadata.get("cat_dim", 0))  # exports older than the categorical code lack it
  cache = None
  if ground_truth is not None and code_cache.supports(ground_truth):
    # Q's mean in inference mode is deterministic: every metric and seed shares one encoding
    # per dataset row.
    representation_fn = cache = code_cache.CodeCache(ground_truth, representation_fn)
  results.update(score_functions(
      names, ground_truth, representation_fn=representation_fn, gaussian_fn=gaussian_fn,
      sampler=make_sampler(loaded, cat_dim, int(seed)), c_dim=int(metadata["c_dim"]),
      z_dim=int(metadata["z_dim"]),
      seed=int(seed), protocol=protocol, sizes_scale=float(sizes_scale), sizes=sizes,
      num_seeds=num_seeds, progress=progress))
  if "ortho" in names:
    t = time.time()
    results["ortho"] = orthogonality_of(loaded)
    results["ortho"]["elapsed_s"] = float(time.time() - t)
  if "perceptual_diversity" in names:
    t = time.time()
    pd = metrics_lib.compute_perceptual_diversity(
        make_generator(loaded, int(metadata["channels"]), cat_dim), int(metadata["c_dim"]),
        int(metadata["z_dim"]), vgg_weights, trials=pd_params["trials"],
        batch_size=pd_params["batch_size"], code_range=tuple(pd_code_range), seed=int(seed),
        progress=progress)
    pd["params"] = dict(pd_params, seed=int(seed), code_range=[float(v) for v in pd_code_range],
                        vgg_weights=os.path.abspath(vgg_weights))
    pd["elapsed_s"] = float(time.time() - t)
    results["perceptual_diversity"] = pd
  if "categorical_accuracy" in names:
    t = time.time()
    results["categorical_accuracy"] = _categorical_accuracy(
        loaded, metadata, data_dir, batch_size, int(seed),
        sizes.get("categorical_accuracy", {}), progress)
    results["categorical_accuracy"]["elapsed_s"] = float(time.time() - t)
  if fidelity_names:
    t = time.time()
    real, source = _real_batches(metadata, data_dir, fidelity_params["batch_size"], int(seed))
    dataset["source"] = dataset["source"] or source
    if feature_fn is None:
      try:
        feature_fn = metrics_lib.inception_feature_fn(fidelity_params["inception_weights"])
      except metrics_lib.InceptionWeightsError as e:
        raise EvaluationError(str(e)) from None
    fake = _generated_batches(make_sampler(loaded, cat_dim, int(seed)), int(metadata["c_dim"]),
                              int(metadata["z_dim"]), fidelity_params["batch_size"], int(seed))
    try:
      scores = metrics_lib.compute_fidelity(
          fidelity_names, real, fake, feature_fn, num_samples=fidelity_params["num_samples"],
          kid_subset_size=fidelity_params["kid_subset_size"],
          kid_subsets=fidelity_params["kid_subsets"], seed=int(seed), progress=progress)
    except ValueError as e:
      raise EvaluationError(str(e)) from e
    for name, value in scores.items():
      results[name] = dict(value, params=dict(fidelity_params, seed=int(seed)),
                           elapsed_s=float(time.time() - t))

  return result_document(names, results, metadata=metadata, protocol=protocol, seed=seed,
                         sizes_scale=sizes_scale, sizes=sizes, num_seeds=num_seeds,
                         dataset=dataset, elapsed_s=time.time() - t0,
                         export_dir=os.path.abspath(export_dir),
                         encoding=_encoding_summary(cache, batch_size))


def _encoding_summary(cache: Optional[code_cache.CodeCache], batch_size: int) -> Dict[str, Any]:
  """How the representation metrics' images were encoded (what the code cache saved)."""
  if cache is None:
    return {"code_cache": False, "encode_batch_size": int(batch_size)}
  return {"code_cache": True, "encode_batch_size": int(batch_size),
          "codes_looked_up": cache.stats["lookups"], "images_encoded": cache.stats["encoded"]}


def needs_ground_truth(names: Sequence[str]) -> bool:
  """Whether any of the metrics needs the dataset's ground truth (factors or real images)."""
  return any(m in metrics_lib.REPRESENTATION_METRICS or m in metrics_lib.GENERATOR_METRICS
             for m in names)


def score_functions(names: Sequence[str], ground_truth: Any, *,
                    representation_fn: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                    gaussian_fn: Optional[Callable] = None,
                    sampler: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None,
                    c_dim: Optional[int] = None, z_dim: Optional[int] = None, seed: int = 0,
                    protocol: str = "dlib", sizes_scale: float = 1.0,
                    sizes: Optional[Mapping[str, Mapping[str, Any]]] = None,
                    num_seeds: int = 1, progress=None) -> Dict[str, Any]:
  """Runs the representation metrics and generator_factors among `names` on plain functions.

  representation_fn: observations float32 [N, S, S, ch] in [-1, 1] -> codes [N, D];
  gaussian_fn: the same -> (mu, log_sigma) (tc only; None: tc is reported unavailable);
  sampler: (c [N, C] in [0, 1], z [N, Z]) -> images [N, S, S, ch] in [0, 1] (generator_factors).
  Model metrics (ortho, perceptual_diversity) are not run here. Returns {metric: result}.
  """
  sizes = dict(sizes or {})
  results: Dict[str, Any] = {}
  rep_names = [m for m in names if m in metrics_lib.REPRESENTATION_METRICS]
  if "tc" in rep_names and gaussian_fn is None:
    rep_names.remove("tc")
    results["tc"] = {"available": False,
                     "reason": "needs Gaussian codes (mu, log sigma); this representation has none"}
  try:
    if rep_names:
      rep_sizes = {k: v for k, v in sizes.items() if k in metrics_lib.REPRESENTATION_METRICS}
      results.update(metrics_lib.evaluate_representation(
          ground_truth, representation_fn, rep_names, seed=int(seed), protocol=protocol,
          sizes_scale=float(sizes_scale), sizes=rep_sizes, gaussian_fn=gaussian_fn,
          num_seeds=num_seeds, progress=progress))
    if "generator_factors" in names:
      results["generator_factors"] = metrics_lib.evaluate_generator(
          ground_truth, sampler, int(c_dim), int(z_dim), seed=int(seed),
          sizes_scale=float(sizes_scale), sizes=sizes.get("generator_factors"),
          progress=progress)
  except EvaluationError:
    raise
  except ValueError as e:
    raise EvaluationError(str(e)) from e
  return results


# ----------------------------------------------------------------------------- output


