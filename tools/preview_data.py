"""Writes a PNG grid of what the training pipeline produces, to look at the data before training.

  python tools/preview_data.py --dataset=chairs --data_dir=/data/chairs --image_size=64 \
      --channels=3 --output=grid.png
"""
import math

from absl import app, flags, logging

from oogan_tf import cli, data, visualize
from oogan_tf import shared_flags

_SOURCE = cli.DataSourceFlags("preview", data.DATASETS)
_NUM_IMAGES = shared_flags.integer("num_images", 64, "Images in the grid.")
_SEED = shared_flags.integer("seed", 0, "Shuffling/sampling seed.")
_OUTPUT = shared_flags.string("output", "grid.png", "Where to write the PNG grid.")


def main(argv):
  del argv
  source, dataset = _SOURCE.open(_NUM_IMAGES.value, _SEED.value)
  try:
    images = next(iter(dataset)).numpy()
  except data.DatasetError as e:
    cli.fail(str(e))
  logging.info("source: %s", source)
  visualize.save_grid_png(images, math.ceil(math.sqrt(len(images))), _OUTPUT.value,
                          value_range=(-1.0, 1.0))
  print(f"wrote {_OUTPUT.value}: {len(images)} images, {source}")


if __name__ == "__main__":
  app.run(main)
