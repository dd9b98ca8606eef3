"""Sampling of the control code c and the noise z, by iteration, for the three schedules.

Schedules (reference-notes section 5 and the discrepancy table, row 7):
* "reference" (released code, default): iteration n mod 4 == 0 -> "dominant" (every entry
  U(0.2, 0.6), then one dimension k drawn once per batch set to 1; CE target k, weight 0.2);
  n mod 4 == 2 -> "one_hot" (exact one-hot, k drawn per sample; weight 0.8); n odd -> "uniform"
  (U(0, 1); no CE target, weight 0).
* "paper": n odd -> uniform, n even -> one-hot per sample with CE weight 1 (the paper's 50/50
  alternation).
* "uniform": always uniform, never a CE target (the "without one-hot sampling" ablation).

z ~ N(0, I_Z) is drawn fresh on every call. All functions work inside a compiled step with the
iteration as a tensor: every regime is drawn and one is selected, so the random stream advances by
the same amount each call (determinism across resumes).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

SCHEDULES = ("reference", "paper", "uniform")
UNIFORM, ONE_HOT, DOMINANT = 0, 1, 2
REGIME_NAMES = {UNIFORM: "uniform", ONE_HOT: "one_hot", DOMINANT: "dominant"}
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
  """

  c: tf.Tensor
  z: tf.Tensor
  target: tf.Tensor
  ce_weight: tf.Tensor
  regime: tf.Tensor


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


def sample_codes(rng: tf.random.Generator, iteration, batch_size: int, c_dim: int, z_dim: int,
                 schedule: str = "reference") -> CodeSample:
  """Draws (c, z, one-hot target, CE weight) for one iteration.

  Args:
    rng: the run's random generator (checkpointed with the run, so resumes are deterministic).
    iteration: int scalar (tensor or Python), the training iteration n.
    batch_size: B (per replica).
    c_dim: C >= 1.
    z_dim: Z >= 0.
    schedule: one of SCHEDULES.
  Returns: a CodeSample.
  """
  regime = regime_for(iteration, schedule)
  u = rng.uniform((batch_size, c_dim))
  k_sample = rng.uniform((batch_size,), 0, c_dim, dtype=tf.int32)
  k_batch = rng.uniform((), 0, c_dim, dtype=tf.int32)
  z = rng.normal((batch_size, z_dim))

  one_hot_c = tf.one_hot(k_sample, c_dim)
  dominant_c = tf.where(tf.equal(tf.range(c_dim), k_batch)[None, :], 1.0, 0.2 + 0.4 * u)
  c = tf.switch_case(regime, [lambda: u, lambda: one_hot_c, lambda: dominant_c])
  no_target = tf.fill((batch_size,), NO_TARGET)
  target = tf.switch_case(regime, [lambda: no_target, lambda: k_sample,
                                   lambda: tf.fill((batch_size,), k_batch)])
  weights = CE_WEIGHTS[schedule]
  ce_weight = tf.gather(tf.constant([weights[UNIFORM], weights[ONE_HOT], weights[DOMINANT]]),
                        regime)
  return CodeSample(c=c, z=z, target=target, ce_weight=ce_weight, regime=regime)
