"""Writes a grid of samples from a SavedModel export (uses only tf.saved_model.load).

    python tools/sample.py --export_dir=E [--num=64 --seed=0 --upscale=4] --output=grid.png
"""

from absl import flags

from oogan_tf import cli
from oogan_tf import shared_flags

_IMAGE = cli.ExportImageFlags("Seed of the samples' codes and noise (sample_from_seed).",
                            output="grid.png")
_NUM = shared_flags.integer("num", 64, "Number of samples (1-10000).")
_NCOLS = shared_flags.integer("ncols", 8, "Images per row of the grid (1-1000).")


def main(argv):
  _IMAGE.start(argv, {"num": (1, 10_000), "ncols": (1, 1000)})
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import visualize  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(_IMAGE.export_dir.value)
  out = model.signatures["sample_from_seed"](seed=tf.constant(_IMAGE.seed.value, tf.int64),
                                             num=tf.constant(_NUM.value, tf.int32))
  images = visualize.upscale(out["images"].numpy(), _IMAGE.upscale.value)
  visualize.save_grid_png(images, _NCOLS.value, _IMAGE.output.value)
  print(f"wrote {_IMAGE.output.value} ({_NUM.value} samples, seed {_IMAGE.seed.value})")


if __name__ == "__main__":
  cli.run(main, __doc__)
