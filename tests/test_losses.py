"""Losses against hand-computed numpy values; gradient penalty against finite differences."""

import math

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import losses


def test_hinge_losses():
  real = np.array([2.0, 0.5, -1.0], np.float32)
  fake = np.array([-2.0, 0.0, 0.3, 1.0], np.float32)
  expected_d = np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
  assert float(losses.d_hinge_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
  assert float(losses.g_hinge_loss(fake)) == pytest.approx(-np.mean(fake), rel=1e-6)


def test_gaussian_nll_and_l1():
  c = np.array([[0.2, 0.9], [0.5, 0.1]], np.float32)
  mu = np.array([[0.0, 1.0], [0.4, -0.2]], np.float32)
  ls = np.array([[0.1, -0.5], [0.0, 0.3]], np.float32)
  expected = np.mean(0.5 * ((c - mu) ** 2 * np.exp(-2 * ls) + 2 * ls + math.log(2 * math.pi)))
  assert float(losses.gaussian_nll(c, mu, ls)) == pytest.approx(expected, rel=1e-6)
  assert float(losses.l1_loss(c, mu)) == pytest.approx(np.mean(np.abs(c - mu)), rel=1e-6)
  assert float(losses.squared_loss(c, mu)) == pytest.approx(np.mean(0.5 * (c - mu) ** 2),
                                                            rel=1e-6)
  # code_reconstruction picks by what Q predicts and by point_loss.
  assert float(losses.code_reconstruction(c, mu, ls, "squared")) == pytest.approx(expected,
                                                                                  rel=1e-6)
  assert float(losses.code_reconstruction(c, mu, None)) == pytest.approx(
      np.mean(np.abs(c - mu)), rel=1e-6)
  assert float(losses.code_reconstruction(c, mu, None, "squared")) == pytest.approx(
      np.mean(0.5 * (c - mu) ** 2), rel=1e-6)
  with pytest.raises(ValueError, match="point_loss='l2' is not allowed"):
    losses.code_reconstruction(c, mu, None, "l2")


def test_one_hot_cross_entropy_weight_and_missing_targets():
  logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], np.float32)
  target = np.array([1, 2], np.int32)
  logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
  ce = -np.mean(logp[np.arange(2), target])
  assert float(losses.one_hot_cross_entropy(logits, target, 0.8)) == pytest.approx(0.8 * ce,
                                                                                  rel=1e-6)
  assert float(losses.one_hot_cross_entropy(logits, np.array([-1, -1]), 0.8)) == 0.0
  partial = float(losses.one_hot_cross_entropy(logits, np.array([1, -1]), 1.0))
  assert partial == pytest.approx(-logp[0, 1], rel=1e-6)


def test_orthogonality_floor_and_ceiling():
  q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(16, 16)))
  orthonormal = q[:6].astype(np.float32)
  assert float(losses.orthogonality_loss(orthonormal)) == pytest.approx(1 / 6, abs=1e-6)
  identical = np.tile(np.arange(1, 17, dtype=np.float32), (5, 1))
  assert float(losses.orthogonality_loss(identical)) == pytest.approx(1.0, abs=1e-6)
  rows = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
  unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
  assert float(losses.orthogonality_loss(rows)) == pytest.approx(np.mean((unit @ unit.T) ** 2),
                                                                 rel=1e-5)


def test_gradient_penalty_matches_finite_differences():
  rng = np.random.default_rng(0)
  w1 = tf.constant(rng.normal(size=(12, 5)), tf.float64)
  w2 = tf.constant(rng.normal(size=(5,)), tf.float64)

  def score_fn(x):
    h = tf.tanh(tf.reshape(x, (-1, 12)) @ w1)
    return tf.linalg.matvec(h, w2)

  x = rng.normal(size=(3, 2, 2, 3))
  gp = float(losses.gradient_penalty(lambda t: score_fn(tf.cast(t, tf.float64)),
                                     tf.constant(x, tf.float64), eps=0.0))
  # Central finite differences of each sample's score with respect to its own pixels.
  h = 1e-6
  norms = []
  for b in range(3):
    g = np.zeros(12)
    for i in range(12):
      xp, xm = x.copy(), x.copy()
      xp[b].flat[i] += h
      xm[b].flat[i] -= h
      g[i] = (score_fn(tf.constant(xp))[b] - score_fn(tf.constant(xm))[b]).numpy() / (2 * h)
    norms.append(np.linalg.norm(g))
  expected = np.mean((np.array(norms) - 1) ** 2)
  assert gp == pytest.approx(expected, rel=1e-5)


def test_nonsaturating_losses():
  real = np.array([2.0, 0.5, -1.0], np.float32)
  fake = np.array([-2.0, 0.0, 0.3, 1.0], np.float32)
  softplus = lambda x: np.log1p(np.exp(x))
  expected_d = np.mean(softplus(-real)) + np.mean(softplus(fake))
  assert float(losses.d_nonsaturating_loss(real, fake)) == pytest.approx(expected_d, rel=1e-6)
  assert float(losses.g_nonsaturating_loss(fake)) == pytest.approx(np.mean(softplus(-fake)),
                                                                    rel=1e-6)
  # -log sigmoid(s) is the same function.
  sigmoid = 1.0 / (1.0 + np.exp(-real))
  assert float(losses.g_nonsaturating_loss(real)) == pytest.approx(-np.mean(np.log(sigmoid)),
                                                                   rel=1e-6)


def test_trainer_uses_the_chosen_adversarial_loss():
  from oogan_tf.config import TrainConfig  # pylint: disable=g-import-not-at-top
  from oogan_tf.trainer import new_trainer  # pylint: disable=g-import-not-at-top
  from tiny import TINY_MODEL  # pylint: disable=g-import-not-at-top
  real = tf.random.stateless_uniform((8, 32, 32, 1), (3, 4), -1.0, 1.0)
  out = {}
  for kind in ("hinge", "nonsaturating"):
    trainer = new_trainer(TrainConfig(model=TINY_MODEL, batch_size=8, train_steps=1,
                                      gan_loss=kind, gp_weight=0.0))
    out[kind] = {k: float(v) for k, v in trainer.replica_step(real).items()}
  hinge, ns = out["hinge"], out["nonsaturating"]
  assert hinge["loss/g_adv"] == pytest.approx(-hinge["d/score_fake_g_step"], rel=1e-5)
  # softplus is convex (Jensen) and positive: bounds that the hinge values do not meet.
  softplus = lambda x: math.log1p(math.exp(x))
  assert ns["loss/g_adv"] >= softplus(-ns["d/score_fake_g_step"]) - 1e-6 > 0
  assert ns["loss/d_hinge"] >= (softplus(-ns["d/score_real"]) +
                                softplus(ns["d/score_fake"]) - 1e-6)


def test_gan_loss_is_validated():
  from oogan_tf.config import TrainConfig  # pylint: disable=g-import-not-at-top
  from tiny import TINY_MODEL  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="--gan_loss='wgan' is not allowed"):
    TrainConfig(model=TINY_MODEL, gan_loss="wgan")
