"""What an evaluation produces: the result document (format FORMAT), its JSON file, its scalar
scores (TensorBoard `eval/<metric>/<key>`, with which direction is better) and the plain-text table
the evaluate CLI prints. No TensorFlow at import; evaluate_lib computes the results.
"""

from __future__ import annotations

import datetime
import json
import numbers
import os
import platform
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

FORMAT = "oogan_tf.eval/1"
# The scores of each metric, by key, with the direction that is better; every other number of a
# result (sample counts, protocol switches, num_active_dims, spreads) is a setting or diagnostic.
SCORE_DIRECTIONS: Dict[str, Dict[str, str]] = {
    "factor_vae": {"eval_accuracy": "higher", "train_accuracy": "higher"},
    "beta_vae": {"eval_accuracy": "higher", "train_accuracy": "higher"},
    "mig": {"discrete_mig": "higher"},
    "dci": {k: "higher" for k in ("disentanglement", "completeness", "informativeness_train",
                                  "informativeness_test")},
    "sap": {"SAP_score": "higher"},
    "modularity": {k: "higher" for k in ("modularity_score", "explicitness_score_train",
                                         "explicitness_score_test")},
    "tc": {"total_correlation_mss": "lower", "total_correlation_plugin": "lower"},
    "generator_factors": {k: "higher" for k in ("score", "assignment_purity", "coverage",
                                                "c_variance_share", "property_gap")},
    "ortho": {k: "lower" for k in ("mean_abs_cos_offdiag", "mean_sq_cos_offdiag",
                                   "mean_abs_cos_all", "mean_sq_cos_all")},
    "perceptual_diversity": {"mean": "higher"},
    "fid": {"fid": "lower"},
    "kid": {"kid": "lower"},
    "categorical_accuracy": {"accuracy": "higher"},
}



class EvaluationError(ValueError):
  """A problem the user can act on; the message names the argument (flag) and its value."""


def package_versions() -> Dict[str, str]:
  import sklearn  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  versions = {"python": platform.python_version(), "numpy": np.__version__,
              "sklearn": sklearn.__version__, "tensorflow": tf.__version__}
  try:
    import keras  # pylint: disable=g-import-not-at-top
    versions["keras"] = keras.__version__
  except ImportError:  # pragma: no cover
    pass
  return versions


def result_document(names: Sequence[str], results: Mapping[str, Any], *, metadata: Any,
                    protocol: str, seed: int, sizes_scale: float, sizes: Mapping[str, Any],
                    num_seeds: int, dataset: Mapping[str, Any], elapsed_s: float,
                    **extra: Any) -> Dict[str, Any]:
  """The evaluation JSON (format oogan_tf.eval/1); `extra` adds top-level keys."""
  doc = {
      "format": FORMAT,
      "metadata": metadata,
      "metrics_requested": list(names),
      "protocol": protocol,
      "seed": int(seed),
      "num_seeds": int(num_seeds),
      "sizes_scale": float(sizes_scale),
      "sizes": dict(sizes),
      "dataset": dict(dataset),
      "versions": package_versions(),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "elapsed_s": float(elapsed_s),
      "results": {m: results[m] for m in names},
  }
  doc.update(extra)
  return doc


def default_output(export_dir: str) -> str:
  return os.path.join(export_dir, "eval.json")


def check_output(path: str, overwrite: bool = False) -> None:
  if os.path.exists(path) and not overwrite:
    raise EvaluationError(f"--output={path!r} already exists; pass another --output or "
                          "--overwrite")


def write_results(result: Mapping[str, Any], path: str, overwrite: bool = False) -> str:
  """Writes `result` as JSON atomically; refuses an existing file unless overwrite."""
  check_output(path, overwrite)
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=".eval-tmp-", suffix=".json", dir=parent)
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(result, f, indent=2, sort_keys=True, allow_nan=True)
      f.write("\n")
    if overwrite:
      os.replace(tmp, path)
    else:
      try:
        os.link(tmp, path)  # fails if path appeared meanwhile: no silent overwrite
      except FileExistsError:
        raise EvaluationError(f"--output={path!r} already exists; pass another --output or "
                              "--overwrite") from None
      except OSError:  # filesystem without hard links
        check_output(path, overwrite)
        os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return path


def _is_number(value: Any) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def scalar_scores(result: Mapping[str, Any]) -> Dict[str, float]:
  """{'<metric>/<key>': value} for every numeric score, standard errors ('<key>_se') included.

  Numbers one level down a dict are named '<metric>/<key>/<sub>' (e.g.
  'generator_factors/coverage/x'); lists, strings, params and timings are left out.
  """
  out: Dict[str, float] = {}
  for metric, scores in result["results"].items():
    for key, value in scores.items():
      if key in ("params", "elapsed_s"):
        continue
      if isinstance(value, Mapping):
        for sub, v in value.items():
          if _is_number(v):
            out[f"{metric}/{key}/{sub}"] = float(v)
      elif _is_number(value):
        out[f"{metric}/{key}"] = float(value)
  return out


