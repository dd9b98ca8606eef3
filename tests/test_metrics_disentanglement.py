"""Known-answer tests for the ground-truth disentanglement metrics (tiny sizes, fake data)."""

import json

import numpy as np
import pytest

from oogan_tf import metrics
from oogan_tf.metrics import _utils
from oogan_tf.metrics.code_cache import CodeCache
from oogan_tf.metrics.testing import EncodedFactorsGroundTruth, identity_representation

GT = EncodedFactorsGroundTruth((3, 4, 5, 6, 4))
PERM = [3, 0, 4, 1, 2]
SCALE = np.array([3.0, -0.5, 10.0, 2.0, -7.0])
MIX = np.random.RandomState(1).randn(5, 5)


def perfect(x):
  return identity_representation(x)


def permuted_rescaled(x):
  return identity_representation(x)[:, PERM] * SCALE + 5.0


def mixed(x):
  return identity_representation(x) @ MIX


def make_noise(seed=0):
  rs = np.random.RandomState(seed)
  return lambda x: rs.randn(x.shape[0], 5)


def collapsed(x):
  r = identity_representation(x)
  n = r.shape[0]
  return np.concatenate([r, np.full((n, 1), 0.7), 0.01 * np.random.RandomState(n).randn(n, 1)], 1)


def constant(x):
  return np.zeros((x.shape[0], 5), np.float32)


FVAE = dict(num_train=300, num_eval=200, num_variance_estimate=1000)


def rs():
  return np.random.RandomState(0)


# ---------------------------------------------------------------- shared machinery
def test_histogram_discretize_equal_width_bins():
  x = np.array([[0.0, 0.5, 1.0, 0.26], [2.0, 2.0, 2.0, 2.0]])
  d = metrics.histogram_discretize(x, num_bins=2)
  np.testing.assert_array_equal(d[0], [1, 2, 2, 1])
  assert len(np.unique(d[1])) == 1


def test_discrete_mi_and_entropy():
  y = np.array([[0, 1, 0, 1, 2, 2]])
  h = metrics.discrete_entropy(y)
  np.testing.assert_allclose(h, [np.log(3)])
  np.testing.assert_allclose(metrics.discrete_mutual_info(y, y), [[np.log(3)]])


def test_generate_batch_factor_code_layout():
  codes, factors = metrics.generate_batch_factor_code(GT, perfect, 37, rs(), 16)
  assert codes.shape == (5, 37) and factors.shape == (5, 37)
  np.testing.assert_allclose(
      codes, 2.0 * factors / (np.array(GT.factor_sizes)[:, None] - 1) - 1, atol=1e-6)


def test_bad_representation_output_is_rejected():
  with pytest.raises(ValueError, match="shape"):
    metrics.compute_mig(GT, lambda x: np.zeros(x.shape[0]), rs(), num_train=20)
  with pytest.raises(ValueError, match="non-finite"):
    metrics.compute_mig(GT, lambda x: np.full((x.shape[0], 2), np.nan), rs(), num_train=20)


def test_ground_truth_interface_is_checked():
  with pytest.raises(ValueError, match="ground-truth"):
    metrics.compute_mig(object(), perfect, rs(), num_train=20)


# ---------------------------------------------------------------- FactorVAE
def test_factor_vae_perfect_and_permuted():
  a = metrics.compute_factor_vae(GT, perfect, rs(), **FVAE)
  b = metrics.compute_factor_vae(GT, permuted_rescaled, rs(), **FVAE)
  assert a["eval_accuracy"] == 1.0 and a["train_accuracy"] == 1.0
  assert a["num_active_dims"] == 5.0 and a["protocol"] == "dlib"
  assert b["eval_accuracy"] == a["eval_accuracy"]


def test_factor_vae_noise_is_near_chance():
  r = metrics.compute_factor_vae(GT, make_noise(), rs(), **FVAE)
  assert r["eval_accuracy"] < 0.4  # chance is 1/5


def test_factor_vae_mixed_is_lower():
  r = metrics.compute_factor_vae(GT, mixed, rs(), **FVAE)
  assert r["eval_accuracy"] < 0.97


