"""Code sampling: regimes, ranges, per-sample vs per-batch dimension and CE weight per schedule."""

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import codes

B, C, Z = 64, 6, 5


def _draw(n, schedule, seed=0):
  s = codes.sample_codes(codes.step_key(seed, n, 0), tf.constant(n, tf.int64), B, C, Z, schedule)
  return s, s.c.numpy(), s.target.numpy(), float(s.ce_weight)


@pytest.mark.parametrize("n", [0, 4, 8, 100])
def test_reference_dominant_regime(n):
  s, c, t, w = _draw(n, "reference")
  assert int(s.regime) == codes.DOMINANT and w == pytest.approx(0.2)
  assert len(set(t.tolist())) == 1  # one dimension per batch
  k = t[0]
  np.testing.assert_array_equal(c[:, k], 1.0)
  others = np.delete(c, k, axis=1)
  assert others.min() >= 0.2 and others.max() <= 0.6 and others.std() > 0.05


@pytest.mark.parametrize("n", [2, 6, 10])
def test_reference_one_hot_regime(n):
  s, c, t, w = _draw(n, "reference")
  assert int(s.regime) == codes.ONE_HOT and w == pytest.approx(0.8)
  np.testing.assert_array_equal(c, np.eye(C)[t])
  assert len(set(t.tolist())) > 1  # drawn per sample
  assert t.min() >= 0 and t.max() < C


@pytest.mark.parametrize("n", [1, 3, 5, 7])
@pytest.mark.parametrize("schedule", ["reference", "paper"])
def test_odd_iterations_are_uniform(n, schedule):
  s, c, t, w = _draw(n, schedule)
  assert int(s.regime) == codes.UNIFORM and w == 0.0
  assert c.min() >= 0.0 and c.max() <= 1.0 and c.std() > 0.2
  np.testing.assert_array_equal(t, codes.NO_TARGET)


@pytest.mark.parametrize("n", [0, 2, 4])
def test_paper_schedule_even_is_one_hot_weight_one(n):
  s, c, t, w = _draw(n, "paper")
  assert int(s.regime) == codes.ONE_HOT and w == 1.0
  np.testing.assert_array_equal(c, np.eye(C)[t])


@pytest.mark.parametrize("n", range(8))
def test_uniform_schedule_never_emits_targets(n):
  s, c, t, w = _draw(n, "uniform")
  assert int(s.regime) == codes.UNIFORM and w == 0.0
  np.testing.assert_array_equal(t, codes.NO_TARGET)
  assert c.min() >= 0.0 and c.max() <= 1.0


def test_z_is_standard_normal_and_shapes():
  s, c, _, _ = _draw(1, "reference")
  z = s.z.numpy()
  assert c.shape == (B, C) and z.shape == (B, Z) and s.target.shape == (B,)
  assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2


def test_compiled_with_tensor_iteration_and_deterministic():
  @tf.function
  def draw(n):
    s = codes.sample_codes(codes.step_key(3, n, 0), n, B, C, Z, "reference")
    return s.c, s.target, s.ce_weight

  outs = [draw(tf.constant(n, tf.int64)) for n in range(4)]
  assert draw.experimental_get_tracing_count() == 1
  assert [float(o[2]) for o in outs] == pytest.approx([0.2, 0.0, 0.8, 0.0])
  again = draw(tf.constant(0, tf.int64))
  np.testing.assert_array_equal(again[0].numpy(), outs[0][0].numpy())
  other = codes.sample_codes(codes.step_key(3, 0, 1), 0, B, C, Z, "reference")
  assert not np.array_equal(other.c.numpy(), outs[0][0].numpy())


def test_unknown_schedule():
  with pytest.raises(ValueError, match="'sometimes'.*reference, paper, uniform"):
    codes.regime_for(0, "sometimes")
