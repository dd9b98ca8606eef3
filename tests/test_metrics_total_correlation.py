"""Tests for the total-correlation estimators of Gaussian codes."""

import json
import math

import numpy as np
import pytest

from oogan_tf.metrics import compute_total_correlation as total_correlation
from oogan_tf.metrics import total_correlation as tc_module


def _codes(correlated, n=1000, c=3, sigma=1.0, seed=0):
  rs = np.random.RandomState(seed)
  if correlated:
    shared = rs.randn(n, 1)
    mu = 3.0 * shared + 0.1 * rs.randn(n, c)
  else:
    mu = rs.randn(n, c)
  return mu, np.full((n, c), math.log(sigma))


@pytest.mark.parametrize("estimator", ["mss", "plugin"])
def test_independent_near_zero_correlated_positive(estimator):
  kw = dict(estimator=estimator, dataset_size=737280, batch_size=500)
  ind = total_correlation(*_codes(False), **kw)
  cor = total_correlation(*_codes(True), **kw)
  assert ind["estimator"] == estimator and cor["estimator"] == estimator
  assert abs(ind["total_correlation"]) < 0.05
  # Gaussian TC of the aggregate posterior: 0.5 * (sum log diag S - logdet S) ~ 2.0 nats.
  assert cor["total_correlation"] > 1.0
  json.dumps(cor)


def test_plugin_matches_brute_force():
  mu, ls = _codes(True, n=30, c=2, sigma=0.7)
  rs = np.random.RandomState(5)
  got = total_correlation(mu, ls, estimator="plugin", random_state=rs)["total_correlation"]
  eps = np.random.RandomState(5).randn(*mu.shape)
  x = mu + np.exp(ls) * eps
  n = mu.shape[0]
  dens = np.exp(-0.5 * ((x[:, None, :] - mu[None]) / np.exp(ls)[None]) ** 2) / (
      np.sqrt(2 * np.pi) * np.exp(ls)[None])
  joint = np.log(dens.prod(axis=2).mean(axis=1))
  marg = np.log(dens.mean(axis=1)).sum(axis=1)
  assert got == pytest.approx(np.mean(joint - marg), rel=1e-9)


def test_mss_weights_sum_to_one():
  for b, m in [(2, 10), (5, 5), (7, 1000)]:
    w = np.exp(tc_module._mss_log_weights(b, m))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(w), 1.0 / m)


def test_stable_with_tiny_sigma_and_seeded():
  mu, _ = _codes(False, n=200)
  ls = np.full_like(mu, -20.0)
  a = total_correlation(mu, ls, estimator="mss", dataset_size=10**6, random_state=1)
  b = total_correlation(mu, ls, estimator="mss", dataset_size=10**6, random_state=1)
  assert np.isfinite(a["total_correlation"]) and a == b


def test_validation():
  mu, ls = _codes(False, n=10)
  with pytest.raises(ValueError, match="estimator"):
    total_correlation(mu, ls, estimator="mws")
  with pytest.raises(ValueError, match="dataset_size is required"):
    total_correlation(mu, ls, estimator="mss")
  with pytest.raises(ValueError, match="dataset_size"):
    total_correlation(mu, ls, estimator="mss", dataset_size=3)
  with pytest.raises(ValueError, match="log_sigma"):
    total_correlation(mu, ls[:, :2], estimator="plugin")
  with pytest.raises(ValueError, match="finite"):
    total_correlation(mu * np.nan, ls, estimator="plugin")
