"""The body of both trainers' compiled train loop (trainer.Trainer, stylegan_trainer)."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import tensorflow as tf

from oogan_tf.models import update_ema


def mean_over_iterations(strategy: tf.distribute.Strategy, replica_step: Callable,
                         iterator: Iterator, num_steps: tf.Tensor, metric_keys: Sequence[str],
                         networks, ema_decay: float, step: tf.Variable) -> dict[str, tf.Tensor]:
  """Runs `num_steps` iterations inside a tf.function: replica_step on each replica's next batch,
  then the EMA update and step += 1. Returns each metric's mean over the iterations and replicas
  (float32 scalars, keyed by metric_keys)."""
  sums = {k: tf.constant(0.0) for k in metric_keys}
  for _ in tf.range(num_steps):
    per_replica = strategy.run(replica_step, args=(next(iterator),))
    sums = {k: sums[k] + tf.cast(strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica[k],
                                                 axis=None), tf.float32)
            for k in metric_keys}
    update_ema(networks, ema_decay)
    step.assign_add(1)
  count = tf.cast(num_steps, tf.float32)
  return {k: v / count for k, v in sums.items()}
