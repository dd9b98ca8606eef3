"""Standard errors of the disentanglement metrics: bootstrap, several seeds, fast MI (fake data)."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from oogan_tf import metrics
from oogan_tf.metrics import _utils
from oogan_tf.metrics import evaluation
from oogan_tf.metrics import modularity_explicitness
from oogan_tf.metrics.testing import EncodedFactorsGroundTruth, identity_representation

GT = EncodedFactorsGroundTruth((3, 4, 5, 6, 4))
MIX = np.random.RandomState(1).randn(5, 5)
SMALL = {"factor_vae": {"num_train": 200, "num_eval": 100, "num_variance_estimate": 500},
         "beta_vae": {"num_train": 100, "num_eval": 60, "batch_size": 16},
         "mig": {"num_train": 400}, "dci": {"num_train": 150, "num_test": 100},
         "sap": {"num_train": 200, "num_test": 100},
         "modularity": {"num_train": 300, "num_test": 100},
         "tc": {"num_samples": 200, "mss_batch_size": 100}}
DESCRIPTIVE = ("num_active_dims", "heldout", "protocol", "continuous_factors", "num_codes")


def mixed(x):
  return identity_representation(x) @ MIX


def gaussian_fn(x):
  r = mixed(x)
  return r, np.full_like(r, np.log(0.5))


def noisy_identity(scale, seed=0):
  """Identity codes plus N(0, scale^2) noise: a representation with a middling accuracy."""
  rs = np.random.RandomState(seed)
  return lambda x: identity_representation(x) + scale * rs.randn(x.shape[0], GT.num_factors)


def sklearn_mi(codes, factors):
  """The former implementation: one sklearn call per (code, factor) pair."""
  return np.array([[mutual_info_score(f, c) for f in factors] for c in codes])


# ---------------------------------------------------------------- vectorised mutual information
@pytest.mark.parametrize("case", range(12))
def test_discrete_mutual_info_equals_sklearn(case):
  rs = np.random.RandomState(case)
  n = int(rs.randint(1, 600))
  codes = rs.randint(0, rs.randint(1, 25), size=(rs.randint(1, 5), n)) * 3 - 7
  factors = rs.randint(0, rs.randint(1, 30), size=(rs.randint(1, 4), n))
  codes[0] = 4  # a constant code: MI 0
  np.testing.assert_allclose(_utils.discrete_mutual_info(codes, factors),
                             sklearn_mi(codes, factors), rtol=0, atol=1e-12)
  np.testing.assert_allclose(_utils.discrete_entropy(factors),
                             [mutual_info_score(f, f) for f in factors], rtol=0, atol=1e-12)


def test_discrete_mutual_info_many_distinct_values_equals_sklearn():
  # Too many contingency cells for np.bincount: the sorting path.
  rs = np.random.RandomState(0)
  codes = rs.randint(0, 10**7, size=(2, 3000))
  factors = np.stack([rs.randint(0, 3000, size=3000), rs.randint(-5, 5, size=3000)])
  np.testing.assert_allclose(_utils.discrete_mutual_info(codes, factors),
                             sklearn_mi(codes, factors), rtol=0, atol=1e-12)


def test_mig_point_estimate_equals_the_sklearn_implementation():
  r = metrics.compute_mig(GT, mixed, np.random.RandomState(4), num_train=500, bootstrap=20)
  codes, factors = _utils.generate_batch_factor_code(GT, mixed, 500, np.random.RandomState(4), 16)
  m = np.sort(sklearn_mi(_utils.histogram_discretize(codes), factors), axis=0)[::-1]
  entropy = np.array([mutual_info_score(f, f) for f in factors])
  assert r["discrete_mig"] == pytest.approx(np.mean((m[0] - m[1]) / entropy), abs=1e-12)


# ---------------------------------------------------------------- bootstrap machinery
def test_bootstrap_replicates_resample_within_strata():
  labels = np.repeat([0, 1, 2], [5, 7, 3])
  reps = _utils.bootstrap_replicates(lambda idx: np.bincount(labels[idx], minlength=3),
                                     [labels], 50, np.random.RandomState(0))
  assert reps.shape == (50, 3) and (reps == [5, 7, 3]).all()
  reps = _utils.bootstrap_replicates(lambda a, b: (a.max(), b.max(), len(a), len(b)),
                                     [4, 9], 50, np.random.RandomState(0))
  assert reps[:, 0].max() == 3 and reps[:, 1].max() == 8
  assert (reps[:, 2] == 4).all() and (reps[:, 3] == 9).all()


def test_bootstrap_stream_leaves_the_metric_stream_alone():
  rs = np.random.RandomState(7)
  before = rs.get_state()[1].copy()
  a = _utils.bootstrap_random_state(rs).randint(10**9, size=5)
  b = _utils.bootstrap_random_state(np.random.RandomState(7)).randint(10**9, size=5)
  np.testing.assert_array_equal(rs.get_state()[1], before)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, np.random.RandomState(7).randint(10**9, size=5))


def test_resampled_auc_equals_sklearn_on_the_resample():
  rs = np.random.RandomState(0)
  y = rs.randint(0, 4, size=200)
  proba = np.round(rs.rand(200, 3), 1)  # rounded: many ties
  classes = np.array([0, 1, 2])  # class 3 is never predicted, as for unseen test classes
  auc = modularity_explicitness._ResampledMacroAuc(y, proba, classes)
  assert auc(np.arange(200)) == pytest.approx(
      modularity_explicitness._macro_auc(y, proba, classes), abs=1e-12)
  for _ in range(5):
    idx = rs.randint(0, 200, size=200)
    assert auc(idx) == pytest.approx(
        modularity_explicitness._macro_auc(y[idx], proba[idx], classes), abs=1e-12)
  only_class_3 = np.flatnonzero(y == 3)
  assert auc(only_class_3) == 0.5  # no class with both positives and negatives


# ---------------------------------------------------------------- result layout
def test_every_score_has_an_se_and_a_method():
  names = list(metrics.REPRESENTATION_METRICS)
  res = metrics.evaluate_representation(GT, mixed, names, seed=2, sizes=SMALL,
                                        gaussian_fn=gaussian_fn)
  json.dumps(res, allow_nan=False)
  for name in names:
    entry = res[name]
    assert isinstance(entry["se_method"], str) and entry["se_method"]
    for key in evaluation.SCORE_KEYS[name]:
      assert isinstance(entry[key], float)
      assert entry[key + "_se"] is None or isinstance(entry[key + "_se"], float)
    for key in DESCRIPTIVE:
      assert key + "_se" not in entry
    assert entry["params"]["bootstrap"] == evaluation.BOOTSTRAP_DEFAULTS[name]
  for name, key in [("factor_vae", "eval_accuracy"), ("factor_vae", "train_accuracy"),
                    ("beta_vae", "eval_accuracy"), ("mig", "discrete_mig"), ("sap", "SAP_score"),
                    ("modularity", "modularity_score"),
                    ("modularity", "explicitness_score_test"),
                    ("dci", "informativeness_test")]:
    assert res[name][key + "_se"] > 0, (name, key)
  assert res["dci"]["disentanglement_se"] is None and res["dci"]["completeness_se"] is None
  assert "num_seeds" in res["dci"]["se_method"]
  assert res["tc"]["total_correlation_mss_se"] is None
  assert "num_seeds" in res["tc"]["se_method"]
  assert "conditional on the fitted classifier" in res["beta_vae"]["se_method"]
  assert "B=1000" in res["factor_vae"]["se_method"]


def test_bootstrap_never_changes_the_scores():
  names = ["factor_vae", "beta_vae", "mig", "dci", "sap", "modularity"]
  with_se = metrics.evaluate_representation(GT, mixed, names, seed=5, sizes=SMALL, bootstrap=30)
  without = metrics.evaluate_representation(GT, mixed, names, seed=5, sizes=SMALL, bootstrap=0)
  for name in names:
    for key, value in without[name].items():
      if key not in ("elapsed_s", "params") and not key.endswith("_se") and key != "se_method":
        assert with_se[name][key] == value, (name, key)
    assert all(without[name][k + "_se"] is None for k in evaluation.SCORE_KEYS[name])
    assert without[name]["se_method"].startswith("none")
  # Direct calls without a bootstrap return exactly the former result.
  plain = metrics.compute_sap(GT, mixed, np.random.RandomState(5), **SMALL["sap"])
  assert plain == {"SAP_score": with_se["sap"]["SAP_score"], "continuous_factors": 0.0}
  cont = dict(SMALL["sap"], continuous_factors=True)
  a = metrics.compute_sap(GT, mixed, np.random.RandomState(1), **cont)
  b = metrics.compute_sap(GT, mixed, np.random.RandomState(1), bootstrap=20, **cont)
  assert a["SAP_score"] == b["SAP_score"] and b["SAP_score_se"] > 0


def test_bootstrap_consumes_nothing_from_the_metric_random_state():
  a, b = np.random.RandomState(3), np.random.RandomState(3)
  metrics.compute_beta_vae(GT, mixed, a, num_train=60, num_eval=30, batch_size=8)
  metrics.compute_beta_vae(GT, mixed, b, num_train=60, num_eval=30, batch_size=8, bootstrap=50)
  assert a.randint(10**9) == b.randint(10**9)


# ---------------------------------------------------------------- known standard errors
def test_factor_vae_se_is_close_to_binomial_dlib():
  r = metrics.compute_factor_vae(GT, noisy_identity(1.0), np.random.RandomState(0),
                                 batch_size=16, num_train=800, num_eval=400,
                                 num_variance_estimate=1000, bootstrap=1000)
  for key, n in (("train_accuracy", 800), ("eval_accuracy", 400)):
    p = r[key]
    assert 0.2 < p < 0.9, r
    binomial = math.sqrt(p * (1 - p) / n)
    assert binomial / 1.5 < r[key + "_se"] < 1.5 * binomial, (key, r)


def test_factor_vae_se_is_close_to_binomial_gan_papers():
  r = metrics.compute_factor_vae(GT, noisy_identity(1.0), np.random.RandomState(0),
                                 protocol="gan_papers", batch_size=16, num_train=500,
                                 num_variance_estimate=1000, bootstrap=1000)
  p = r["eval_accuracy"]
  assert 0.2 < p < 0.9 and r["eval_accuracy_se"] == r["train_accuracy_se"]
  binomial = math.sqrt(p * (1 - p) / 500)
  assert binomial / 1.5 < r["eval_accuracy_se"] < 1.5 * binomial, r
  assert "within each factor" in r["se_method"]


def test_beta_vae_conditional_se_is_binomial():
  r = metrics.compute_beta_vae(GT, noisy_identity(0.3), np.random.RandomState(0), num_train=200,
                               num_eval=300, batch_size=4, bootstrap=1000)
  p = r["eval_accuracy"]
  assert 0.2 < p < 0.95, r
  assert r["eval_accuracy_se"] == pytest.approx(math.sqrt(p * (1 - p) / 300), rel=0.15)


def test_mig_se_shrinks_as_num_train_grows():
  small = metrics.compute_mig(GT, mixed, np.random.RandomState(0), num_train=300, bootstrap=100)
  large = metrics.compute_mig(GT, mixed, np.random.RandomState(0), num_train=3000, bootstrap=100)
  # Expected ratio sqrt(300 / 3000) ~ 0.32.
  assert 0 < large["discrete_mig_se"] < 0.6 * small["discrete_mig_se"]


# ---------------------------------------------------------------- several evaluation seeds
def test_num_seeds_reports_mean_se_and_list_of_single_seed_runs():
  names = ["factor_vae", "mig", "sap", "tc"]
  kw = dict(sizes=SMALL, gaussian_fn=gaussian_fn)
  res = metrics.evaluate_representation(GT, mixed, names, seed=4, num_seeds=3, **kw)
  singles = [metrics.evaluate_representation(GT, mixed, names, seed=s, bootstrap=0, **kw)
             for s in (4, 5, 6)]
  json.dumps(res, allow_nan=False)
  for name in names:
    entry = res[name]
    assert "3 evaluation seeds" in entry["se_method"]
    assert entry["params"]["seed"] == 4 and entry["params"]["num_seeds"] == 3
    assert entry["params"]["bootstrap"] == 0
    for key in evaluation.SCORE_KEYS[name]:
      values = [s[name][key] for s in singles]
      assert entry[key + "_seeds"] == values
      assert entry[key] == pytest.approx(np.mean(values), abs=1e-15)
      assert entry[key + "_se"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(3),
                                                 abs=1e-15)
  assert res["factor_vae"]["protocol"] == "dlib"
  assert res["tc"]["num_codes"] == 5.0
  for name in ("factor_vae", "mig"):  # per-factor breakdowns: each factor's mean over seeds
    for factor, value in res[name]["per_factor"].items():
      assert value == pytest.approx(np.mean([s[name]["per_factor"][factor] for s in singles]),
                                    abs=1e-15)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_bad_num_seeds_is_rejected(bad):
  with pytest.raises(ValueError, match="num_seeds"):
    metrics.evaluate_representation(GT, mixed, ["mig"], sizes=SMALL, num_seeds=bad)


@pytest.mark.parametrize("bad", [1, -2, 2.0])
def test_bad_bootstrap_is_rejected(bad):
  with pytest.raises(ValueError, match="bootstrap"):
    metrics.evaluate_representation(GT, mixed, ["mig"], sizes=SMALL, bootstrap=bad)
  with pytest.raises(ValueError, match="bootstrap"):
    metrics.compute_mig(GT, mixed, np.random.RandomState(0), num_train=20, bootstrap=bad)
