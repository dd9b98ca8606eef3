"""Pieces every dataset pipeline shares: per-replica batch size, sharding, and the batched tail."""
import dataclasses

import numpy as np
import tensorflow as tf

from oogan_tf.data.config import DatasetError


@dataclasses.dataclass(frozen=True)
class Sharding:
  """Which input pipeline this is, and the batch it produces.

  Attributes:
    batch_size: the per-replica batch (the global batch when there is no input context).
    pipeline_id: this pipeline's id in [0, num_pipelines).
    num_pipelines: how many input pipelines split the data between them.
    start_batch: batches this pipeline already served before a resume (its own batches).
  """
  batch_size: int
  pipeline_id: int = 0
  num_pipelines: int = 1
  start_batch: int = 0


def sharding_for(cfg, input_context=None, start_batch=0):
  """Resolves the per-replica batch and shard of cfg under an optional InputContext.

  start_batch counts global batches (training steps) already consumed; each step takes
  num_replicas_in_sync / num_input_pipelines per-replica batches from every pipeline.
  """
  if not isinstance(start_batch, int) or start_batch < 0:
    raise DatasetError(f"dataset '{cfg.name}': start_batch={start_batch!r} is invalid; expected "
                       "a non-negative integer (the training step to resume at).")
  if input_context is None:
    return Sharding(batch_size=cfg.batch_size, start_batch=start_batch)
  try:
    batch = input_context.get_per_replica_batch_size(cfg.batch_size)
  except ValueError as e:
    raise DatasetError(
        f"dataset '{cfg.name}': batch_size={cfg.batch_size} is invalid; expected a multiple of "
        f"the number of replicas ({input_context.num_replicas_in_sync}): {e}") from e
  per_step = input_context.num_replicas_in_sync // input_context.num_input_pipelines
  return Sharding(batch_size=batch, pipeline_id=input_context.input_pipeline_id,
                  num_pipelines=input_context.num_input_pipelines,
                  start_batch=start_batch * per_step)


def resume_seed(cfg, sharding):
  """Shuffle seed of file-backed datasets: cfg.seed, changed on resume.

  Skipping the batches served before a resume would decode all of their images again, so a resumed
  run draws a fresh order instead (still seeded, and never a replay of the first run's order).
  """
  if sharding.start_batch == 0:
    return cfg.seed
  return int(np.random.SeedSequence([cfg.seed, sharding.start_batch]).generate_state(1)[0])


def in_memory_epochs(ds, count, cfg, sharding, to_observations):
  """The training stream of an in-memory dataset of `count` examples: this pipeline's shard,
  reshuffled every epoch (seeded by resume_seed), batched with drop_remainder, mapped by
  `to_observations(batch)` to float32 [b, S, S, C] in [-1, 1], prefetched."""
  ds = ds.shard(sharding.num_pipelines, sharding.pipeline_id)
  ds = ds.shuffle(count, seed=resume_seed(cfg, sharding), reshuffle_each_iteration=True).repeat()
  ds = ds.batch(sharding.batch_size, drop_remainder=True)
  ds = ds.map(to_observations, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.prefetch(tf.data.AUTOTUNE)


def batch_and_prefetch(ds, batch_size):
  """Batches with drop_remainder (static batch dimension) and prefetches with AUTOTUNE."""
  return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def to_unit_range(images_uint8):
  """Maps uint8 pixels in [0, 255] to float32 in [-1, 1]."""
  return tf.cast(images_uint8, tf.float32) * (2.0 / 255.0) - 1.0


def apply_cache(ds, cache):
  """Caches ds in memory ("memory"), on disk (a file-path prefix), or not at all ("none")."""
  if cache == "none":
    return ds
  if cache == "memory":
    return ds.cache()
  return ds.cache(cache)
