"""Fixed-seed sample grids and one labelled traversal sheet, to TensorBoard and PNG files.

Images come from the EMA generator. With standing statistics (the default; oogan_tf.calibration)
it runs in inference mode, so each image is what the export serves for its (c, z); without them
it runs in training mode (batch statistics of the grid), as the reference samples during training.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from oogan_tf import visualize

NUM_SAMPLES = 64
TRAVERSAL_ROWS = 8
# Rows per code on the labelled sheet (the first bases of the TRAVERSAL_ROWS).
SHEET_ROWS_PER_CODE = 2
TRAVERSAL_STEPS = 10
# The reference's traversal (generate.py): base codes U(0.2, 0.6), the swept dimension 0 -> 1.
TRAVERSAL_BASE_RANGE = (0.2, 0.6)
TRAVERSAL_RANGE = (0.0, 1.0)


class SampleWriter:
  """Draws the fixed (z, c) once from `sample_seed` and renders them at every call.

  Args:
    c_dim, z_dim: code and noise sizes.
    sample_seed: seeds the fixed inputs; the same seed gives the same inputs in every run.
  """

  def __init__(self, c_dim: int, z_dim: int, sample_seed: int):
    rs = np.random.RandomState(sample_seed)
    self.c_dim = c_dim
    self.sample_c = rs.uniform(0, 1, (NUM_SAMPLES, c_dim)).astype(np.float32)
    self.sample_z = rs.normal(size=(NUM_SAMPLES, z_dim)).astype(np.float32)
    self.base_c = rs.uniform(*TRAVERSAL_BASE_RANGE, (TRAVERSAL_ROWS, c_dim)).astype(np.float32)
    self.base_z = rs.normal(size=(TRAVERSAL_ROWS, z_dim)).astype(np.float32)
    self.values = np.linspace(*TRAVERSAL_RANGE, TRAVERSAL_STEPS).astype(np.float32)

  def grids(self, generator, training: bool) -> dict[str, np.ndarray]:
    """uint8 images: 'samples/fixed' (8 x 8 grid) and 'traversal', a labelled sheet with
    SHEET_ROWS_PER_CODE rows per code ('c00 z1', 'c00 z2', ...; each row keeps one base c and z)
    and one column per swept value."""
    x = generator((self.sample_c, self.sample_z), training=training).numpy()
    out = {"samples/fixed": visualize.make_grid(visualize.to_uint8(x), 8)}
    bases = min(SHEET_ROWS_PER_CODE, TRAVERSAL_ROWS)
    rows, labels = [], []
    for d in range(self.c_dim):
      c, z = visualize.traversal_inputs(self.base_c[:bases], self.base_z[:bases], d, self.values)
      x = visualize.to_uint8(generator((c, z), training=training).numpy())
      rows.extend(x.reshape(bases, TRAVERSAL_STEPS, *x.shape[1:]))
      labels.extend(f"c{d:02d} z{b + 1}" for b in range(bases))
    out["traversal"] = visualize.labelled_sheet(np.stack(rows), labels,
                                                [f"{v:.2f}" for v in self.values])
    return out

  def write(self, generator, step: int, writer: tf.summary.SummaryWriter, samples_dir: str,
            training: bool) -> None:
    """Logs both images to TensorBoard and writes fixed_stepN.png and traversal_stepN.png.

    training: run G with batch statistics (True) or its running statistics (False).
    """
    grids = self.grids(generator, training)
    with writer.as_default():
      for name, grid in grids.items():
        tf.summary.image(name, grid[None], step=step)
    for name, grid in grids.items():
      stem = "fixed" if name == "samples/fixed" else name
      visualize.save_png(grid, os.path.join(samples_dir, f"{stem}_step{step:07d}.png"))


def write_reals(images: np.ndarray, writer: tf.summary.SummaryWriter, samples_dir: str) -> None:
  """The grid of real training images (float [N, H, W, C] in [-1, 1]) as samples/reals.png and
  the TensorBoard image 'samples/reals' (step 0), to compare the snapshots with."""
  grid = visualize.make_grid(visualize.to_uint8(images), 8)
  with writer.as_default():
    tf.summary.image("samples/reals", grid[None], step=0)
  visualize.save_png(grid, os.path.join(samples_dir, "reals.png"))