def test_factor_vae_prunes_collapsed_dims():
  r = metrics.compute_factor_vae(GT, collapsed, rs(), **FVAE)
  assert r["num_active_dims"] == 5.0
  assert r["eval_accuracy"] == 1.0


def test_factor_vae_constant_scores_zero():
  r = metrics.compute_factor_vae(GT, constant, rs(), **FVAE)
  assert r == {"protocol": "dlib", "heldout": 1.0, "train_accuracy": 0.0,
               "eval_accuracy": 0.0, "num_active_dims": 0.0, "per_factor": {}}


def factor_2_lost(x):
  """Perfect codes except that factor 2's code is replaced by noise."""
  r = identity_representation(x)
  r[:, 2] = np.random.RandomState(r.shape[0]).randn(r.shape[0])
  return r


def test_factor_vae_per_factor_names_the_lost_factor():
  # gan_papers votes round-robin, so each factor has the same number of votes and the
  # score is exactly the mean of the per-factor accuracies.
  r = metrics.compute_factor_vae(GT, factor_2_lost, rs(), protocol="gan_papers", num_train=300,
                                 num_variance_estimate=1000)
  assert list(r["per_factor"]) == [f"factor_{k}" for k in range(5)]
  assert r["per_factor"]["factor_2"] < 0.5
  assert all(r["per_factor"][f"factor_{k}"] == 1.0 for k in (0, 1, 3, 4))
  assert r["eval_accuracy"] == pytest.approx(np.mean(list(r["per_factor"].values())), abs=1e-12)


def test_factor_vae_gan_papers_protocol():
  r = metrics.compute_factor_vae(GT, perfect, rs(), protocol="gan_papers", num_train=50,
                                 num_variance_estimate=500)
  assert r["protocol"] == "gan_papers" and r["heldout"] == 0.0
  assert r["eval_accuracy"] == r["train_accuracy"] == 1.0
  n = metrics.compute_factor_vae(GT, make_noise(), rs(), protocol="gan_papers", num_train=50,
                                 num_variance_estimate=500)
  assert n["eval_accuracy"] == n["train_accuracy"] < 0.7
  with pytest.raises(ValueError, match="num_eval"):
    metrics.compute_factor_vae(GT, perfect, rs(), protocol="gan_papers", num_eval=10)


def test_factor_vae_validation():
  with pytest.raises(ValueError, match="protocol"):
    metrics.compute_factor_vae(GT, perfect, rs(), protocol="kim")
  with pytest.raises(ValueError, match="num_train"):
    metrics.compute_factor_vae(GT, perfect, rs(), num_train=0)
  with pytest.raises(ValueError, match="RandomState"):
    metrics.compute_factor_vae(GT, perfect, 0, **FVAE)


# ---------------------------------------------------------------- BetaVAE
def test_beta_vae_known_answers():
  kw = dict(num_train=300, num_eval=200, batch_size=16)
  assert metrics.compute_beta_vae(GT, perfect, rs(), **kw)["eval_accuracy"] == 1.0
  assert metrics.compute_beta_vae(GT, permuted_rescaled, rs(), **kw)["eval_accuracy"] > 0.98
  assert metrics.compute_beta_vae(GT, make_noise(), rs(), **kw)["eval_accuracy"] < 0.4


# ---------------------------------------------------------------- MIG
def test_mig_known_answers():
  kw = dict(num_train=2000)
  p = metrics.compute_mig(GT, perfect, rs(), **kw)["discrete_mig"]
  q = metrics.compute_mig(GT, permuted_rescaled, rs(), **kw)["discrete_mig"]
  assert p > 0.9
  assert q == pytest.approx(p, abs=1e-12)
  assert metrics.compute_mig(GT, make_noise(), rs(), **kw)["discrete_mig"] < 0.05
  assert metrics.compute_mig(GT, constant, rs(), **kw)["discrete_mig"] == 0.0
  assert metrics.compute_mig(GT, mixed, rs(), **kw)["discrete_mig"] < 0.6


