"""Writes a PNG grid of what the training pipeline produces, to look at the data before training.

  python tools/preview_data.py --dataset=chairs --data_dir=/data/chairs --image_size=64 \
      --channels=3 --output=grid.png
"""
import math

import numpy as np
from absl import app, flags, logging
from PIL import Image

from oogan_tf import cli, data

_DATASET = flags.DEFINE_string(
    "dataset", "dsprites", f"Dataset to preview: {', '.join(data.DATASETS)}, or "
    "tfds:<name>[:split] (prepared by tensorflow_datasets in --data_dir).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory with the dataset's files.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Side S of the [S, S, C] images.")
_CHANNELS = flags.DEFINE_integer("channels", 1, "1 (greyscale) or 3 (RGB).")
_NUM_IMAGES = flags.DEFINE_integer("num_images", 64, "Images in the grid.")
_SEED = flags.DEFINE_integer("seed", 0, "Shuffling/sampling seed.")
_OUTPUT = flags.DEFINE_string("output", "grid.png", "Where to write the PNG grid.")


def image_grid(images):
  """float32 [N, S, S, C] in [-1, 1] -> uint8 grid, S x S tiles with 1 px grey gaps."""
  n, s, _, c = images.shape
  cols = math.ceil(math.sqrt(n))
  rows = math.ceil(n / cols)
  grid = np.full((rows * (s + 1) - 1, cols * (s + 1) - 1, c), 128, np.uint8)  # grey gaps
  pixels = np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
  for i, image in enumerate(pixels):
    r, q = divmod(i, cols)
    grid[r * (s + 1):r * (s + 1) + s, q * (s + 1):q * (s + 1) + s] = image
  return grid


def main(argv):
  del argv
  cfg = data.DataConfig(name=_DATASET.value, data_dir=_DATA_DIR.value,
                        image_size=_IMAGE_SIZE.value, channels=_CHANNELS.value,
                        batch_size=_NUM_IMAGES.value, seed=_SEED.value)
  try:
    source = data.describe_source(cfg)
    images = next(iter(data.build_dataset(cfg))).numpy()
  except data.DatasetError as e:
    cli.fail(str(e))
  logging.info("source: %s", source)
  grid = image_grid(images)
  Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(_OUTPUT.value)
  print(f"wrote {_OUTPUT.value}: {len(images)} images, {source}")


if __name__ == "__main__":
  app.run(main)
