"""TensorBoard and PNG output of training: fixed-seed sample grids, labelled traversal sheets (one,
or one per category of a categorical code), described scalars and the run's configuration as
text.

Images come from the EMA generator. With standing statistics (the default; oogan_tf.calibration)
it runs in inference mode, so each image is what the export serves for its (c, z); without them
it runs in training mode (batch statistics of the grid), as the reference samples during training.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from oogan_tf import codes as codes_lib
from oogan_tf import export_format
from oogan_tf import visualize

NUM_SAMPLES = 64
TRAVERSAL_ROWS = 8
# Rows per code on the labelled sheet (the first bases of the TRAVERSAL_ROWS).
SHEET_ROWS_PER_CODE = 2
TRAVERSAL_STEPS = 10


# TensorBoard shows these beside each scalar; a key ending in "/" describes a family of tags.
SCALAR_DESCRIPTIONS = {
    "loss/d_total": "D's loss: hinge loss plus gp_weight x gradient penalty (lower: D separates "
                    "real from generated better).",
    "loss/d_hinge": "D's adversarial loss. Hinge: mean(relu(1 - D(x))) + mean(relu(1 + "
                    "D(G(c, z)))), 2 when D cannot tell them apart, 0 when it separates them "
                    "with margin 1; --gan_loss=nonsaturating: mean(softplus(-D(x))) + "
                    "mean(softplus(D(G))), 2 log 2 when D cannot tell them apart.",
    "loss/gradient_penalty": "mean (||grad D(x_hat)|| - 1)^2 on real/generated interpolates.",
    "loss/g_adv": "G's adversarial loss -mean(D(G(c, z))) (nonsaturating: "
                  "mean(softplus(-D(G)))); lower: D scores G's images as real.",
    "loss/info": "Q's total code loss: lambda_info x reconstruction + gamma_onehot x one-hot CE.",
    "loss/info_reconstruction": "How well Q recovers c from G(c, z): Gaussian NLL "
                                "(probabilistic Q), L1 or 1/2 squared error (--point_q_loss); lower "
                                "is better.",
    "loss/info_onehot": "Cross-entropy of Q's code logits against the one-hot / dominant codes "
                        "of the schedule; lower is better.",
    "d/score_real": "Mean D score of real images (hinge margin: above 1 = confidently real).",
    "d/score_fake": "Mean D score of generated images in the D step (below -1 = confidently "
                    "fake).",
    "d/score_fake_g_step": "Mean D score of generated images in the G step.",
    "ortho/": "Orthogonality loss of one orthogonal layer of Q: mean squared cosine between its "
              "kernel rows, diagonal included (1/rows when orthogonal, 1 when all parallel).",
    "opt/learning_rate": "Adam learning rate of D, G and Q.",
    "opt/loss_scale_": "Dynamic loss scale of one optimiser (mixed_float16).",
    "perf/steps_per_sec": "Training iterations per second over the last loop (compile excluded "
                          "after the first).",
    "perf/images_per_sec": "Real images consumed per second (iterations x global batch).",
}


def scalar_description(tag: str) -> str | None:
  """The description of a training scalar tag (exact, else its family's), or None."""
  if tag in SCALAR_DESCRIPTIONS:
    return SCALAR_DESCRIPTIONS[tag]
  return next((d for k, d in SCALAR_DESCRIPTIONS.items()
               if k[-1] in "/_" and tag.startswith(k)), None)


def write_scalars(values: dict[str, float], step: int) -> None:
  """tf.summary.scalar for each tag -> float, with its description (default writer)."""
  for tag, value in values.items():
    tf.summary.scalar(tag, value, step=step, description=scalar_description(tag))


def write_config(config_json: str, summary: str, writer: tf.summary.SummaryWriter,
                 step: int) -> None:
  """The run's one-line summary and full configuration (JSON) as the TensorBoard text 'config'
  (Text tab) at the iteration a start begins with, so a resumed run shows what it resumed with."""
  with writer.as_default():
    tf.summary.text("config", f"{summary}\n\n```json\n{config_json}\n```", step=step,
                    description="The resolved TrainConfig of this run (also config.json).")
    # The HParams tab compares runs side by side: one value per config field ("model.c_dim").
    hparams_api.hparams(flat_hparams(json.loads(config_json)))


def flat_hparams(config: dict, prefix: str = "") -> dict:
  """A nested config dict as {"a.b": value} with bool/int/float/str values (lists and other
  values as their text, None dropped), the value types the HParams plugin takes."""
  flat = {}
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict):
      flat.update(flat_hparams(value, prefix=f"{name}."))
    elif isinstance(value, (bool, int, float, str)):
      flat[name] = value
    elif value is not None:
      flat[name] = str(value)
  return flat