def test_mig_per_factor_gaps():
  def factor_3_split(x):  # factor 3 read out by two identical codes: no gap for it
    r = identity_representation(x)
    return np.concatenate([r, r[:, 3:4]], 1)
  r = metrics.compute_mig(GT, factor_3_split, rs(), num_train=2000)
  gaps = r["per_factor"]
  assert list(gaps) == [f"factor_{k}" for k in range(5)]
  assert gaps["factor_3"] == pytest.approx(0.0, abs=1e-12)
  assert all(gaps[f"factor_{k}"] > 0.9 for k in (0, 1, 2, 4))
  assert r["discrete_mig"] == pytest.approx(np.mean(list(gaps.values())), abs=1e-12)


# ---------------------------------------------------------------- DCI
def test_dci_known_answers():
  kw = dict(num_train=150, num_test=100)
  p = metrics.compute_dci(GT, perfect, rs(), **kw)
  assert p["disentanglement"] > 0.9 and p["completeness"] > 0.9
  assert p["informativeness_test"] > 0.95
  q = metrics.compute_dci(GT, permuted_rescaled, rs(), **kw)
  assert q["disentanglement"] == pytest.approx(p["disentanglement"], abs=0.02)
  m = metrics.compute_dci(GT, mixed, rs(), **kw)
  assert m["disentanglement"] < p["disentanglement"] - 0.3
  n = metrics.compute_dci(GT, make_noise(), rs(), **kw)
  assert n["disentanglement"] < 0.2 and n["informativeness_test"] < 0.4


def test_dci_gbt_stages_sets_the_boosting_stages():
  kw = dict(num_train=60, num_test=30)
  full = metrics.compute_dci(GT, perfect, rs(), **kw)
  assert metrics.compute_dci(GT, perfect, rs(), gbt_stages=100, **kw) == full
  few = metrics.compute_dci(GT, perfect, rs(), gbt_stages=2, **kw)
  assert few != full and few["disentanglement"] > 0.9  # a clean code needs few stages
  with pytest.raises(ValueError, match="gbt_stages must be an integer >= 1, got 0"):
    metrics.compute_dci(GT, perfect, rs(), gbt_stages=0, **kw)


def test_dci_formulas():
  assert metrics.dci.disentanglement(np.eye(3)) == pytest.approx(1.0)
  assert metrics.dci.completeness(np.eye(3)) == pytest.approx(1.0)
  assert metrics.dci.disentanglement(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-6)
  # One code explains everything: disentanglement 0 for it, completeness 1.
  r = np.zeros((3, 2))
  r[0] = 1.0
  assert metrics.dci.completeness(r) == pytest.approx(1.0, abs=1e-6)
  assert metrics.dci.disentanglement(r) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- SAP
def test_sap_discrete_binary_factors():
  gt = EncodedFactorsGroundTruth((2, 2, 2))
  kw = dict(num_train=400, num_test=200)
  p = metrics.compute_sap(gt, identity_representation, rs(), **kw)["SAP_score"]
  n = metrics.compute_sap(gt, lambda x: np.random.RandomState(len(x)).randn(len(x), 3), rs(),
                          **kw)["SAP_score"]
  # Discrete SAP is an accuracy gap: the perfect code is 100% accurate, every other code
  # is at chance (50% for binary factors), so the perfect score is ~0.5, not 1.
  assert p > 0.45 and n < 0.1


def test_sap_orders_representations():
  kw = dict(num_train=500, num_test=300)
  p = metrics.compute_sap(GT, perfect, rs(), **kw)["SAP_score"]
  m = metrics.compute_sap(GT, mixed, rs(), **kw)["SAP_score"]
  n = metrics.compute_sap(GT, make_noise(), rs(), **kw)["SAP_score"]
  assert p > m and p > n + 0.15 and n < 0.05


