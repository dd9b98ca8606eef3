"""Training throughput benchmark: seconds per iteration, images/s, input pipeline, FLOP/s vs peak.

    python tools/benchmark.py --flagfile=flags/dsprites_reference.flags [--precision=...]
        [--jit_compile] --iterations=20 --output=bench.json

Runs the real compiled train loop on the preset (warm-up loops excluded), times each loop of
--bench_steps_per_loop iterations, measures the input pipeline alone, counts the float ops of one
iteration's graph, and measures the machine's peak with a large matmul in the same process, so
results compare across machines as ratios. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from oogan_tf import cli
from oogan_tf import config_flags
from oogan_tf import data as data_lib
from oogan_tf import shared_flags
from oogan_tf.trainer import Trainer, new_trainer

config_flags.define_config_flags()
_ITERATIONS = shared_flags.integer("iterations", 20, "Timed iterations (after warm-up).")
_WARMUP = shared_flags.integer("warmup_loops", 2, "Untimed loops (tracing, allocator warm-up).")
_LOOP = shared_flags.integer("bench_steps_per_loop", 1, "Iterations per timed compiled call.")
_PIPELINE_BATCHES = shared_flags.integer("pipeline_batches", 50, "Batches for the input test.")
_OUTPUT = shared_flags.string("output", None, "Write the JSON result here too.")


def iteration_flops(trainer: Trainer) -> float:
  """Float ops of one training iteration over the global batch, counted by TF's graph profiler.

  Traces one replica's iteration (G and D forwards, every backward pass including the gradient
  penalty's double backward, optimiser updates) on the per-replica batch and counts the float ops
  of the ops TF registers a cost for (convolutions, matmuls, element-wise arithmetic), times the
  number of replicas.
  """
  cfg = trainer.cfg
  s = cfg.model.image_size
  spec = tf.TensorSpec([trainer.per_replica_batch, s, s, cfg.model.channels], tf.float32)
  # AutoGraph off, as the trainer's own loop: the step has no tensor-dependent Python control
  # flow, and converting it and its layers' methods costs seconds (6.0 -> 3.8 s for smoke).
  graph = tf.function(trainer.replica_step, autograph=False).get_concrete_function(spec).graph
  opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  opts["output"] = "none"
  total = tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops
  return float(total) * trainer.strategy.num_replicas_in_sync


def peak_flops(dtype=tf.float32, n: int = 2048, repeats: int = 10) -> float:
  """Measured matmul FLOP/s of this machine for dtype (best of `repeats`)."""
  a = tf.random.normal((n, n), dtype=tf.float32)
  a = tf.cast(a, dtype)
  matmul = tf.function(lambda x: tf.matmul(x, x))
  matmul(a).numpy()
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    matmul(a).numpy()
    best = min(best, time.perf_counter() - t0)
  return 2.0 * n ** 3 / best


def pipeline_images_per_sec(cfg, batches: int) -> float:
  it = iter(data_lib.build_dataset(cfg.data_config()))
  for _ in range(3):
    next(it)
  t0 = time.perf_counter()
  for _ in range(batches):
    next(it)
  return batches * cfg.batch_size / (time.perf_counter() - t0)


def main(argv):
  del argv
  try:
    cfg = config_flags.config_from_flags(flags.FLAGS)  # validates model, training and data fields
  except ValueError as e:
    cli.fail(str(e))
  if _ITERATIONS.value < 1 or _LOOP.value < 1:
    cli.fail("--iterations and --bench_steps_per_loop must be >= 1")
  trainer = new_trainer(cfg)
  dataset = trainer.strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.build_dataset(cfg.data_config(), ctx))
  iterator = iter(dataset)
  loop = tf.constant(_LOOP.value, tf.int64)
  for _ in range(_WARMUP.value):
    trainer.train_loop(iterator, loop)["loss/d_total"].numpy()
  per_iteration = []
  for _ in range(max(1, _ITERATIONS.value // _LOOP.value)):
    t0 = time.perf_counter()
    trainer.train_loop(iterator, loop)["loss/d_total"].numpy()
    per_iteration.append((time.perf_counter() - t0) / _LOOP.value)
  median = statistics.median(per_iteration)
  flops = iteration_flops(trainer)
  compute_dtype = tf.bfloat16 if cfg.precision == "mixed_bfloat16" else (
      tf.float16 if cfg.precision == "mixed_float16" else tf.float32)
  peak = peak_flops(compute_dtype)
  result = {
      "preset": {"image_size": cfg.model.image_size, "g_type": cfg.model.g_type,
                 "c_dim": cfg.model.c_dim, "z_dim": cfg.model.z_dim, "ngf": cfg.model.ngf,
                 "ndf": cfg.model.ndf, "batch_size": cfg.batch_size, "gp_weight": cfg.gp_weight,
                 "dataset": cfg.dataset},
      "precision": cfg.precision, "jit_compile": cfg.jit_compile,
      "strategy": cfg.strategy, "replicas": trainer.strategy.num_replicas_in_sync,
      "iterations_timed": len(per_iteration) * _LOOP.value,
      "steps_per_call": _LOOP.value,
      "sec_per_iter_median": median,
      "sec_per_iter_p10": float(np.percentile(per_iteration, 10)),
      "sec_per_iter_p90": float(np.percentile(per_iteration, 90)),
      "sec_per_iter_min": min(per_iteration), "sec_per_iter_max": max(per_iteration),
      "images_per_sec": cfg.batch_size / median,
      "pipeline_images_per_sec": pipeline_images_per_sec(cfg, _PIPELINE_BATCHES.value),
      "model_flops_per_iter": flops,
      "achieved_flops_per_sec": flops / median,
      "peak_matmul_flops_per_sec": peak,
      "fraction_of_peak": flops / median / peak,
      "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                  "devices": [d.name for d in tf.config.list_logical_devices()],
                  "tensorflow": tf.__version__},
  }
  line = json.dumps(result, sort_keys=True)
  print(line)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as f:
      f.write(line + "\n")


if __name__ == "__main__":
  app.run(main)
