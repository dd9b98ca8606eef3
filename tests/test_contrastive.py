"""The contrastive regulariser (--cr_weight, InfoGAN-CR): pair sampling, H's shapes, which Adam
moves what, the checkpoint, and the config's refusals."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import codes
from oogan_tf.config import TrainConfig
from oogan_tf.models import ModelConfig
from oogan_tf.models.contrastive import ContrastiveHead
from oogan_tf.trainer import CONTRASTIVE_KEY, new_trainer
from recording import record_applies
from tiny import TINY_MODEL

B, C, Z = 64, 6, 5


def test_pairs_share_exactly_the_labelled_code():
  p = codes.sample_contrastive_pairs(codes.step_key(3, 7, 4), B, C, Z)
  c, shared = p.c.numpy(), p.shared.numpy()
  assert c.shape == (2, B, C) and p.z.shape == (2, B, Z) and shared.shape == (B,)
  assert c.min() >= 0.0 and c.max() < 1.0
  same = np.isclose(c[0], c[1])
  np.testing.assert_array_equal(same, np.eye(C, dtype=bool)[shared])
  assert len(set(shared.tolist())) > 1 and shared.min() >= 0 and shared.max() < C
  assert not np.allclose(p.z[0].numpy(), p.z[1].numpy())
  np.testing.assert_array_equal(p.category.numpy(), 0)


def test_pairs_are_deterministic_per_key_and_shard_by_pair():
  key = codes.step_key(0, 11, 4)
  a = codes.sample_contrastive_pairs(key, B, C, Z, cat_dim=3)
  b = codes.sample_contrastive_pairs(key, B, C, Z, cat_dim=3)
  np.testing.assert_array_equal(a.c.numpy(), b.c.numpy())
  assert a.category.numpy().max() == 2
  part = a.shard(16, 8)
  np.testing.assert_array_equal(part.c.numpy(), a.c.numpy()[:, 16:24])
  np.testing.assert_array_equal(part.shared.numpy(), a.shared.numpy()[16:24])
  other = codes.sample_contrastive_pairs(codes.step_key(0, 12, 4), B, C, Z)
  assert not np.allclose(other.c.numpy(), a.c.numpy())


@pytest.mark.parametrize("size", [32, 64])
def test_head_maps_a_pair_to_one_logit_per_code(size):
  cfg = dataclasses.replace(TINY_MODEL, image_size=size)
  h = ContrastiveHead(cfg).build_for()
  logits = h(tf.zeros((3, size, size, 2 * cfg.channels)), training=False)
  assert logits.shape == (3, cfg.c_dim) and logits.dtype == tf.float32


_RUNS = {}


def _one_iteration(cr_weight):
  """(trainer, {optimiser name: {id(variable): gradient}}, metrics) after one eager iteration."""
  if cr_weight not in _RUNS:
    trainer = new_trainer(TrainConfig(model=TINY_MODEL, batch_size=8, train_steps=1,
                                      cr_weight=cr_weight))
    applied = record_applies(trainer)
    real = tf.random.stateless_uniform((8, 32, 32, 1), (1, 2), -1.0, 1.0)
    metrics = trainer.replica_step(real)
    _RUNS[cr_weight] = (trainer, applied, metrics)
  return _RUNS[cr_weight]


def test_h_joins_the_info_adam_and_is_stepped_on_the_pair_cross_entropy():
  trainer, applied, metrics = _one_iteration(2.0)
  h_vars = trainer.contrastive.trainable_variables
  info = applied["opt_info"]
  expected = (trainer.generator.trainable_variables +
              trainer.discriminator.q_head.trainable_variables + h_vars)
  assert set(info) == {id(v) for v in expected}
  kernels = [info[id(v)] for v in h_vars if "kernel" in v.name]
  assert kernels and all(g is not None and np.abs(g).max() > 0 for g in kernels)
  assert not any(id(v) in applied[name] for v in h_vars for name in ("opt_d", "opt_g"))
  # An untrained H is near chance: CE ~ log(C).
  ce = float(metrics[CONTRASTIVE_KEY])
  assert abs(ce - np.log(TINY_MODEL.c_dim)) < 0.5


def test_g_gets_the_regulariser_gradient_from_the_start_step_h_always():
  trainer = new_trainer(TrainConfig(model=TINY_MODEL, batch_size=8, train_steps=1,
                                    cr_weight=1.0, cr_start_step=5))
  g_vars = trainer.generator.trainable_variables
  h_vars = trainer.contrastive.trainable_variables
  key = codes.step_key(0, 0, 4)
  for n, g_moves in ((4, False), (5, True)):
    with tf.GradientTape() as tape:
      ce = trainer._contrastive_loss(key, tf.constant(n, tf.int64), 0, 8)  # pylint: disable=protected-access
    g_grads, h_grads = tape.gradient(ce, [g_vars, h_vars])
    g_total = sum(float(tf.reduce_sum(tf.abs(g))) for g in g_grads if g is not None)
    assert (g_total > 0) == g_moves, n
    assert all(g is not None for g in h_grads)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in h_grads) > 0


def test_contrastive_network_is_checkpointed_only_when_on(tmp_path):
  trainer, _, _ = _one_iteration(2.0)
  path = trainer.checkpoint().save(str(tmp_path / "ckpt"))
  names = [n for n, _ in tf.train.list_variables(path)]
  assert any(n.startswith("contrastive/") for n in names)
  off, _, metrics = _one_iteration(0.0)
  assert off.contrastive is None and CONTRASTIVE_KEY not in metrics
  assert len(off.info_variables) == len(trainer.info_variables) - len(
      trainer.contrastive.trainable_variables)


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_a_bad_weight_is_refused(value):
  with pytest.raises(ValueError, match="--cr_weight=.* is not allowed"):
    TrainConfig(model=TINY_MODEL, cr_weight=value)


def test_stylegan_refuses_the_regulariser():
  model = ModelConfig(g_type="stylegan", q_type="stylegan", image_size=32, channels=1,
                      c_dim=4, z_dim=4, ngf=4, ndf=4)
  with pytest.raises(ValueError, match="--cr_weight=1.0 is not allowed with --g_type=stylegan"):
    TrainConfig(model=model, cr_weight=1.0)

