"""Which optimiser moves which variables, and by what gradient: --reference_ortho_grads (the
orthogonal variables) and --info_trains_trunk (D's trunk).

The released code's private orthogonal steps leave their gradient in `.grad`; D's Adam then steps
the two orthogonal variables on the gradient of the last D-step call (the gradient-penalty call),
and the info Adam on info gradient + the gradient of the info call's private step.
"""

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.config import TrainConfig
from oogan_tf.trainer import new_trainer
from recording import record_applies
from tiny import TINY_MODEL

TINY = TINY_MODEL


def _trainer(**kw):
  cfg = TrainConfig(model=TINY, batch_size=8, train_steps=1, **kw)
  return new_trainer(cfg)


def _record(trainer):
  """Runs one eager iteration; returns (private-step gradients per call, applied grads per opt)."""
  steps = []
  ortho = trainer.ortho
  original_step = ortho.step_with_gradients

  def recording_step(*args, **kwargs):
    values, grads = original_step(*args, **kwargs)
    steps.append([None if g is None else g.numpy() for g in grads])
    return values, grads

  ortho.step_with_gradients = recording_step
  applied = record_applies(trainer)
  real = tf.random.stateless_uniform((8, 32, 32, 1), (1, 2), -1.0, 1.0)
  trainer.replica_step(real)
  return steps, applied


_RUNS = {}


def _run(**kw):
  """One recorded iteration per configuration, shared by the tests (trainer, steps, applied)."""
  key = tuple(sorted(kw.items()))
  if key not in _RUNS:
    trainer = _trainer(**kw)
    _RUNS[key] = (trainer, *_record(trainer))
  return _RUNS[key]


@pytest.mark.parametrize("reference", [False, True])
def test_d_optimizer_holds_the_orthogonal_variables_only_in_reference_mode(reference):
  trainer = _trainer(reference_ortho_grads=reference)
  ids = {id(v) for v in trainer.d_variables}
  assert all((id(v) in ids) == reference for v in trainer.ortho.variables)
  assert not any(id(v) in {id(g) for g in trainer.g_variables} for v in trainer.ortho.variables)


def test_d_step_moves_orthogonal_variables_by_the_gradient_penalty_calls_private_gradient():
  trainer, steps, applied = _run(reference_ortho_grads=True)
  assert len(steps) == 5  # real, fake, interpolates, G step, info step
  # The D loss does not reach the Q head, so D's Adam sees exactly the third call's gradient.
  for var, expected in zip(trainer.ortho.variables, steps[2]):
    assert np.abs(expected).max() > 0
    np.testing.assert_array_equal(applied["opt_d"][id(var)], expected)
  assert not any(id(v) in applied["opt_g"] for v in trainer.ortho.variables)


def test_d_step_without_reference_gives_no_orthogonal_gradient_to_d():
  trainer, _, applied = _run(reference_ortho_grads=False)
  assert not any(id(v) in applied["opt_d"] for v in trainer.ortho.variables)


@pytest.mark.parametrize("reference", [False, True])
def test_info_step_adds_the_info_calls_private_gradient(reference):
  # With both info weights 0 the info loss has zero gradient, so what the info Adam gets for the
  # orthogonal variables is exactly the leftover: the fifth call's gradient, or zero.
  trainer, steps, applied = _run(reference_ortho_grads=reference, lambda_info=0.0,
                                 gamma_onehot=0.0)
  for var, expected in zip(trainer.ortho.variables, steps[4]):
    got = applied["opt_info"][id(var)]
    if reference:
      np.testing.assert_array_equal(got, expected)
    else:
      assert got is None or not np.any(got)


def test_info_step_keeps_the_info_gradient_beside_the_leftover():
  trainer, steps, applied = _run(reference_ortho_grads=True)
  for var, leftover in zip(trainer.ortho.variables, steps[4]):
    info_part = applied["opt_info"][id(var)] - leftover
    assert np.abs(info_part).max() > 0


def test_disabled_regularisation_leaves_no_gradient_in_reference_mode():
  trainer = _trainer(reference_ortho_grads=True, orthogonal_reg=False)
  assert not trainer.leftover_ortho_grads
  assert not any(id(v) in {id(d) for d in trainer.d_variables} for v in trainer.ortho.variables)


@pytest.mark.parametrize("trunk", [False, True])
def test_info_adam_steps_the_trunk_on_the_info_gradient_only_with_info_trains_trunk(trunk):
  trainer, _, applied = _run(info_trains_trunk=trunk)
  trunk_vars = trainer.discriminator.trunk.trainable_variables
  info_ids = {id(v) for v in trainer.info_variables}
  assert all((id(v) in info_ids) == trunk for v in trunk_vars)
  # D's Adam holds the trunk either way; the real/fake head never reaches the info Adam.
  assert all(id(v) in applied["opt_d"] for v in trunk_vars)
  head = trainer.discriminator.real_fake_head.trainable_variables
  assert not any(id(v) in applied["opt_info"] for v in head)
  if trunk:
    grads = [applied["opt_info"][id(v)] for v in trunk_vars]
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    # The information loss reaches every trunk layer's kernel (a non-zero gradient).
    kernels = [g for g, v in zip(grads, trunk_vars) if "kernel" in v.name]
    assert kernels and all(np.abs(g).max() > 0 for g in kernels)
  else:
    assert not any(id(v) in applied["opt_info"] for v in trunk_vars)