class SampleWriter:
  """Draws the fixed (z, c) once from `sample_seed` and renders them at every call.

  Args:
    c_dim, z_dim: code and noise sizes.
    sample_seed: seeds the fixed inputs; the same seed gives the same inputs in every run.
    cat_dim: K categories of a categorical code (0: none). The fixed grid then shows category
      i mod K in cell i, and there is one traversal sheet per category.
  """

  def __init__(self, c_dim: int, z_dim: int, sample_seed: int, cat_dim: int = 0):
    rs = np.random.RandomState(sample_seed)
    self.c_dim, self.cat_dim = c_dim, cat_dim
    self.sample_c = rs.uniform(0, 1, (NUM_SAMPLES, c_dim)).astype(np.float32)
    self.sample_z = rs.normal(size=(NUM_SAMPLES, z_dim)).astype(np.float32)
    self.base_c = rs.uniform(*export_format.TRAVERSAL_BASE_RANGE,
                             (TRAVERSAL_ROWS, c_dim)).astype(np.float32)
    self.base_z = rs.normal(size=(TRAVERSAL_ROWS, z_dim)).astype(np.float32)
    self.values = np.linspace(*export_format.TRAVERSAL_SWEEP, TRAVERSAL_STEPS).astype(np.float32)

  def _code(self, c, category: int | np.ndarray):
    """G's code input [N, C + K] for continuous codes c [N, C] and category (scalar or [N])."""
    category = np.broadcast_to(category, (len(c),))
    return codes_lib.generator_code(c, category, self.cat_dim)

  def grids(self, generator, training: bool) -> dict[str, np.ndarray]:
    """uint8 images: 'samples/fixed' (8 x 8 grid) and the traversal sheets: 'traversal', or
    'traversal/cat00', 'traversal/cat01', ... (one per category) with a categorical code. A
    sheet has SHEET_ROWS_PER_CODE rows per code ('c00 z1', 'c00 z2', ...; each row keeps one
    base c and z) and one column per swept value."""
    categories = np.arange(NUM_SAMPLES) % max(self.cat_dim, 1)
    x = generator((self._code(self.sample_c, categories), self.sample_z),
                  training=training).numpy()
    out = {"samples/fixed": visualize.make_grid(visualize.to_uint8(x), 8)}
    bases = min(SHEET_ROWS_PER_CODE, TRAVERSAL_ROWS)
    for k in range(max(self.cat_dim, 1)):
      rows, labels = [], []
      for d in range(self.c_dim):
        c, z = export_format.traversal_inputs(self.base_c[:bases], self.base_z[:bases], d,
                                              self.values)
        x = visualize.to_uint8(generator((self._code(c, k), z), training=training).numpy())
        rows.extend(x.reshape(bases, TRAVERSAL_STEPS, *x.shape[1:]))
        labels.extend(f"c{d:02d} z{b + 1}" for b in range(bases))
      name = f"traversal/cat{k:02d}" if self.cat_dim else "traversal"
      out[name] = visualize.labelled_sheet(np.stack(rows), labels,
                                           [f"{v:.2f}" for v in self.values])
    return out

  def write(self, generator, step: int, writer: tf.summary.SummaryWriter, samples_dir: str,
            training: bool) -> None:
    """Logs the images to TensorBoard and writes fixed_stepN.png and traversal_stepN.png (or
    traversal_catKK_stepN.png per category).

    training: run G with batch statistics (True) or its running statistics (False).
    """
    grids = self.grids(generator, training)
    with writer.as_default():
      for name, grid in grids.items():
        tf.summary.image(name, grid[None], step=step)
    for name, grid in grids.items():
      stem = "fixed" if name == "samples/fixed" else name.replace("/", "_")
      visualize.save_png(grid, os.path.join(samples_dir, f"{stem}_step{step:07d}.png"))


def write_reals(images: np.ndarray, writer: tf.summary.SummaryWriter, samples_dir: str) -> None:
  """The grid of real training images (float [N, H, W, C] in [-1, 1]) as samples/reals.png and
  the TensorBoard image 'samples/reals' (step 0), to compare the snapshots with."""
  grid = visualize.make_grid(visualize.to_uint8(images), 8)
  with writer.as_default():
    tf.summary.image("samples/reals", grid[None], step=0)
  visualize.save_png(grid, os.path.join(samples_dir, "reals.png"))
