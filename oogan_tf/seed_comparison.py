"""Compares models over training seeds: per-group mean, standard error and range of each score,
and each group's difference from a reference group with its standard error and Welch's t-test.

A seed study's question is "is model A ahead of model B?", and the answer needs the spread over
seeds, not the evaluation's own error bar: on rendered dSprites two seeds of one recipe differ by
more than one evaluation's standard error. No TensorFlow at import.

    groups = {"oogan": load_scores(paths_a, SCORES), "infogan": load_scores(paths_b, SCORES)}
    table = compare(groups, reference="infogan")
    print(comparison_markdown(table, SCORES))
"""

from __future__ import annotations

import json
import math
from typing import Dict, List, Mapping, Optional, Sequence

from oogan_tf import eval_report

# Two-sided significance level of the verdict column ("ahead" / "behind" / "level").
ALPHA = 0.05
# Power at which the smallest detectable difference is quoted: a "level" verdict says nothing
# about differences below that size, which these seeds would usually miss.
POWER = 0.8


def group_stats(values: Sequence[float]) -> Dict[str, Optional[float]]:
  """{"mean", "std", "se", "min", "max", "n"} of one group's per-seed scores.

  std is the sample standard deviation (ddof=1) and se = std / sqrt(n); both None for n = 1.
  """
  if not values:
    raise ValueError("a group needs at least one score")
  n = len(values)
  mean = sum(values) / n
  std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
  return {"mean": mean, "std": std, "se": None if std is None else std / math.sqrt(n),
          "min": min(values), "max": max(values), "n": n}


def welch_difference(a: Sequence[float], b: Sequence[float],
                     alpha: float = ALPHA) -> Dict[str, Optional[float]]:
  """mean(a) - mean(b) with its standard error, Welch's t, its degrees of freedom
  (Welch-Satterthwaite), the two-sided p-value, "ci_low" / "ci_high": the two-sided (1 - alpha)
  confidence interval diff -/+ t_{1-alpha/2, df} * se, and "detectable": the smallest true
  difference that this many seeds with this spread would call ahead/behind (p < alpha) with
  probability POWER, (t_{1-alpha/2, df} + t_{POWER, df}) * se. se and the rest are None unless
  both groups have >= 2 seeds; all but se are None when both groups have zero spread.

  alpha below ALPHA is for a test that must spend less than 0.05: a later look at a growing
  seed study, or one of several comparisons."""
  sa, sb = group_stats(a), group_stats(b)
  diff = sa["mean"] - sb["mean"]
  out: Dict[str, Optional[float]] = {"diff": diff, "se": None, "t": None, "df": None, "p": None,
                                     "ci_low": None, "ci_high": None, "detectable": None}
  if sa["se"] is None or sb["se"] is None:
    return out
  va, vb = sa["se"] ** 2, sb["se"] ** 2
  se = math.sqrt(va + vb)
  out["se"] = se
  if se == 0.0:
    return out
  from scipy import stats  # pylint: disable=g-import-not-at-top
  df = (va + vb) ** 2 / (va ** 2 / (sa["n"] - 1) + vb ** 2 / (sb["n"] - 1))
  t = diff / se
  critical = stats.t.ppf(1.0 - alpha / 2.0, df)
  out.update(t=t, df=df, p=float(2.0 * stats.t.sf(abs(t), df)),
             ci_low=float(diff - critical * se), ci_high=float(diff + critical * se),
             detectable=float((critical + stats.t.ppf(POWER, df)) * se))
  return out


def verdict(difference: Mapping[str, Optional[float]], alpha: float = ALPHA) -> str:
  """'ahead' / 'behind' (p < alpha, by the sign of the difference), 'level', or 'n/a' (no p)."""
  if difference["p"] is None:
    return "n/a"
  if difference["p"] >= alpha:
    return "level"
  return "ahead" if difference["diff"] > 0 else "behind"


