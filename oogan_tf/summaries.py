"""Fixed-seed sample grids and per-dimension traversal grids, to TensorBoard and PNG files.

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
    """uint8 grids: 'samples/fixed' and 'traversal/c{i:02d}' (rows: fixed z and base c)."""
    out = {}
    x = generator((self.sample_c, self.sample_z), training=training).numpy()
    out["samples/fixed"] = visualize.make_grid(visualize.to_uint8(x), 8)
    for d in range(self.c_dim):
      c, z = visualize.traversal_inputs(self.base_c, self.base_z, d, self.values)
      x = generator((c, z), training=training).numpy()
      out[f"traversal/c{d:02d}"] = visualize.make_grid(visualize.to_uint8(x), TRAVERSAL_STEPS)
    return out

  def write(self, generator, step: int, writer: tf.summary.SummaryWriter, samples_dir: str,
            training: bool) -> None:
    """Logs every grid as a TensorBoard image and writes PNGs named by step.

    training: run G with batch statistics (True) or its running statistics (False).
    """
    grids = self.grids(generator, training)
    with writer.as_default():
      for name, grid in grids.items():
        tf.summary.image(name, grid[None], step=step)
    for name, grid in grids.items():
      stem = "fixed" if name == "samples/fixed" else name.replace("/", "_")
      visualize.save_png(grid, os.path.join(samples_dir, f"{stem}_step{step:07d}.png"))
