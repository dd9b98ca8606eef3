"""oogan_tf.seed_comparison and tools/compare_evals.py: per-group statistics over seeds, Welch's
difference against a reference group, and the CLI's inputs and outputs.

The CLI runs in a subprocess: it defines absl flags at import, and the suite's in-process CLI
tests share the global flag registry.
"""

import json
import math
import os
import subprocess
import sys

import pytest
from scipy import stats

from oogan_tf import seed_comparison

_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                     "compare_evals.py")


def _eval_json(path, fv, mig):
  """A minimal evaluation document with the two scores as oogan_tf.evaluate writes them."""
  path.write_text(json.dumps({"results": {
      "factor_vae": {"eval_accuracy": fv, "eval_accuracy_se": 0.01},
      "mig": {"discrete_mig": mig, "discrete_mig_se": 0.003}}}))
  return str(path)


def test_group_stats_mean_sample_std_and_standard_error():
  s = seed_comparison.group_stats([1.0, 3.0, 5.0])
  assert (s["mean"], s["min"], s["max"], s["n"]) == (3.0, 1.0, 5.0, 3)
  assert s["std"] == pytest.approx(2.0)
  assert s["se"] == pytest.approx(2.0 / math.sqrt(3))
  single = seed_comparison.group_stats([0.8])
  assert (single["mean"], single["std"], single["se"]) == (0.8, None, None)
  with pytest.raises(ValueError):
    seed_comparison.group_stats([])


def test_welch_difference_matches_scipy():
  a, b = [0.80, 0.79, 0.82, 0.80, 0.81], [0.83, 0.84, 0.82, 0.85]
  d = seed_comparison.welch_difference(a, b)
  expected = stats.ttest_ind(a, b, equal_var=False)
  assert d["diff"] == pytest.approx(sum(a) / 5 - sum(b) / 4)
  assert d["t"] == pytest.approx(expected.statistic)
  assert d["p"] == pytest.approx(expected.pvalue)
  assert d["se"] == pytest.approx(math.sqrt(stats.sem(a) ** 2 + stats.sem(b) ** 2))
  assert seed_comparison.verdict(d) == "behind"
  assert seed_comparison.verdict(seed_comparison.welch_difference(b, a)) == "ahead"
  # The 95 % interval is scipy's Welch interval, and it excludes 0 exactly when p < 0.05.
  low, high = expected.confidence_interval(0.95)
  assert (d["ci_low"], d["ci_high"]) == (pytest.approx(low), pytest.approx(high))
  assert (d["ci_high"] < 0) == (d["p"] < 0.05)


def test_alpha_sets_verdict_interval_and_detectable():
  """A stricter alpha (a later look at a growing seed study) turns a p between it and 0.05 into
  'level' and widens the interval and the detectable difference; bad alphas are refused."""
  a, b = [0.80, 0.79, 0.82, 0.80, 0.81], [0.83, 0.81, 0.82, 0.84]
  usual, strict = (seed_comparison.compare({"a": {"s": a}, "b": {"s": b}}, reference="b",
                                           alpha=alpha)["a"]["s"]["vs_reference"]
                   for alpha in (0.05, 0.0221))
  assert 0.0221 < usual["p"] < 0.05 and usual["p"] == strict["p"]
  assert (usual["verdict"], strict["verdict"]) == ("behind", "level")
  assert strict["ci_high"] - strict["ci_low"] > usual["ci_high"] - usual["ci_low"]
  assert strict["ci_high"] > 0 > usual["ci_high"]
  assert strict["detectable"] > usual["detectable"]
  assert "97.79 % CI" in seed_comparison.comparison_markdown(
      {"a": {"s": {"stats": seed_comparison.group_stats(a), "vs_reference": strict}}}, ["s"])
  for bad in (0, -0.1, 0.6, True, "0.05"):
    with pytest.raises(ValueError, match="alpha"):
      seed_comparison.compare({"a": {"s": a}, "b": {"s": b}}, reference="b", alpha=bad)


def test_detectable_difference_has_the_stated_power():
  """A true difference of `detectable` (with the observed spread) is called at p < ALPHA with
  probability POWER: checked with the noncentral t distribution of Welch's statistic."""
  a, b = [0.80, 0.79, 0.82, 0.80, 0.81], [0.83, 0.81, 0.82, 0.85]
  d = seed_comparison.welch_difference(a, b)
  critical = stats.t.ppf(1 - seed_comparison.ALPHA / 2, d["df"])
  shifted = stats.nct(d["df"], d["detectable"] / d["se"])
  power = shifted.sf(critical) + shifted.cdf(-critical)
  assert power == pytest.approx(seed_comparison.POWER, abs=0.02)
  # More seeds with the same spread detect smaller differences.
  d_more = seed_comparison.welch_difference(a * 3, b * 3)
  assert d_more["detectable"] < d["detectable"]
  assert seed_comparison.welch_difference([0.8], [0.7, 0.9])["detectable"] is None


