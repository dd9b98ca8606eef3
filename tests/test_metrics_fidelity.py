"""FID / KID (oogan_tf.metrics.fidelity): the math against numpy references on known Gaussians,
self-distances, and the weights lookup. No InceptionV3 is built: a tiny random network stands in.
"""

import numpy as np
import pytest

from oogan_tf.metrics import fidelity


def _random_cov(rs, d):
  a = rs.normal(size=(d, d))
  return a @ a.T / d + 0.1 * np.eye(d)


def _psd_sqrt(m):
  w, v = np.linalg.eigh(m)
  return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _reference_fid(mu1, s1, mu2, s2):
  # Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), the latter symmetric PSD: eigenvalues only.
  h = _psd_sqrt(s1)
  cross = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(h @ s2 @ h), 0, None)))
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def test_frechet_distance_matches_the_closed_form():
  rs = np.random.RandomState(0)
  d = 6
  mu1, mu2 = rs.normal(size=d), rs.normal(size=d)
  s1, s2 = _random_cov(rs, d), _random_cov(rs, d)
  assert fidelity.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
      _reference_fid(mu1, s1, mu2, s2), rel=1e-8)
  # Diagonal covariances: sum of (sqrt(a) - sqrt(b))^2 plus the squared mean distance.
  a, b = rs.uniform(0.5, 2, d), rs.uniform(0.5, 2, d)
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
  assert fidelity.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
  assert fidelity.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_fid_of_samples_approaches_the_population_value():
  rs = np.random.RandomState(1)
  d = 3
  mu1, mu2 = np.zeros(d), np.full(d, 0.5)
  s1, s2 = _random_cov(rs, d), _random_cov(rs, d)
  x = rs.multivariate_normal(mu1, s1, size=40_000)
  y = rs.multivariate_normal(mu2, s2, size=40_000)
  assert fidelity.fid_from_features(x, y) == pytest.approx(_reference_fid(mu1, s1, mu2, s2),
                                                           abs=0.03)
  assert fidelity.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-9)


def test_singular_covariances_give_a_finite_fid():
  rs = np.random.RandomState(2)
  x, y = rs.normal(size=(5, 20)), rs.normal(size=(5, 20))  # 5 samples, 20 dims: rank 4
  assert np.isfinite(fidelity.fid_from_features(x, y))


def test_mmd2_unbiased_matches_a_naive_double_loop():
  rs = np.random.RandomState(3)
  x, y = rs.normal(size=(7, 4)), rs.normal(0.3, 1.0, size=(9, 4))

  def k(a, b):
    return (a @ b / 4 + 1.0) ** 3

  xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
  yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
  xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
  assert fidelity.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_zero_within_its_error_for_one_distribution_and_positive_for_two():
  rs = np.random.RandomState(4)
  x, y = rs.normal(size=(1000, 16)), rs.normal(size=(1000, 16))
  same = fidelity.kid_from_features(x, y, subset_size=200, num_subsets=30, seed=0)
  assert same["subset_size"] == 200 and same["num_subsets"] == 30
  assert abs(same["kid"]) < 3 * same["kid_se"]
  shifted = fidelity.kid_from_features(x, y + 0.5, subset_size=200, num_subsets=30, seed=0)
  assert shifted["kid"] > 10 * shifted["kid_se"] > 0
  # Subsets are capped at half of the smaller set, so there are always two disjoint ones.
  assert fidelity.kid_from_features(x[:10], y, subset_size=500)["subset_size"] == 5
  with pytest.raises(ValueError, match="at least 4 real and 4 generated"):
    fidelity.kid_from_features(x[:3], y)


def _tiny_feature_fn():
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  net = keras.Sequential([
      keras.Input((fidelity.INCEPTION_SIZE, fidelity.INCEPTION_SIZE, 3)),
      keras.layers.Conv2D(4, 8, strides=8, activation="relu"),
      keras.layers.GlobalAveragePooling2D()])
  return fidelity.keras_feature_fn(net)


def test_fid_and_kid_of_a_set_against_itself_are_about_zero():
  rs = np.random.RandomState(5)
  images = rs.uniform(-1, 1, size=(24, 16, 16, 1)).astype(np.float32)
  batches = [images[i:i + 8] for i in range(0, 24, 8)]
  feature_fn = _tiny_feature_fn()
  out = fidelity.compute_fidelity(["fid", "kid"], batches, list(batches), feature_fn,
                                  num_samples=24, kid_subset_size=8, kid_subsets=5)
  assert out["fid"]["fid"] == pytest.approx(0.0, abs=1e-6)
  assert out["fid"]["num_real"] == 24 and out["fid"]["feature_dim"] == 4
  # A set against itself: subsets share images across sides, a small negative bias; far below
  # the KID against other images.
  darker = [0.5 * b - 0.5 for b in batches]
  other = fidelity.compute_fidelity(["fid", "kid"], batches, darker, feature_fn, num_samples=24,
                                    kid_subset_size=8, kid_subsets=5)
  assert abs(out["kid"]["kid"]) < 0.01 * other["kid"]["kid"]
  assert other["fid"]["fid"] > 1e-3
  with pytest.raises(ValueError, match=r"images must be in \[-1, 1\]"):
    fidelity.compute_fidelity(["fid"], [images * 255], batches, feature_fn, num_samples=8)
  with pytest.raises(ValueError, match="only 24 images available, 32 needed"):
    fidelity.compute_fidelity(["fid"], batches, batches, feature_fn, num_samples=32)


def test_missing_weights_name_the_flag_and_the_cache(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  with pytest.raises(fidelity.InceptionWeightsError) as e:
    fidelity.resolve_inception_weights(None)
  message = str(e.value)
  assert "\n" not in message
  assert "--inception_weights=PATH" in message and str(tmp_path / "models") in message
  assert "nothing is downloaded" in message
  with pytest.raises(fidelity.InceptionWeightsError, match=r"--inception_weights='.*nope.h5' "
                     "is not a file"):
    fidelity.resolve_inception_weights(str(tmp_path / "nope.h5"))
  cached = tmp_path / "models" / fidelity.INCEPTION_WEIGHTS_FILE
  cached.parent.mkdir()
  cached.write_bytes(b"")
  assert fidelity.resolve_inception_weights(None) == str(cached)
