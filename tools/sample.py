"""Writes a grid of samples from a SavedModel export (uses only tf.saved_model.load).

    python tools/sample.py --export_dir=E [--num=64 --seed=0 --upscale=4] --output=grid.png
"""

from absl import flags

from oogan_tf import cli

flags.DEFINE_string("export_dir", None, "Export directory (python -m oogan_tf.export); required.")
flags.DEFINE_integer("num", 64, "Number of samples (1-10000).")
flags.DEFINE_integer("seed", 0, "Seed of the samples' codes and noise (sample_from_seed).")
flags.DEFINE_integer("ncols", 8, "Images per row of the grid (1-1000).")
flags.DEFINE_integer("upscale", 1, "Nearest-neighbour upscaling factor of each image (1-16), "
                     "e.g. 4 for readable 32 px samples.")
flags.DEFINE_string("output", "grid.png", "PNG file to write.")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  cli.check_ranges(FLAGS, {"num": (1, 10_000), "ncols": (1, 1000), "upscale": (1, 16)})
  cli.export_metadata(FLAGS.export_dir)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import visualize  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(FLAGS.export_dir)
  out = model.signatures["sample_from_seed"](seed=tf.constant(FLAGS.seed, tf.int64),
                                             num=tf.constant(FLAGS.num, tf.int32))
  images = visualize.upscale(out["images"].numpy(), FLAGS.upscale)
  visualize.save_grid_png(images, FLAGS.ncols, FLAGS.output)
  print(f"wrote {FLAGS.output} ({FLAGS.num} samples, seed {FLAGS.seed})")


if __name__ == "__main__":
  cli.run(main, __doc__)
