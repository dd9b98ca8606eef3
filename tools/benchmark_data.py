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

_DATASET = flags.DEFINE_string(
    "dataset", "dsprites", f"Dataset to measure: {', '.join(data.DATASETS)}, or "
    "tfds:<name>[:split] (prepared by tensorflow_datasets in --data_dir).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the dataset's files.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Side S of the [S, S, C] images.")
_CHANNELS = flags.DEFINE_integer("channels", 1, "1 (greyscale) or 3 (RGB).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Global batch size.")
_WARMUP = flags.DEFINE_integer("warmup_batches", 20, "Untimed batches first.")
_NUM_BATCHES = flags.DEFINE_integer("num_batches", 300, "Timed batches.")


def main(argv):
  del argv
  cfg = data.DataConfig(name=_DATASET.value, data_dir=_DATA_DIR.value,
                        image_size=_IMAGE_SIZE.value, channels=_CHANNELS.value,
                        batch_size=_BATCH_SIZE.value)
  try:
    source = data.describe_source(cfg)
    iterator = iter(data.build_dataset(cfg))
  except data.DatasetError as e:
    cli.fail(str(e))
  for _ in range(_WARMUP.value):
    next(iterator)
  start = time.perf_counter()
  for _ in range(_NUM_BATCHES.value):
    batch = next(iterator)
  batch.numpy()
  seconds = time.perf_counter() - start
  print(json.dumps({
      "source": source,
      "batch_size": cfg.batch_size, "image_size": cfg.image_size, "channels": cfg.channels,
      "timed_batches": _NUM_BATCHES.value, "seconds": round(seconds, 3),
      "batches_per_s": round(_NUM_BATCHES.value / seconds, 1),
      "images_per_s": round(_NUM_BATCHES.value * cfg.batch_size / seconds, 1),
      "machine": platform.processor() or platform.machine(),
  }))


if __name__ == "__main__":
  app.run(main)
