"""Measures the input pipeline's throughput; prints one JSON line.

  python tools/benchmark_data.py                      # rendered dSprites, 64 px, batch 64
  python tools/benchmark_data.py --image_size=32 --num_batches=500

Warm-up batches (tracing, buffer filling) are excluded from the timing.
"""
import json
import platform
import time

from absl import app, flags

from oogan_tf import cli, data
from oogan_tf import shared_flags

_SOURCE = cli.DataSourceFlags("measure", data.DATASETS)
_BATCH_SIZE = shared_flags.integer("batch_size", 64, "Global batch size.")
_WARMUP = shared_flags.integer("warmup_batches", 20, "Untimed batches first.")
_NUM_BATCHES = shared_flags.integer("num_batches", 300, "Timed batches.")


def main(argv):
  del argv
  source, dataset = _SOURCE.open(_BATCH_SIZE.value)
  iterator = iter(dataset)
  for _ in range(_WARMUP.value):
    next(iterator)
  start = time.perf_counter()
  for _ in range(_NUM_BATCHES.value):
    batch = next(iterator)
  batch.numpy()
  seconds = time.perf_counter() - start
  print(json.dumps({
      "source": source,
      "batch_size": _BATCH_SIZE.value, "image_size": _SOURCE.image_size.value,
      "channels": _SOURCE.channels.value,
      "timed_batches": _NUM_BATCHES.value, "seconds": round(seconds, 3),
      "batches_per_s": round(_NUM_BATCHES.value / seconds, 1),
      "images_per_s": round(_NUM_BATCHES.value * _BATCH_SIZE.value / seconds, 1),
      "machine": platform.processor() or platform.machine(),
  }))


if __name__ == "__main__":
  app.run(main)
