"""How the information loss reaches the networks: --info_update=joint (InfoGAN's weighting),
--d_lr_ratio and --info_noise. Which Adam moves what, by what loss.

In joint mode there is no info step: D's Adam holds the Q head and steps it (and the trunk) on
hinge + gradient penalty + information loss, G's Adam steps G on its adversarial loss + the
information loss, and the info Adam is never applied (unless it holds InfoGAN-CR's H).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.config import TrainConfig
from oogan_tf.trainer import new_trainer
from recording import record_applies
from tiny import TINY_MODEL

_REAL = tf.random.stateless_uniform((8, 32, 32, 1), (3, 4), -1.0, 1.0)


def _trainer(**kw):
  return new_trainer(TrainConfig(**{"model": TINY_MODEL, "batch_size": 8, "train_steps": 1,
                                    **kw}))


_RUNS = {}


def _run(**kw):
  """One recorded eager iteration per configuration: (trainer, applied, metrics)."""
  key = tuple(sorted(kw.items()))
  if key not in _RUNS:
    trainer = _trainer(**kw)
    applied = record_applies(trainer)
    metrics = trainer.replica_step(_REAL)
    _RUNS[key] = (trainer, applied, {k: float(v) for k, v in metrics.items()})
  return _RUNS[key]


def _ids(variables):
  return {id(v) for v in variables}


def test_joint_mode_puts_the_q_head_in_ds_adam_and_runs_no_info_step():
  trainer, applied, _ = _run(info_update="joint")
  q_head = trainer.discriminator.q_head.trainable_variables
  assert q_head and _ids(q_head) <= _ids(trainer.d_variables)
  assert trainer.info_variables == []
  assert "opt_info" not in applied  # the info Adam is never applied
  grads = [applied["opt_d"][id(v)] for v in q_head]
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  assert any(np.abs(g).max() > 0 for g in grads)


def test_separate_mode_keeps_the_q_head_out_of_ds_adam():
  trainer, applied, _ = _run()
  assert not _ids(trainer.discriminator.q_head.trainable_variables) & _ids(trainer.d_variables)
  assert "opt_info" in applied


def _d_and_g_grads(**kw):
  trainer, applied, _ = _run(**kw)
  d = trainer.discriminator
  trunk = [applied["opt_d"][id(v)] for v in d.trunk.trainable_variables]
  g = [applied["opt_g"][id(v)] for v in trainer.g_variables]
  return trunk, g


def test_joint_information_loss_moves_the_trunk_and_g_and_its_weights_act():
  # Same iteration, same initial weights (the seed), only the information weights differ: the
  # gradients D's and G's Adams get must differ, and with both weights 0 equal separate mode's.
  trunk_on, g_on = _d_and_g_grads(info_update="joint")
  trunk_off, g_off = _d_and_g_grads(info_update="joint", lambda_info=0.0, gamma_onehot=0.0)
  trunk_sep, g_sep = _d_and_g_grads(lambda_info=0.0, gamma_onehot=0.0)
  assert max(np.abs(a - b).max() for a, b in zip(trunk_on, trunk_off)) > 0
  assert max(np.abs(a - b).max() for a, b in zip(g_on, g_off) if a is not None) > 0
  for a, b in zip(trunk_off, trunk_sep):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  for a, b in zip(g_off, g_sep):
    if a is not None:
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_joint_metrics_report_the_adversarial_and_information_parts():
  _, _, m = _run(info_update="joint")
  assert np.isfinite(m["loss/info"]) and m["loss/info"] != 0
  # loss/d_total = hinge + gp_weight * gp + the information loss of the D step's batch.
  assert m["loss/d_total"] != pytest.approx(m["loss/d_hinge"] + 10.0 * m["loss/gradient_penalty"])


def test_joint_contrastive_steps_h_alone_in_the_info_adam_at_ds_rate():
  trainer, applied, m = _run(info_update="joint", cr_weight=1.0, d_lr_ratio=2.0)
  h_vars = trainer.contrastive.trainable_variables
  assert h_vars and _ids(trainer.info_variables) == _ids(h_vars)
  assert not _ids(h_vars) & (_ids(trainer.d_variables) | _ids(trainer.g_variables))
  assert set(applied["opt_info"]) == _ids(h_vars)
  grads = list(applied["opt_info"].values())
  assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
  assert any(np.abs(g).max() > 0 for g in grads)
  assert float(trainer.opt_info.learning_rate) == pytest.approx(float(trainer.opt_d.learning_rate))
  assert np.isfinite(m["loss/contrastive"]) and m["loss/contrastive"] > 0


def test_joint_contrastive_term_reaches_g_only_from_cr_start_step():
  _, g_plain = _d_and_g_grads(info_update="joint")
  _, g_on = _d_and_g_grads(info_update="joint", cr_weight=1.0)
  _, g_gated = _d_and_g_grads(info_update="joint", cr_weight=1.0, cr_start_step=5)
  assert max(np.abs(a - b).max() for a, b in zip(g_on, g_plain) if a is not None) > 0
  for a, b in zip(g_gated, g_plain):
    if a is not None:
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_d_lr_ratio_sets_only_ds_learning_rate(ratio):
  trainer = _trainer(d_lr_ratio=ratio)
  assert float(trainer.opt_d.learning_rate) == pytest.approx(1e-4 * ratio)
  assert float(trainer.opt_g.learning_rate) == pytest.approx(1e-4)
  assert float(trainer.opt_info.learning_rate) == pytest.approx(1e-4)


def test_info_noise_changes_only_the_info_steps_gradient():
  _, clean, _ = _run()
  _, noisy, _ = _run(info_noise=0.5)
  _, again, _ = _run(info_noise=0.5, seed=0)  # a second trainer: the noise is keyed, not stateful
  # D and G steps come before the info step: untouched by the noise.
  for name in ("opt_d", "opt_g"):
    for a, b in zip(clean[name].values(), noisy[name].values()):
      if a is not None:
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  clean_info, noisy_info = list(clean["opt_info"].values()), list(noisy["opt_info"].values())
  assert max(np.abs(a - b).max() for a, b in zip(clean_info, noisy_info) if a is not None) > 0
  for a, b in zip(noisy_info, again["opt_info"].values()):
    if a is not None:
      np.testing.assert_array_equal(a, b)


def test_point_q_loss_squared_reaches_the_information_term():
  point = dataclasses.replace(TINY_MODEL, probabilistic_q=False)
  _, _, l1 = _run(model=point)
  _, _, squared = _run(model=point, point_q_loss="squared")
  # Same seed, same first forward: only the reconstruction's form differs. For codes and
  # predictions in [0, 1] 1/2 e^2 < |e| whenever 0 < |e| < 2, so the squared loss is smaller.
  assert 0 < squared["loss/info_reconstruction"] < l1["loss/info_reconstruction"]
  assert squared["loss/d_total"] == pytest.approx(l1["loss/d_total"], rel=1e-5)


@pytest.mark.parametrize("kw, message", [
    ({"point_q_loss": "squared"},
     "--point_q_loss=squared is not allowed with --probabilistic_q=true"),
    ({"point_q_loss": "l2"}, "--point_q_loss='l2' is not allowed"),
    ({"info_update": "both"}, "--info_update='both' is not allowed"),
    ({"info_update": "joint", "info_trains_trunk": True},
     "--info_trains_trunk=true is not allowed with --info_update=joint"),
    ({"info_update": "joint", "reference_ortho_grads": True},
     "--reference_ortho_grads=true is not allowed with --info_update=joint"),
    ({"info_update": "joint", "info_noise": 0.5},
     "--info_noise=0.5 is not allowed with --info_update=joint"),
    ({"info_noise": -0.1}, "--info_noise=-0.1 is not allowed"),
    ({"d_lr_ratio": 0.0}, "--d_lr_ratio=0.0 is not allowed"),
    ({"d_lr_ratio": float("inf")}, "--d_lr_ratio=inf is not allowed"),
])
def test_bad_values_are_refused(kw, message):
  with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
    TrainConfig(model=TINY_MODEL, **kw)
