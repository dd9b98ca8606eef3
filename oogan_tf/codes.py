"""Sampling of the control code c and the noise z, by iteration, for the three schedules.

Schedules (reference-notes section 5 and the discrepancy table, row 7):
* "reference" (released code, default): iteration n mod 4 == 0 -> "dominant" (every entry
  U(0.2, 0.6), then one dimension k drawn once per batch set to 1; CE target k, weight 0.2);
  n mod 4 == 2 -> "one_hot" (exact one-hot, k drawn per sample; weight 0.8); n odd -> "uniform"
  (U(0, 1); no CE target, weight 0).
* "paper": n odd -> uniform, n even -> one-hot per sample with CE weight 1 (the paper's 50/50
  alternation).
* "uniform": always uniform, never a CE target (the "without one-hot sampling" ablation).

With a categorical code (K = cat_dim > 0) each sample also draws a category k ~ U{0, ..., K-1} in
every regime; G takes [c | one_hot(k)] (generator_code). z ~ N(0, I_Z) is drawn fresh on every
call. Draws are stateless: they depend only on a key
derived from (run seed, iteration, purpose), so a resumed run, or the same global batch split over
several replicas, draws exactly the same codes. All functions work inside a compiled step with the
iteration as a tensor.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from oogan_tf.config import SCHEDULES

UNIFORM, ONE_HOT, DOMINANT = 0, 1, 2
# CE weight per regime, per schedule.
CE_WEIGHTS = {
    "reference": {UNIFORM: 0.0, ONE_HOT: 0.8, DOMINANT: 0.2},
    "paper": {UNIFORM: 0.0, ONE_HOT: 1.0, DOMINANT: 0.0},
    "uniform": {UNIFORM: 0.0, ONE_HOT: 0.0, DOMINANT: 0.0},
}
NO_TARGET = -1


@dataclasses.dataclass(frozen=True)
class CodeSample:
  """One draw of generator inputs and the one-hot supervision that goes with it.

  Attributes:
    c: float32 [B, C], values in [0, 1].
    z: float32 [B, Z], standard normal.
    target: int32 [B], the one-hot class per sample in [0, C), or -1 (NO_TARGET) in the uniform
      regime.
    ce_weight: float32 scalar weight of the one-hot cross-entropy for this regime.
    regime: int32 scalar, UNIFORM / ONE_HOT / DOMINANT.
    category: int32 [B], the categorical code in [0, K) (zeros when K = 0: no categorical code).
  """

  c: tf.Tensor
  z: tf.Tensor
  target: tf.Tensor
  ce_weight: tf.Tensor
  regime: tf.Tensor
  category: tf.Tensor

  def shard(self, start, size: int) -> "CodeSample":
    """Rows [start, start + size) of a global-batch draw (one replica's share)."""
    rows = slice(start, start + size)
    return dataclasses.replace(self, c=self.c[rows], z=self.z[rows], target=self.target[rows],
                               category=self.category[rows])


def _check_schedule(schedule: str) -> None:
  if schedule not in SCHEDULES:
    raise ValueError(f"code schedule {schedule!r} is not allowed; choose one of "
                     f"{', '.join(SCHEDULES)}")


def regime_for(iteration, schedule: str) -> tf.Tensor:
  """The regime (int32 scalar tensor) used at `iteration` (int scalar, Python or tensor)."""
  _check_schedule(schedule)
  n = tf.cast(iteration, tf.int64)
  odd = tf.equal(n % 2, 1)
  if schedule == "uniform":
    return tf.constant(UNIFORM, tf.int32)
  if schedule == "paper":
    return tf.where(odd, UNIFORM, ONE_HOT)
  return tf.where(odd, UNIFORM, tf.where(tf.equal(n % 4, 0), DOMINANT, ONE_HOT))


def step_key(seed: int, iteration, purpose: int) -> tf.Tensor:
  """The stateless-RNG key int64 [2] for one purpose (a small int < 16) at one iteration."""
  n = tf.cast(iteration, tf.int64)
  return tf.stack([tf.constant(seed, tf.int64), n * 16 + purpose])


def generator_code(c, category, cat_dim: int) -> tf.Tensor:
  """G's code input float32 [B, C + K]: c float [B, C] then one_hot(category int [B], K).

  With cat_dim 0 it is c itself."""
  c = tf.convert_to_tensor(c, tf.float32)
  if not cat_dim:
    return c
  return tf.concat([c, tf.one_hot(tf.cast(category, tf.int32), cat_dim)], axis=-1)


def sample_codes(key: tf.Tensor, iteration, batch_size: int, c_dim: int, z_dim: int,
                 schedule: str = "reference", cat_dim: int = 0) -> CodeSample:
  """Draws (c, z, one-hot target, CE weight) for one iteration.

  Args:
    key: int [2] stateless-RNG key (see step_key); the same key gives the same draw.
    iteration: int scalar (tensor or Python), the training iteration n; selects the regime.
    batch_size: B (per replica).
    c_dim: C >= 1.
    z_dim: Z >= 0.
    schedule: one of SCHEDULES.
    cat_dim: K >= 0; the categories come from their own key, so the other draws do not depend
      on K.
  Returns: a CodeSample.
  """
  regime = regime_for(iteration, schedule)
  keys = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 4)
  u = tf.random.stateless_uniform((batch_size, c_dim), keys[0])
  k_sample = tf.random.stateless_uniform((batch_size,), keys[1], 0, c_dim, dtype=tf.int32)
  k_batch = tf.random.stateless_uniform((), keys[2], 0, c_dim, dtype=tf.int32)
  z = tf.random.stateless_normal((batch_size, z_dim), keys[3])

  one_hot_c = tf.one_hot(k_sample, c_dim)
  dominant_c = tf.where(tf.equal(tf.range(c_dim), k_batch)[None, :], 1.0, 0.2 + 0.4 * u)
  c = tf.switch_case(regime, [lambda: u, lambda: one_hot_c, lambda: dominant_c])
  no_target = tf.fill((batch_size,), NO_TARGET)
  target = tf.switch_case(regime, [lambda: no_target, lambda: k_sample,
                                   lambda: tf.fill((batch_size,), k_batch)])
  weights = CE_WEIGHTS[schedule]
  ce_weight = tf.gather(tf.constant([weights[UNIFORM], weights[ONE_HOT], weights[DOMINANT]]),
                        regime)
  if cat_dim:
    category = tf.random.stateless_uniform(
        (batch_size,), tf.random.experimental.stateless_fold_in(tf.cast(key, tf.int64), 4), 0,
        cat_dim, dtype=tf.int32)
  else:
    category = tf.zeros((batch_size,), tf.int32)
  return CodeSample(c=c, z=z, target=target, ce_weight=ce_weight, regime=regime,
                    category=category)