def test_verdict_level_and_not_available():
  level = seed_comparison.welch_difference([0.80, 0.82, 0.78], [0.81, 0.79, 0.80])
  assert level["p"] > seed_comparison.ALPHA
  assert seed_comparison.verdict(level) == "level"
  one_seed = seed_comparison.welch_difference([0.9], [0.8, 0.7])
  assert one_seed["diff"] == pytest.approx(0.15)
  assert (one_seed["se"], one_seed["p"]) == (None, None)
  assert seed_comparison.verdict(one_seed) == "n/a"
  no_spread = seed_comparison.welch_difference([0.8, 0.8], [0.7, 0.7])
  assert (no_spread["se"], no_spread["p"]) == (0.0, None)


def test_compare_and_markdown(tmp_path):
  paths_a = [_eval_json(tmp_path / f"a{i}.json", fv, 0.2) for i, fv in enumerate((0.9, 0.92))]
  paths_b = [_eval_json(tmp_path / f"b{i}.json", fv, 0.3) for i, fv in enumerate((0.7, 0.72))]
  scores = ["factor_vae/eval_accuracy", "mig/discrete_mig"]
  groups = {"a": seed_comparison.load_scores(paths_a, scores),
            "b": seed_comparison.load_scores(paths_b, scores)}
  assert groups["a"]["factor_vae/eval_accuracy"] == [0.9, 0.92]
  table = seed_comparison.compare(groups, reference="b")
  assert "vs_reference" not in table["b"]["mig/discrete_mig"]
  fv = table["a"]["factor_vae/eval_accuracy"]["vs_reference"]
  assert fv["diff"] == pytest.approx(0.2) and fv["verdict"] == "ahead"
  text = seed_comparison.comparison_markdown(table, scores)
  assert "| a | 0.910 ± 0.010 [0.900-0.920, n=2] | +0.200 ± 0.014" in text
  assert "| b | 0.710 ± 0.010 [0.700-0.720, n=2] | reference |" in text
  # A level verdict carries the difference these seeds could have detected; ahead/behind none.
  level = seed_comparison.compare({"a": {"s": [0.80, 0.82, 0.78]}, "b": {"s": [0.81, 0.79, 0.80]}},
                                  reference="b")
  expected = level["a"]["s"]["vs_reference"]["detectable"]
  assert f": level (detectable: {expected:.3f})" in seed_comparison.comparison_markdown(level, ["s"])
  assert "detectable" not in text
  one_seed = seed_comparison.compare({"a": {"s": [0.9]}, "b": {"s": [0.8, 0.7]}}, reference="b")
  assert ("| a | 0.900 (n=1) | +0.150 (a group of one seed: no error bar) |"
          in seed_comparison.comparison_markdown(one_seed, ["s"]))
  with pytest.raises(ValueError, match="reference group 'c'"):
    seed_comparison.compare(groups, reference="c")
  with pytest.raises(ValueError, match="has no score 'dci/disentanglement'"):
    seed_comparison.load_scores(paths_a, ["dci/disentanglement"])


def _run(*args):
  return subprocess.run([sys.executable, _TOOL, *args], capture_output=True, text=True)


def test_cli_writes_table_and_numbers_and_never_overwrites(tmp_path):
  for i, fv in enumerate((0.80, 0.82, 0.81)):
    _eval_json(tmp_path / f"oo_s{i}.json", fv, 0.25)
  for i, fv in enumerate((0.70, 0.71, 0.69)):
    _eval_json(tmp_path / f"ig_s{i}.json", fv, 0.25 + 0.01 * i)
  out = tmp_path / "cmp.md"
  args = [f"--group=oogan:{tmp_path}/oo_s*.json", f"--group=infogan:{tmp_path}/ig_s0.json,"
          f"{tmp_path}/ig_s1.json,{tmp_path}/ig_s2.json", "--reference=infogan",
          f"--output={out}"]
  proc = _run(*args)
  assert proc.returncode == 0, proc.stderr
  assert out.read_text() == proc.stdout
  numbers = json.loads((tmp_path / "cmp.json").read_text())
  entry = numbers["table"]["oogan"]["factor_vae/eval_accuracy"]
  assert entry["stats"]["n"] == 3 and entry["vs_reference"]["verdict"] == "ahead"
  again = _run(*args)
  assert again.returncode == 2 and again.stderr.count("\n") == 1
  assert "exists" in again.stderr and out.read_text() == proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--group=nolabel"], "must be LABEL:PATHS"),
    (["--group=a:/no/such/*.json"], "matches no file"),
    (["--group=a:{a}", "--reference=b"], "--reference='b' is not a --group label"),
    (["--group=a:{a}", "--scores=dci/disentanglement"], "has no score 'dci/disentanglement'"),
    (["--group=a:{not_eval}"], "is not an evaluation document"),
    (["--group=a:{not_json}"], "is not JSON"),
    (["--group=a:{a}", "--alpha=0.7"], "--alpha=0.7: alpha must be a number in (0, 0.5]"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
  a = _eval_json(tmp_path / "a.json", 0.8, 0.2)
  (tmp_path / "list.json").write_text("[1]")
  (tmp_path / "text.json").write_text("x")
  proc = _run(*(x.format(a=a, not_eval=tmp_path / "list.json", not_json=tmp_path / "text.json")
                for x in args))
  assert proc.returncode == 2
  assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
  assert message in proc.stderr