def test_sap_continuous_is_invariant():
  kw = dict(num_train=500, num_test=10, continuous_factors=True)
  p = metrics.compute_sap(GT, perfect, rs(), **kw)
  q = metrics.compute_sap(GT, permuted_rescaled, rs(), **kw)
  assert p["SAP_score"] > 0.95 and p["continuous_factors"] == 1.0
  assert q["SAP_score"] == pytest.approx(p["SAP_score"], abs=1e-9)
  with pytest.raises(ValueError, match="continuous_factors"):
    metrics.compute_sap(GT, perfect, rs(), continuous_factors="yes")


# ---------------------------------------------------------------- modularity / explicitness
def test_modularity_explicitness_known_answers():
  kw = dict(num_train=1000, num_test=300)
  p = metrics.compute_modularity_explicitness(GT, perfect, rs(), **kw)
  q = metrics.compute_modularity_explicitness(GT, permuted_rescaled, rs(), **kw)
  m = metrics.compute_modularity_explicitness(GT, mixed, rs(), **kw)
  n = metrics.compute_modularity_explicitness(GT, make_noise(), rs(), **kw)
  assert p["modularity_score"] > 0.98 and p["explicitness_score_test"] > 0.95
  assert q["modularity_score"] == pytest.approx(p["modularity_score"], abs=1e-12)
  assert m["modularity_score"] < p["modularity_score"] - 0.05
  assert n["explicitness_score_test"] < 0.6


def test_modularity_formula():
  assert metrics.modularity_explicitness.modularity(np.eye(3)) == pytest.approx(1.0)
  assert metrics.modularity_explicitness.modularity(np.ones((2, 3))) == pytest.approx(0.0)
  assert metrics.modularity_explicitness.modularity(np.zeros((2, 3))) == 0.0


# ---------------------------------------------------------------- evaluate_representation
SMALL = {"factor_vae": {"num_train": 100, "num_eval": 50, "num_variance_estimate": 500},
         "beta_vae": {"num_train": 100, "num_eval": 50, "batch_size": 16},
         "mig": {"num_train": 500}, "dci": {"num_train": 200, "num_test": 100},
         "sap": {"num_train": 200, "num_test": 100},
         "modularity": {"num_train": 300, "num_test": 100}}


def test_evaluate_representation_all_and_json():
  names = ["factor_vae", "beta_vae", "mig", "dci", "sap", "modularity"]
  res = metrics.evaluate_representation(GT, perfect, names, seed=3, sizes=SMALL)
  json.dumps(res)
  assert list(res) == names
  assert res["factor_vae"]["eval_accuracy"] == 1.0
  assert res["factor_vae"]["params"] == {
      "batch_size": 64, "num_train": 100, "num_eval": 50, "num_variance_estimate": 500,
      "prune_threshold": 0.05, "protocol": "dlib", "seed": 3, "num_seeds": 1,
      "bootstrap": 1000}
  assert res["beta_vae"]["eval_accuracy"] == 1.0
  assert res["mig"]["discrete_mig"] > 0.9
  assert res["dci"]["disentanglement"] > 0.9
  assert res["modularity"]["modularity_score"] > 0.95
  assert res["mig"]["params"]["num_bins"] == 20
  for entry in res.values():
    assert entry["elapsed_s"] >= 0.0


def test_evaluate_representation_fresh_seed_per_metric():
  a = metrics.evaluate_representation(GT, mixed, ["mig", "sap"], sizes=SMALL)
  b = metrics.evaluate_representation(GT, mixed, ["sap"], sizes=SMALL)
  c = metrics.compute_sap(GT, mixed, np.random.RandomState(0), **SMALL["sap"])
  assert a["sap"]["SAP_score"] == b["sap"]["SAP_score"] == c["SAP_score"]


def test_evaluate_representation_sizes_scale_and_protocol():
  res = metrics.evaluate_representation(GT, perfect, ["factor_vae", "mig"], sizes_scale=0.01,
                                        protocol="gan_papers")
  assert res["factor_vae"]["params"]["num_train"] == 5
  assert res["factor_vae"]["params"]["num_eval"] == 0
  assert res["factor_vae"]["params"]["num_variance_estimate"] == 737
  assert res["factor_vae"]["protocol"] == "gan_papers"
  assert res["mig"]["params"]["num_train"] == 100
  assert res["mig"]["params"]["batch_size"] == 16


