"""Writes latent traversals from a SavedModel export (uses only tf.saved_model.load).

One row per code dimension (or one file per dimension with --per_dimension), each sweeping that
dimension from --low to --high with z and the other codes fixed by --seed. By default the sheet is
labelled (rows c00..cNN, columns the swept values) and upscaled to at least --min_cell pixels per
image; --plain writes the bare grid instead. --upscale enlarges every image first. For an export
with a categorical code, --category picks the category every image shows (default 0).

    python tools/traverse.py --export_dir=E --output=traversal.png [--steps=10 --low=0 --high=1]
"""

import os

from absl import flags

from oogan_tf import cli
from oogan_tf import shared_flags

_IMAGE = cli.ExportImageFlags("Seed of z and of the codes that are not swept.",
                            output="traversal.png")
_STEPS = shared_flags.integer("steps", 10, "Images per traversal (2-1000).")
_LOW = shared_flags.floating("low", None,
                             "First swept value (default: the export's code range).")
_HIGH = shared_flags.floating("high", None,
                              "Last swept value (default: the export's code range).")
_PER_DIMENSION = shared_flags.boolean("per_dimension", False,
                                      "One PNG per dimension: the --output stem + _cNN.png.")
_PLAIN = shared_flags.boolean("plain", False,
                              "The bare image grid (no labels, no --min_cell upscaling).")
_CATEGORY = shared_flags.integer("category", None, "Category of the categorical code shown in "
                                 "every image (exports with cat_dim > 0; default 0).")
_MIN_CELL = shared_flags.integer("min_cell", 48, "Labelled sheet: upscale each image to at least "
                                 "this many pixels (1-1024).")


def main(argv):
  meta = _IMAGE.start(argv, {"steps": (2, 1000), "min_cell": (1, 1024)})
  low = meta["code_range"][0] if _LOW.value is None else _LOW.value
  high = meta["code_range"][1] if _HIGH.value is None else _HIGH.value
  cat_dim = int(meta.get("cat_dim", 0))
  if _CATEGORY.value is not None and not cat_dim:
    cli.fail(f"--category={_CATEGORY.value} is not allowed: the export has no categorical code "
             "(cat_dim=0); leave --category out")
  if _CATEGORY.value is not None and not 0 <= _CATEGORY.value < cat_dim:
    cli.fail(f"--category={_CATEGORY.value} is not allowed; the export has {cat_dim} "
             f"categories: give 0 to {cat_dim - 1}")
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import visualize  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(_IMAGE.export_dir.value)
  category = ({"category": tf.constant(_CATEGORY.value or 0, tf.int32)} if cat_dim else {})
  rows = []
  for dim in range(meta["c_dim"]):
    out = model.signatures["traverse"](
        seed=tf.constant(_IMAGE.seed.value, tf.int64), dim=tf.constant(dim, tf.int32),
        steps=tf.constant(_STEPS.value, tf.int32), low=tf.constant(low, tf.float32),
        high=tf.constant(high, tf.float32), **category)
    rows.append(visualize.upscale(out["images"].numpy(), _IMAGE.upscale.value))
  summary = f"{len(rows)} dimensions x {_STEPS.value} steps, {low}..{high}"
  if cat_dim:
    summary += f", category {_CATEGORY.value or 0}"
  if _PER_DIMENSION.value:
    stem, ext = os.path.splitext(_IMAGE.output.value)
    for dim, images in enumerate(rows):
      visualize.save_grid_png(images, _STEPS.value, f"{stem}_c{dim:02d}{ext or '.png'}")
    print(f"wrote {len(rows)} files {stem}_cNN{ext or '.png'} ({summary})")
  elif _PLAIN.value:
    visualize.save_grid_png(np.concatenate(rows), _STEPS.value, _IMAGE.output.value)
    print(f"wrote {_IMAGE.output.value} ({summary})")
  else:
    values = np.linspace(low, high, _STEPS.value)
    sheet = visualize.labelled_sheet(visualize.to_uint8(np.stack(rows), (0.0, 1.0)),
                                     [f"c{d:02d}" for d in range(len(rows))],
                                     [f"{v:.2f}" for v in values], min_cell=_MIN_CELL.value)
    visualize.save_png(sheet, _IMAGE.output.value)
    print(f"wrote {_IMAGE.output.value} ({summary})")


if __name__ == "__main__":
  cli.run(main, __doc__)
