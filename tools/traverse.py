"""Writes latent traversals from a SavedModel export (uses only tf.saved_model.load).

One row per code dimension (or one file per dimension with --per_dimension), each sweeping that
dimension from --low to --high with z and the other codes fixed by --seed. By default the sheet is
labelled (rows c00..cNN, columns the swept values) and upscaled to at least --min_cell pixels per
image; --plain writes the bare grid instead. --upscale enlarges every image first.

    python tools/traverse.py --export_dir=E --output=traversal.png [--steps=10 --low=0 --high=1]
"""

import os

from absl import flags

from oogan_tf import cli

flags.DEFINE_string("export_dir", None, "Export directory (python -m oogan_tf.export); required.")
flags.DEFINE_integer("seed", 0, "Seed of z and of the codes that are not swept.")
flags.DEFINE_integer("steps", 10, "Images per traversal (2-1000).")
flags.DEFINE_float("low", None, "First swept value (default: the export's code range).")
flags.DEFINE_float("high", None, "Last swept value (default: the export's code range).")
flags.DEFINE_bool("per_dimension", False, "One PNG per dimension: the --output stem + _cNN.png.")
flags.DEFINE_bool("plain", False, "The bare image grid (no labels, no --min_cell upscaling).")
flags.DEFINE_integer("min_cell", 48, "Labelled sheet: upscale each image to at least this many "
                     "pixels (1-1024).")
flags.DEFINE_integer("upscale", 1, "Nearest-neighbour upscaling factor of each image (1-16), "
                     "before labelling.")
flags.DEFINE_string("output", "traversal.png", "PNG file to write.")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  cli.check_ranges(FLAGS, {"steps": (2, 1000), "min_cell": (1, 1024), "upscale": (1, 16)})
  meta = cli.export_metadata(FLAGS.export_dir)
  low = meta["code_range"][0] if FLAGS.low is None else FLAGS.low
  high = meta["code_range"][1] if FLAGS.high is None else FLAGS.high
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import visualize  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(FLAGS.export_dir)
  rows = []
  for dim in range(meta["c_dim"]):
    out = model.signatures["traverse"](
        seed=tf.constant(FLAGS.seed, tf.int64), dim=tf.constant(dim, tf.int32),
        steps=tf.constant(FLAGS.steps, tf.int32), low=tf.constant(low, tf.float32),
        high=tf.constant(high, tf.float32))
    rows.append(visualize.upscale(out["images"].numpy(), FLAGS.upscale))
  summary = f"{len(rows)} dimensions x {FLAGS.steps} steps, {low}..{high}"
  if FLAGS.per_dimension:
    stem, ext = os.path.splitext(FLAGS.output)
    for dim, images in enumerate(rows):
      visualize.save_grid_png(images, FLAGS.steps, f"{stem}_c{dim:02d}{ext or '.png'}")
    print(f"wrote {len(rows)} files {stem}_cNN{ext or '.png'} ({summary})")
  elif FLAGS.plain:
    visualize.save_grid_png(np.concatenate(rows), FLAGS.steps, FLAGS.output)
    print(f"wrote {FLAGS.output} ({summary})")
  else:
    values = np.linspace(low, high, FLAGS.steps)
    sheet = visualize.labelled_sheet(visualize.to_uint8(np.stack(rows), (0.0, 1.0)),
                                     [f"c{d:02d}" for d in range(len(rows))],
                                     [f"{v:.2f}" for v in values], min_cell=FLAGS.min_cell)
    visualize.save_png(sheet, FLAGS.output)
    print(f"wrote {FLAGS.output} ({summary})")


if __name__ == "__main__":
  cli.run(main, __doc__)