def instance_noise(shape, iteration, steps: int, key: tf.Tensor) -> tf.Tensor:
  """Instance noise for real images: sigma * N(0, 1) of `shape` (the global batch), sigma
  falling linearly from 1 at iteration 0 to 0 at `steps` (> 0), drawn from `key` (step_key)."""
  t = float(steps)
  sigma = tf.maximum(0.0, (t - tf.cast(iteration, tf.float32)) / t)
  return sigma * tf.random.stateless_normal(shape, key)


@dataclasses.dataclass(frozen=True)
class ContrastivePairs:
  """Image pairs for the contrastive regulariser: pair b shares code `shared[b]`, nothing else.

  Attributes:
    c: float32 [2, B, C] in [0, 1]: c[0, b] and c[1, b] are independent U(0, 1)^C draws except
      in dimension shared[b], where both take c[0, b, shared[b]].
    z: float32 [2, B, Z], independent standard normals.
    shared: int32 [B] in [0, C), the shared code (the regulariser's class label).
    category: int32 [2, B], independent categorical codes (zeros when K = 0).
  """

  c: tf.Tensor
  z: tf.Tensor
  shared: tf.Tensor
  category: tf.Tensor

  def shard(self, start, size: int) -> "ContrastivePairs":
    """Pairs [start, start + size) of a global-batch draw (one replica's share)."""
    rows = slice(start, start + size)
    return ContrastivePairs(c=self.c[:, rows], z=self.z[:, rows], shared=self.shared[rows],
                            category=self.category[:, rows])


def sample_contrastive_pairs(key: tf.Tensor, batch_size: int, c_dim: int, z_dim: int,
                             cat_dim: int = 0) -> ContrastivePairs:
  """Draws B pairs for the contrastive regulariser from the stateless key int [2] (step_key).

  Uniform codes in every iteration (no one-hot regime): the regulariser asks which single code a
  pair of ordinary samples has in common.
  """
  keys = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 4)
  c = tf.random.stateless_uniform((2, batch_size, c_dim), keys[0])
  shared = tf.random.stateless_uniform((batch_size,), keys[1], 0, c_dim, dtype=tf.int32)
  is_shared = tf.one_hot(shared, c_dim, on_value=True, off_value=False, dtype=tf.bool)
  c = tf.stack([c[0], tf.where(is_shared, c[0], c[1])])
  z = tf.random.stateless_normal((2, batch_size, z_dim), keys[2])
  if cat_dim:
    category = tf.random.stateless_uniform((2, batch_size), keys[3], 0, cat_dim, dtype=tf.int32)
  else:
    category = tf.zeros((2, batch_size), tf.int32)
  return ContrastivePairs(c=c, z=z, shared=shared, category=category)