def test_evaluate_representation_errors():
  with pytest.raises(ValueError, match="valid metrics: factor_vae"):
    metrics.evaluate_representation(GT, perfect, ["fid"])
  with pytest.raises(ValueError, match="compute_orthogonality"):
    metrics.evaluate_representation(GT, perfect, ["ortho"])
  with pytest.raises(ValueError, match="unknown parameter"):
    metrics.evaluate_representation(GT, perfect, ["mig"], sizes={"mig": {"num_votes": 1}})
  with pytest.raises(ValueError, match="ground-truth"):
    metrics.evaluate_representation(None, perfect, ["mig"])
  with pytest.raises(ValueError, match="gaussian_fn"):
    metrics.evaluate_representation(GT, perfect, ["tc"])
  with pytest.raises(ValueError, match="sizes_scale"):
    metrics.evaluate_representation(GT, perfect, ["mig"], sizes_scale=0)
  with pytest.raises(ValueError, match="protocol"):
    metrics.evaluate_representation(GT, perfect, ["mig"], protocol="x")


def test_evaluate_representation_tc():
  def gaussian_fn(x):
    r = identity_representation(x)
    return r, np.full_like(r, np.log(0.5))

  res = metrics.evaluate_representation(
      GT, perfect, ["tc"], gaussian_fn=gaussian_fn,
      sizes={"tc": {"num_samples": 400, "mss_batch_size": 200}})
  json.dumps(res)
  assert res["tc"]["params"]["dataset_size"] == 3 * 4 * 5 * 6 * 4
  assert abs(res["tc"]["total_correlation_plugin"]) < 0.5
  assert np.isfinite(res["tc"]["total_correlation_mss"])


def test_registry_names():
  assert metrics.METRIC_NAMES == (
      "factor_vae", "beta_vae", "mig", "dci", "sap", "modularity", "tc", "generator_factors",
      "ortho", "perceptual_diversity", "fid", "kid", "categorical_accuracy")
  assert metrics.default_params("dci") == {"num_train": 10000, "num_test": 5000, "batch_size": 16,
                                          "gbt_stages": 100}
  assert metrics.default_params("factor_vae", "gan_papers")["batch_size"] == 100


def test_print_progress(capsys):
  p = _utils.print_progress()
  p("x", 1, 3)
  p("x", 2, 3)  # within 10 s of the first report: skipped
  p("x", 3, 3)
  err = capsys.readouterr().err  # not a terminal: one line per report, no carriage returns
  assert "\r" not in err
  assert [line.split(" (")[0] for line in err.splitlines()] == ["x: 1/3", "x: 3/3"]


def test_code_cache_encodes_each_row_once_and_matches_the_function():
  gt = EncodedFactorsGroundTruth((3, 4, 5))
  calls = []

  def fn(obs):
    calls.append(len(obs))
    return identity_representation(obs) * 2.0

  cache = CodeCache(gt, fn, batch_size=7)
  rs = np.random.RandomState(0)
  factors = gt.sample_factors(50, rs)
  direct = fn(gt.sample_observations_from_factors(factors, rs))
  calls.clear()
  np.testing.assert_array_equal(cache.codes_of_factors(factors), direct)
  unique = len({tuple(f) for f in factors})
  assert cache.stats == {"lookups": 50, "encoded": unique}
  assert sum(calls) == unique and max(calls) <= 7
  np.testing.assert_array_equal(cache.codes_of_factors(factors[::-1]), direct[::-1])
  assert cache.stats["encoded"] == unique and sum(calls) == unique
  np.testing.assert_array_equal(cache(gt.sample_observations_from_factors(factors, rs)), direct)


def test_code_cache_refuses_a_ground_truth_without_row_indices():
  class NoIndex:
    num_factors = 1
    deterministic_observations = True

  with pytest.raises(ValueError, match="CodeCache needs a deterministic ground truth"):
    CodeCache(NoIndex(), lambda x: x)
