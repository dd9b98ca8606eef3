"""tf.distribute strategy factory: one device, mirrored GPUs, multi-worker (TF_CONFIG), TPU."""

from __future__ import annotations

import tensorflow as tf


def get_strategy(name: str, num_gpus: int = 0) -> tf.distribute.Strategy:
  """Returns the strategy for `--strategy`.

  Args:
    name: "default" (the default strategy: one device, the first GPU if any), "mirrored" (all local
      GPUs, or all logical CPU devices when there is no GPU), "multi_worker" (reads TF_CONFIG) or
      "tpu" (resolves the TPU from the environment).
    num_gpus: for "mirrored", how many local GPUs to use (0 = all).
  Raises:
    ValueError: unknown name, or more GPUs requested than present.
  """
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    gpus = tf.config.list_logical_devices("GPU")
    if num_gpus > len(gpus):
      raise ValueError(f"--num_gpus={num_gpus} but only {len(gpus)} GPUs are visible")
    if gpus:
      devices = [d.name for d in gpus[:num_gpus or len(gpus)]]
    else:
      devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise ValueError(f"--strategy={name!r} is not allowed; choose one of default, mirrored, "
                   "multi_worker, tpu")