def load_scores(paths: Sequence[str], scores: Sequence[str]) -> Dict[str, List[float]]:
  """{score: [value per file]} from evaluation JSONs (`python -m oogan_tf.evaluate --output=`),
  one file per seed. scores are '<metric>/<key>' names (eval_report.scalar_scores).

  Raises ValueError naming the file when it is not an evaluation document or lacks a score.
  """
  out: Dict[str, List[float]] = {s: [] for s in scores}
  for path in paths:
    with open(path) as f:
      try:
        document = json.load(f)
      except ValueError as e:
        raise ValueError(f"{path} is not JSON ({e})") from e
    if not isinstance(document, dict) or not isinstance(document.get("results"), dict):
      raise ValueError(f"{path} is not an evaluation document (no \"results\" object; write one "
                       "with python -m oogan_tf.evaluate --output=...)")
    values = eval_report.scalar_scores(document)
    for score in scores:
      if score not in values:
        raise ValueError(f"{path} has no score {score!r} (it has: "
                         f"{', '.join(k for k in values if not k.endswith('_se'))})")
      out[score].append(float(values[score]))
  return out


def check_alpha(alpha: float) -> float:
  """alpha as a float; ValueError unless 0 < alpha <= 0.5 (a two-sided significance level)."""
  if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 0.5:
    raise ValueError(f"alpha must be a number in (0, 0.5], got {alpha!r}")
  return float(alpha)


def compare(groups: Mapping[str, Mapping[str, Sequence[float]]],
            reference: Optional[str] = None, alpha: float = ALPHA) -> Dict[str, dict]:
  """{group: {score: {"stats": group_stats, "vs_reference": welch_difference + "verdict"}}};
  "vs_reference" only for groups other than `reference` (None: no differences); the verdicts,
  intervals and detectable differences at the two-sided level `alpha`."""
  alpha = check_alpha(alpha)
  if reference is not None and reference not in groups:
    raise ValueError(f"reference group {reference!r} is not one of {sorted(groups)}")
  table: Dict[str, dict] = {}
  for name, scores in groups.items():
    table[name] = {}
    for score, values in scores.items():
      entry = {"stats": group_stats(values)}
      if reference is not None and name != reference:
        difference = welch_difference(values, groups[reference][score], alpha)
        entry["vs_reference"] = dict(difference, verdict=verdict(difference, alpha), alpha=alpha)
      table[name][score] = entry
  return table


def _stats_cell(s: Mapping[str, Optional[float]]) -> str:
  if s["n"] == 1:
    return f"{s['mean']:.3f} (n=1)"
  return f"{s['mean']:.3f} ± {s['se']:.3f} [{s['min']:.3f}-{s['max']:.3f}, n={s['n']}]"


def _difference_cell(d: Optional[Mapping[str, Optional[float]]]) -> str:
  if d is None:
    return "reference"
  if d["se"] is None:
    return f"{d['diff']:+.3f} (a group of one seed: no error bar)"
  if d["p"] is None:
    return f"{d['diff']:+.3f} ± {d['se']:.3f}"
  text = (f"{d['diff']:+.3f} ± {d['se']:.3f} ({100 * (1 - d['alpha']):g} % CI "
          f"{d['ci_low']:+.3f} to {d['ci_high']:+.3f}), p={d['p']:.2g}: {d['verdict']}")
  if d["verdict"] == "level":
    text += f" (detectable: {d['detectable']:.3f})"
  return text


def comparison_markdown(table: Mapping[str, dict], scores: Sequence[str]) -> str:
  """One row per group: mean ± SE over seeds [range, n] for each score and, with a reference,
  the difference from it ± its SE with its confidence interval, Welch's p and the verdict
  ("level" with the smallest difference these seeds would detect at POWER)."""
  with_reference = any("vs_reference" in e for g in table.values() for e in g.values())
  header = ["group"]
  for score in scores:
    header.append(score)
    if with_reference:
      header.append(f"{score} vs reference")
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, entries in table.items():
    cells = [name]
    for score in scores:
      cells.append(_stats_cell(entries[score]["stats"]))
      if with_reference:
        cells.append(_difference_cell(entries[score].get("vs_reference")))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines) + "\n"
