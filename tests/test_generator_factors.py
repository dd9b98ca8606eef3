"""Known-answer tests of the generator_factors metric with renderer-based fake generators."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oogan_tf.data import dsprites
from oogan_tf.data import dsprites_render as render
from oogan_tf.metrics import generator_factors

C_DIM, Z_DIM = 6, 4
SMALL = dict(num_samples=128, num_bases=8, bootstrap=100)


@pytest.fixture(scope="module")
def gt32():
  return dsprites.GroundTruthData(dsprites.RenderedSource(), 32)


@pytest.fixture(scope="module")
def gt64():
  return dsprites.GroundTruthData(dsprites.RenderedSource(), 64)


def _render(pos_x, pos_y, scale, angle, shape_code, size=32):
  """Continuous dSprites parameters in [0, 1] -> float32 [N, S, S, 1] in {0, 1}."""
  shapes = np.minimum((np.asarray(shape_code) * 3).astype(np.int64), 2)
  images = render.render_shapes(shapes, 0.5 + 0.5 * scale, 2.0 * np.pi * angle,
                                16.0 + 32.0 * pos_x, 16.0 + 32.0 * pos_y)
  return render.resize_binary(images, size)[..., None].astype(np.float32)


def driven_by_c(c, z):
  """c0 -> posX, c1 -> posY, c2 -> scale, c3 -> orientation, c4 -> shape; c5 and z unused."""
  del z
  return _render(c[:, 0], c[:, 1], c[:, 2], c[:, 3], c[:, 4])


def driven_by_c_64(c, z):
  del z
  return _render(c[:, 0], c[:, 1], c[:, 2], c[:, 3], c[:, 4], size=64)


MIX = np.random.RandomState(5).randn(5, C_DIM)


def random_mix(c, z):
  """Every factor a sigmoid of its own dense random mix of all six codes."""
  del z
  f = 1.0 / (1.0 + np.exp(-3.0 * (c - 0.5) @ MIX.T))
  return _render(f[:, 0], f[:, 1], f[:, 2], f[:, 3], f[:, 4])


def one_code_moves_all(c, z):
  del z
  a = c[:, 0]
  return _render(a, a, a, a, a)


def real_images(ground_truth, seed):
  rs = np.random.RandomState(seed)

  def generate(c, z):
    del z
    return (ground_truth.sample(c.shape[0], rs)[1] + 1.0) / 2.0

  return generate


def blank(c, z):
  del z
  return np.zeros((c.shape[0], 32, 32, 1), np.float32)


def _run(fn, ground_truth, seed=0, **kwargs):
  return generator_factors.compute_generator_factors(
      fn, C_DIM, Z_DIM, ground_truth, np.random.RandomState(seed), **{**SMALL, **kwargs})


@pytest.fixture(scope="module")
def driven(gt32):
  # num_z=2 gives 64 distinct codes for coverage (z is ignored, so its repeats add nothing).
  return _run(driven_by_c, gt32, num_z=2)


def test_renderer_driven_by_c_scores_high(driven):
  # Measured 0.89-0.92 at the default sizes (seeds 0-1); without the noise floor, pixelation
  # noise of the moments accumulating along the sweeps held it near 0.5.
  assert driven["score"] >= 0.8
  assert [a["code"] for a in driven["assignment"]] == [0, 1, 2, 3, 4]
  for name in ("x", "y", "scale"):
    assert driven["c_variance_share"][name] >= 0.99
  # Measured 0.80-0.89: 64 codes drawn from continuous c against the discrete real grid.
  assert driven["coverage"]["mean"] >= 0.75
  assert driven["coverage"]["single_sprite_fraction"] == 1.0
  effect = np.array(driven["effect_matrix"])
  np.testing.assert_allclose(effect[5], 0.0)  # c5 is unused
  floor = driven["noise_floor"]
  # A full posX ramp over D_x = 1/3, and two class changes over P(!=) = 2/3, before the floor.
  assert effect[0, 0] + floor[0] == pytest.approx(3.0, rel=0.1)
  assert effect[4, 4] + floor[4] == pytest.approx(3.0, rel=0.1)
  assert effect[4, 2] == 0.0 and effect[4, 3] == 0.0  # a shape change alone moves only shape


def test_renderer_at_64_px_scores_high(gt64, driven):
  result = _run(driven_by_c_64, gt64, num_z=2)
  assert result["score"] >= 0.85  # measured 0.93-0.97 at the default sizes
  assert [a["code"] for a in result["assignment"]] == [0, 1, 2, 3, 4]


def test_random_mix_scores_low(gt32, driven):
  result = _run(random_mix, gt32)
  assert result["score"] <= 0.2  # measured 0.10-0.15
  assert result["score"] < driven["score"] - 0.25


def test_one_code_moving_everything_scores_low(gt32):
  result = _run(one_code_moves_all, gt32)
  assert result["score"] <= 0.1  # measured 0.046, ~1 / P^2 = 0.04
  assigned = [a for a in result["assignment"] if a["code"] >= 0]
  assert len(assigned) == 1 and assigned[0]["code"] == 0
  effect = np.array(result["effect_matrix"])
  np.testing.assert_allclose(effect[1:], 0.0)


def test_real_images_against_themselves(gt32):
  result = _run(real_images(gt32, 3), gt32, num_samples=512)
  coverage = result["coverage"]
  for name in ("x", "y", "scale", "mean"):
    assert coverage[name] >= 0.9, name  # measured >= 0.93
  assert coverage["single_sprite_fraction"] == 1.0
  for name in generator_factors.PROPERTY_NAMES:
    assert result["c_variance_share"][name] <= 0.15, name  # measured <= 0.06
  shapes = coverage["shape_distribution"]
  for name in generator_factors.SHAPE_NAMES:
    assert abs(shapes["generated"][name] - shapes["real"][name]) < 0.1


def test_blank_generator_is_undefined_not_an_error(gt32):
  result = _run(blank, gt32, bootstrap=10)
  assert result["score"] == 0.0
  assert result["coverage"]["single_sprite_fraction"] == 0.0
  assert result["coverage"]["mean"] is None
  assert all(a["code"] == -1 for a in result["assignment"])
  json.dumps(result, allow_nan=False)


def _scalars_without_se(node, path=""):
  """Paths of float entries of dicts that lack a `<key>_se` sibling (params excluded)."""
  missing = []
  if isinstance(node, dict):
    for key, value in node.items():
      if key == "params" or key.endswith("_se"):
        continue
      if isinstance(value, float) and f"{key}_se" not in node:
        missing.append(f"{path}/{key}")
      missing += _scalars_without_se(value, f"{path}/{key}")
  elif isinstance(node, list):
    for i, value in enumerate(node):
      missing += _scalars_without_se(value, f"{path}[{i}]")
  return missing


def test_json_deterministic_and_every_scalar_has_se(gt32, driven):
  text = json.dumps(driven, allow_nan=False)
  again = _run(driven_by_c, gt32, num_z=2)
  assert json.dumps(again, allow_nan=False) == text
  other = _run(driven_by_c, gt32, seed=1, num_z=2)
  assert other["score"] != driven["score"]
  assert _scalars_without_se(driven) == []
  for key in ("score", "coverage", "c_variance_share", "property_gap", "assignment"):
    assert key in driven
  assert driven["coverage"]["mean_se"] > 0
  assert driven["property_names"] == list(generator_factors.PROPERTY_NAMES)
  effect_se = np.array(driven["effect_matrix_se"], dtype=np.float64)
  assert effect_se.shape == (C_DIM, len(generator_factors.PROPERTY_NAMES))
  params = driven["params"]
  assert params["num_generated"] == 128 + 8 * C_DIM * 8
  assert isinstance(driven["se_method"], str)


def test_chunks_and_validation(gt32):
  sizes = []

  def recording(c, z):
    assert c.dtype == np.float32 and z.dtype == np.float32 and z.shape[1] == Z_DIM
    assert np.all((c >= 0) & (c <= 1))
    sizes.append(c.shape[0])
    return blank(c, z)

  _run(recording, gt32, num_samples=512, bootstrap=2)
  assert max(sizes) <= generator_factors.MAX_CHUNK and sum(sizes) == 512 + 8 * C_DIM * 8
  with pytest.raises(ValueError, match="multiple of num_z"):
    _run(blank, gt32, num_samples=100)
  with pytest.raises(ValueError, match="generate_fn must return"):
    _run(lambda c, z: np.zeros((c.shape[0], 64, 64, 1)), gt32)


def test_save_effect_heatmap(tmp_path, driven):
  path = tmp_path / "effect.png"
  generator_factors.save_effect_heatmap(driven, str(path), title="renderer driven by c")
  data = path.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
