"""--jacobian_ortho_weight: the squared cosines between the image changes of different codes
(losses.jacobian_orthogonality), what the trainer feeds it and where its gradient goes.
(Its refusal with the StyleGAN trainer is in test_stylegan.py.)"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import codes as codes_lib
from oogan_tf import config_flags, losses
from oogan_tf.config import TrainConfig
from oogan_tf.trainer import JACOBIAN_KEY, new_trainer
from recording import record_applies
from tiny import TINY_MODEL

_REAL = tf.random.stateless_uniform((8, 32, 32, 1), (5, 6), -1.0, 1.0)


def test_orthogonal_columns_score_zero_and_identical_ones_one():
  eye = tf.eye(3, 10)[None]  # one sample, 3 codes changing 3 different pixels
  assert float(losses.jacobian_orthogonality(eye)) == pytest.approx(0.0, abs=1e-7)
  same = tf.ones((2, 3, 10))
  assert float(losses.jacobian_orthogonality(same)) == pytest.approx(1.0, rel=1e-6)
  # Opposite changes are as coupled as equal ones.
  flipped = tf.constant([[[1.0, 2.0, 0.0], [-1.0, -2.0, 0.0]]])
  assert float(losses.jacobian_orthogonality(flipped)) == pytest.approx(1.0, rel=1e-6)


def test_value_is_a_mean_of_squared_cosines_and_ignores_scale():
  rng = np.random.default_rng(0)
  cols = rng.normal(size=(4, 3, 20)).astype(np.float32)
  expected = np.mean([(cols[s, i] @ cols[s, j]) ** 2 /
                      ((cols[s, i] @ cols[s, i]) * (cols[s, j] @ cols[s, j]))
                      for s in range(4) for i in range(3) for j in range(3) if i != j])
  value = float(losses.jacobian_orthogonality(cols))
  assert value == pytest.approx(expected, rel=1e-5)
  scaled = cols * np.array([1.0, 30.0, 0.01], np.float32)[None, :, None]
  assert float(losses.jacobian_orthogonality(scaled)) == pytest.approx(expected, rel=1e-4)


def test_a_code_that_changes_nothing_gives_finite_gradients():
  cols = tf.Variable([[[1.0, 0.5, 0.0], [0.0, 0.0, 0.0]]])
  with tf.GradientTape() as tape:
    value = losses.jacobian_orthogonality(cols)
  grad = tape.gradient(value, cols)
  assert float(value) == pytest.approx(0.0, abs=1e-7)
  assert np.all(np.isfinite(grad.numpy()))


def _trainer(weight, model=TINY_MODEL):
  return new_trainer(TrainConfig(model=model, batch_size=8, train_steps=1,
                                 jacobian_ortho_weight=weight))


def test_the_term_reaches_gs_adam_with_its_weight_and_nothing_else():
  """G's gradient with the term minus G's gradient without it is weight x the gradient of the
  term on the G step's first samples; D's gradients (the D step comes first) do not change."""
  weight = 0.5
  with_term, without = _trainer(weight), _trainer(0.0)
  reference = _trainer(weight)  # same seed: same initial weights, stepped by nobody
  cfg = reference.cfg
  m = cfg.model
  sample = codes_lib.sample_codes(codes_lib.step_key(cfg.seed, 0, 0), 0, cfg.batch_size,
                                  m.c_dim, m.z_dim, cfg.code_schedule, m.cat_dim)
  code = codes_lib.generator_code(sample.c, sample.category, m.cat_dim)
  g_vars = reference.g_variables
  with tf.GradientTape() as tape:
    term = reference._jacobian_orthogonality(code, sample.z)  # pylint: disable=protected-access
  expected = tape.gradient(term, g_vars)
  assert 0.0 < float(term) < 1.0

  applied_with, applied_without = record_applies(with_term), record_applies(without)
  metrics = with_term.replica_step(_REAL)
  assert JACOBIAN_KEY not in without.replica_step(_REAL)
  assert float(metrics[JACOBIAN_KEY]) == pytest.approx(float(term), rel=1e-5)
  moved = 0
  for v_with, v_without, grad in zip(with_term.g_variables, without.g_variables, expected):
    difference = applied_with["opt_g"][id(v_with)] - applied_without["opt_g"][id(v_without)]
    target = 0.0 if grad is None else weight * grad.numpy()
    np.testing.assert_allclose(difference, target, atol=1e-5, rtol=1e-3)
    moved += int(np.abs(target).max() > 1e-7)
  assert moved > 0
  for v_with, v_without in zip(with_term.d_variables, without.d_variables):
    np.testing.assert_array_equal(applied_with["opt_d"][id(v_with)],
                                  applied_without["opt_d"][id(v_without)])


def test_the_trainer_moves_each_continuous_code_alone():
  """The columns are G's image changes per code. In an MLP-input G whose first layer reads codes
  0 and 1 through the same weights and ignores code 2, columns 0 and 1 are equal and column 2 is
  zero: of the 3 x 2 ordered pairs exactly (0, 1) and (1, 0) have cosine^2 1, so the term is 1/3.
  """
  trainer = _trainer(1.0, dataclasses.replace(TINY_MODEL, g_type="mlp"))
  m = trainer.cfg.model
  code = tf.random.stateless_uniform((8, m.c_dim), (1, 2))
  z = tf.random.stateless_normal((8, m.z_dim), (3, 4))
  first = next(v for v in trainer.generator.trainable_variables if len(v.shape) == 2)
  assert first.shape[0] == m.c_dim + m.z_dim == 7  # rows: [code (3), z (4)]
  untouched = float(trainer._jacobian_orthogonality(code, z))  # pylint: disable=protected-access
  kernel = first.numpy()
  kernel[1] = kernel[0]
  kernel[2] = 0.0
  first.assign(kernel)
  value = float(trainer._jacobian_orthogonality(code, z))  # pylint: disable=protected-access
  assert value == pytest.approx(1.0 / 3.0, abs=1e-4)
  assert abs(untouched - 1.0 / 3.0) > 0.05


def test_weight_is_validated():
  with pytest.raises(ValueError, match="--jacobian_ortho_weight=-1"):
    TrainConfig(model=TINY_MODEL, jacobian_ortho_weight=-1.0)
  cfg = config_flags.config_from_args(["--jacobian_ortho_weight=0.25"])
  assert cfg.jacobian_ortho_weight == 0.25