def score_summaries(result: Mapping[str, Any]) -> Dict[str, Dict[str, Optional[float]]]:
  """{name: {"value", "se", "min", "max"}} for every score of scalar_scores(result).

  The '_se' companions ('<metric>/<key>/<sub>_se', or '<metric>/<key>_se/<sub>' for a dict of
  SEs beside a dict of values) become "se", and the '_min' / '_max' range companions of a
  summary over several models (baselines.summarise_inits) "min" / "max"; each is None when
  absent.
  """
  scores = scalar_scores(result)

  def se_name(name):
    head, _, tail = name.rpartition("/")
    candidates = [f"{name}_se"]
    if "/" in head:
      parent, _, key = head.rpartition("/")
      candidates.append(f"{parent}/{key}_se/{tail}")
    return next((c for c in candidates if c in scores), None)

  companions = {n for n in scores if n.endswith(("_se", "_min", "_max")) or "_se/" in n}
  out = {}
  for name, value in scores.items():
    if name in companions:
      continue
    se = se_name(name)
    out[name] = {"value": value, "se": scores[se] if se else None,
                 "min": scores.get(f"{name}_min"), "max": scores.get(f"{name}_max")}
  return out


def score_direction(name: str) -> Optional[str]:
  """'higher' / 'lower' (which is better) for a score name of scalar_scores ('<metric>/<key>...';
  a standard error '<key>_se' gets its score's), None for a setting or diagnostic."""
  metric, key = name.split("/")[:2]
  return SCORE_DIRECTIONS.get(metric, {}).get(key.removesuffix("_se"))


def _description(name: str) -> str:
  metric, key = name.split("/")[:2]
  direction = score_direction(name)
  if direction is None:
    return f"{metric}: a setting or diagnostic of the evaluation, not a score."
  if key.endswith("_se") or name.endswith("_se"):
    return f"{metric}: the standard error of a score."
  return f"{metric} score; {direction} is better."


def write_summaries(result: Mapping[str, Any], summary_dir: str, step: int) -> None:
  """Writes every scalar_scores(result) value as eval/<name> at `step`, described (TensorBoard
  shows whether a score is better higher or lower, or that it is a setting)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(summary_dir)
  with writer.as_default():
    for key, value in scalar_scores(result).items():
      tf.summary.scalar(f"eval/{key}", value, step=int(step), description=_description(key))
  writer.flush()
  writer.close()


def _chance(name: str, num_factors: Optional[int], results: Mapping[str, Any]) -> str:
  """What a code that carries no information about the factors (or labels) scores, where that
  is defined."""
  metric, key = name.split("/")[:2]
  if metric == "categorical_accuracy" and key == "accuracy":
    return f"{results[metric]['chance']:.4f}"  # the largest class frequency of the data
  if metric in ("factor_vae", "beta_vae") and key.endswith("accuracy"):
    # A majority vote / linear classifier that sees nothing guesses the fixed factor.
    return f"{1.0 / num_factors:.4f}" if num_factors else "1/factors"
  if metric in ("mig", "sap") or (metric == "dci" and key in ("disentanglement",
                                                                "completeness")):
    return "0"
  return ""


def _pruned_warnings(result: Mapping[str, Any]) -> List[str]:
  c_dim = (result.get("metadata") or {}).get("c_dim")
  lines = []
  for metric in ("factor_vae", "beta_vae"):
    active = result["results"].get(metric, {}).get("num_active_dims")
    if not _is_number(active) or c_dim is None or active >= c_dim:
      continue
    if active == 0:
      lines.append(f"warning: {metric}: every code dimension was pruned (no variance over the "
                   "data), so its accuracies are 0 by construction, not a measurement")
    else:
      lines.append(f"warning: {metric}: {c_dim - active:g} of {c_dim} code dimensions were "
                   "pruned (no variance over the data) and take no part in the vote")
  return lines


def format_table(result: Mapping[str, Any]) -> str:
  """A plain-text report: the scores ('value ± standard error', which direction is better, the
  chance level where defined), then settings and diagnostics, unavailable metrics and warnings
  (code dimensions pruned by factor_vae / beta_vae)."""
  num_factors = (result.get("dataset") or {}).get("num_factors")
  scores, settings = [], []
  for k, s in score_summaries(result).items():
    text = f"{s['value']:.4f}" if s["se"] is None else f"{s['value']:.4f} ± {s['se']:.4f}"
    if s["min"] is not None:  # a summary over several models (baselines.summarise_inits)
      text += f"  [{s['min']:.4f}, {s['max']:.4f}]"
    direction = score_direction(k)
    if direction:
      scores.append((k, text, direction, _chance(k, num_factors, result["results"])))
    else:
      settings.append((k, f"{s['value']:g}"))
  unavailable = [(m, f"n/a ({r.get('reason', '')})") for m, r in result["results"].items()
                 if r.get("available") is False]
  width = max([len(r[0]) for r in scores + settings + unavailable] + [6])
  value_width = max([len(r[1]) for r in scores] + [5])
  lines = [f"{'score'.ljust(width)}  {'value'.ljust(value_width)}  better  chance",
           f"{'-' * width}  {'-' * value_width}  ------  ------"]
  lines += [f"{k.ljust(width)}  {v.ljust(value_width)}  {d.ljust(6)}  {c}".rstrip()
            for k, v, d, c in scores]
  if settings:
    lines += ["", "settings and diagnostics"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in settings]
  if unavailable:
    lines += ["", "unavailable"]
    lines += [f"{k.ljust(width)}  {v}" for k, v in unavailable]
  warnings = _pruned_warnings(result)
  if warnings:
    lines += [""] + warnings
  return "\n".join(lines)
