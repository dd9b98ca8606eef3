"""Tests for the perceptual-diversity metric with a random tiny VGG16 weights file."""

import json
import os

import numpy as np
import pytest

from oogan_tf.metrics import build_vgg16_features, compute_perceptual_diversity

W = np.random.RandomState(0).randn(5, 32 * 32 * 3).astype(np.float32) * 0.3


def generate(c, z):
  return np.tanh(np.concatenate([c, z], axis=1) @ W).reshape(-1, 32, 32, 3)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
  import keras

  keras.utils.set_random_seed(0)
  model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
  path = os.path.join(str(tmp_path_factory.mktemp("vgg")), "vgg16_random.weights.h5")
  model.save_weights(path)
  return path


def test_matches_manual_algorithm(vgg_file):
  res = compute_perceptual_diversity(generate, 3, 2, vgg_file, trials=2, batch_size=2, seed=7)
  json.dumps(res)
  model = build_vgg16_features(vgg_file, (32, 32))
  rs = np.random.RandomState(7)
  scores = []
  for _ in range(2):
    z = rs.randn(2, 2).astype(np.float32)
    c = rs.uniform(-1, 1, size=(2, 3)).astype(np.float32)
    a = rs.randint(3, size=2)
    b = (a + rs.randint(1, 3, size=2)) % 3
    assert np.all(a != b)
    c1, c2 = c.copy(), c.copy()
    c1[[0, 1], a], c1[[0, 1], b] = -1, 1
    c2[[0, 1], a], c2[[0, 1], b] = 1, -1
    f1 = np.asarray(model(generate(c1, z)))
    f2 = np.asarray(model(generate(c2, z)))
    assert f1.shape == (2, 1, 1, 512)
    scores.append(np.mean(np.abs(f1 - f2)))
  assert res["mean"] == pytest.approx(np.mean(scores), rel=1e-4)
  assert res["std"] == pytest.approx(np.std(scores), rel=1e-3, abs=1e-9)
  assert res["num_pairs"] == 4.0 and res["code_range_low"] == -1.0


def test_generator_ignoring_c_scores_zero(vgg_file):
  res = compute_perceptual_diversity(lambda c, z: generate(np.zeros_like(c), z), 3, 2, vgg_file,
                                     trials=2, batch_size=2)
  assert res["mean"] == 0.0


def test_requires_weights_file(tmp_path):
  with pytest.raises(ValueError, match="needs a local VGG16 weights file"):
    compute_perceptual_diversity(generate, 3, 2, None, trials=1, batch_size=1)
  with pytest.raises(ValueError, match="File not found"):
    compute_perceptual_diversity(generate, 3, 2, str(tmp_path / "none.h5"), trials=1,
                                 batch_size=1)


def test_validation(vgg_file):
  with pytest.raises(ValueError, match="c_dim"):
    compute_perceptual_diversity(generate, 1, 2, vgg_file)
  with pytest.raises(ValueError, match="code_range"):
    compute_perceptual_diversity(generate, 3, 2, vgg_file, code_range=(1, -1))
  with pytest.raises(ValueError, match=r"\[-1, 1\]"):
    compute_perceptual_diversity(lambda c, z: 2 * generate(c, z) + 3, 3, 2, vgg_file,
                                 trials=1, batch_size=1)
  with pytest.raises(ValueError, match="B, H, W, 3"):
    compute_perceptual_diversity(lambda c, z: generate(c, z)[..., :1], 3, 2, vgg_file,
                                 trials=1, batch_size=1)
