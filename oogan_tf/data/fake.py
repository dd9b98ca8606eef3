"""Fake data: seeded uniform noise of the right shape, for tests and benchmarks of the model."""
import numpy as np
import tensorflow as tf


def describe(cfg):
  return (f"fake: seeded uniform noise in [-1, 1], {cfg.image_size}x{cfg.image_size}x"
          f"{cfg.channels}")


def build(cfg, sharding):
  """Infinite float32 [b, S, S, C] batches, uniform in [-1, 1]; batch k of pipeline p is seeded
  by (cfg.seed, k * num_pipelines + p), so every pipeline draws different data."""
  shape = [sharding.batch_size, cfg.image_size, cfg.image_size, cfg.channels]

  def make(batch_index):
    seed = tf.stack([tf.constant(cfg.seed, tf.int64), batch_index])
    return tf.random.stateless_uniform(shape, seed=seed, minval=-1.0, maxval=1.0)

  first = sharding.start_batch * sharding.num_pipelines + sharding.pipeline_id
  ds = tf.data.Dataset.range(first, np.iinfo(np.int64).max, sharding.num_pipelines)
  return ds.map(make, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True).prefetch(tf.data.AUTOTUNE)
