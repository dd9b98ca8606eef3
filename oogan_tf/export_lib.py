"""SavedModel export of a trained OOGAN (EMA generator + Q encoder).

Signatures (every input a TensorSpec with a free batch dimension where it has one):
  serving_default / sample: c float32 [B, C], z float32 [B, Z] -> images float32 [B, H, W, ch] in [0, 1]
  sample_from_seed: seed int64 [], num int32 [] -> images, c [num, C], z [num, Z] (stateless RNG:
    the same seed gives the same outputs in any process)
  traverse: seed int64 [], dim int32 [], steps int32 [], low float32 [], high float32 []
    -> images [steps, H, W, ch] (code `dim` swept from low to high; z and the other codes fixed by
    the seed)
  encode: images float32 [B, H, W, ch] in [0, 1] -> c_mean [B, C] (+ c_log_sigma for a
    probabilistic Q)
With a categorical code of K categories (metadata cat_dim > 0) `sample` also takes
`category` int32 [B] in [0, K), `traverse` takes `category` int32 [] (the category every image of
the sweep shows), `sample_from_seed` also returns the drawn `category` int32 [num], and `encode`
also returns `category_probabilities` float32 [B, K] (softmax of Q's categorical logits).
Beside the graph, the metadata asset of oogan_tf.export_format (image size, channels, c_dim, z_dim,
the code range and the training config).

BatchNorm at serving uses inference (running) statistics, so one image does not depend on the
others in its batch. `export_calibrated` first gives the EMA generator standing statistics of its
own weights and D real-image statistics (oogan_tf.calibration; switchable by the config's
standing_stats_batches / encoder_recalibration_batches), and records what it did in the metadata's
`bn_statistics`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile

from absl import logging
import tensorflow as tf

from oogan_tf import calibration
from oogan_tf import codes as codes_lib
from oogan_tf import export_format
from oogan_tf import run_dir
from oogan_tf.config import TrainConfig
from oogan_tf.models import (Discriminator, Generator, build_networks, category_logits,
                             checkpoint_of, copy_non_trainable, split_q)

class ExportExistsError(FileExistsError):
  """The export directory exists already; exports are never overwritten. `.path` is it."""

  def __init__(self, path: str):
    super().__init__(f"export directory {path} already exists; pass another --export_dir or "
                     "remove it")
    self.path = path


def is_complete_export(path: str) -> bool:
  """Whether path holds a finished SavedModel (exports are renamed into place when complete)."""
  return os.path.isfile(os.path.join(path, "saved_model.pb"))


class _Networks:
  """The networks the signatures call. A plain object, so the SavedModel's object graph does not
  take in their Keras layers: saving those costs ~40 % of an export (Keras lists every layer's
  attributes for functions to save) and ~25 % of a load, and nothing reads them.

  A StyleGAN-based network is called at the phase it holds when the export is written (its
  phase variable is not an input of any signature, so it cannot change): the graph holds that
  phase only, not a switch over all of them. Its alpha is still read from its variable.
  """

  def __init__(self, generator: Generator, discriminator: Discriminator):
    self.generator, self.discriminator = generator, discriminator
    # Read now, eagerly (the signatures are traced later, inside tf.function).
    self._g_phase, self._d_phase = self._phase(generator), self._phase(discriminator)

  @staticmethod
  def _phase(network) -> int | None:
    progress = getattr(network, "progress", None)
    return None if progress is None else int(progress.phase.numpy())

  def generate(self, code: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """G's inference-mode output for (code [B, C''], z [B, Z]): float [B, S, S, ch]."""
    if self._g_phase is None:
      return self.generator((code, z), training=False)
    return self.generator.call_at((code, z), self._g_phase, self.generator.progress.alpha)

  def q(self, x: tf.Tensor) -> tf.Tensor:
    """Q's output float32 [B, C'] for images x float [B, S, S, ch] in [-1, 1]."""
    if self._d_phase is None:
      return self.discriminator(x, training=False)[1]
    return self.discriminator.call_at(x, self._d_phase, self.discriminator.progress.alpha)[1]


class OOGANExport(tf.Module):
  """The exported module; see the module docstring for the signatures and
  oogan_tf.export_format for its object graph (the variables, Q's orthogonal kernels by path)."""

  def __init__(self, generator: Generator, discriminator: Discriminator, cfg: TrainConfig,
               metadata_path: str):
    super().__init__()
    self._networks = _Networks(generator, discriminator)
    self.generator_variables = [v.value for v in generator.variables]
    self.discriminator_variables = [v.value for v in discriminator.variables]
    setattr(self, export_format.ORTHOGONAL_KERNELS,
            export_format.orthogonal_kernel_variables(discriminator))
    m = cfg.model
    self._model = m
    self._c_dim, self._z_dim, self._cat_dim = m.c_dim, m.z_dim, m.cat_dim
    self._probabilistic = m.probabilistic_q
    self.metadata = tf.saved_model.Asset(metadata_path)
    s, ch = m.image_size, m.channels
    # A categorical code adds one input to `sample` and `traverse`; without one the signatures
    # are those of an export that never had it.
    category = ([tf.TensorSpec([None], tf.int32, name="category")] if m.cat_dim else [])
    one_category = ([tf.TensorSpec([], tf.int32, name="category")] if m.cat_dim else [])
    # No tensor-dependent Python control flow below: AutoGraph is not needed (it costs seconds).
    self.sample = tf.function(self._sample, autograph=False, input_signature=[
        tf.TensorSpec([None, m.c_dim], tf.float32, name="c"),
        tf.TensorSpec([None, m.z_dim], tf.float32, name="z")] + category)
    self.sample_from_seed = tf.function(self._sample_from_seed, autograph=False, input_signature=[
        tf.TensorSpec([], tf.int64, name="seed"), tf.TensorSpec([], tf.int32, name="num")])
    self.traverse = tf.function(self._traverse, autograph=False, input_signature=[
        tf.TensorSpec([], tf.int64, name="seed"), tf.TensorSpec([], tf.int32, name="dim"),
        tf.TensorSpec([], tf.int32, name="steps"), tf.TensorSpec([], tf.float32, name="low"),
        tf.TensorSpec([], tf.float32, name="high")] + one_category)
    self.encode = tf.function(self._encode, autograph=False, input_signature=[
        tf.TensorSpec([None, s, s, ch], tf.float32, name="images")])

  def _generate(self, c, z, category):
    code = codes_lib.generator_code(c, category, self._cat_dim)
    x = self._networks.generate(code, z)
    # Clipped: the StyleGAN-based G has no output activation (tanh / sigmoid outputs are inside
    # the range already).
    return tf.clip_by_value((tf.cast(x, tf.float32) + 1.0) / 2.0, 0.0, 1.0)

  @staticmethod
  def _after(checks, tensor):
    # Input checks must run before any op that consumes the input; otherwise an error from
    # inside the generator (e.g. an empty batch) can win the race and be reported instead.
    with tf.control_dependencies(checks):
      return tf.identity(tensor)

  def _checked_width(self, tensor, name, expected):
    check = tf.debugging.assert_equal(
        tf.shape(tensor)[1], expected,
        message=f"input `{name}` must have shape [batch, {expected}]")
    return self._after([check], tensor)

  def _category_checks(self, category) -> list:
    message = f"input `category` must be in [0, {self._cat_dim})"
    return [tf.debugging.assert_greater_equal(category, 0, message=message),
            tf.debugging.assert_less(category, self._cat_dim, message=message)]

  def _sample(self, c, z, category=None):
    c = self._checked_width(c, "c", self._c_dim)
    z = self._checked_width(z, "z", self._z_dim)
    if self._cat_dim:
      checks = self._category_checks(category) + [tf.debugging.assert_equal(
          tf.shape(category)[0], tf.shape(c)[0],
          message="input `category` must have one entry per row of `c`")]
      c, category = self._after(checks, c), self._after(checks, category)
    return {"images": self._generate(c, z, category)}

  def _codes_from_seed(self, seed, num):
    # Stateless draws: the output depends only on (seed, num).
    key = tf.stack([seed, tf.constant(0, tf.int64)])
    c = tf.random.stateless_uniform(tf.stack([num, self._c_dim]), key, *export_format.CODE_RANGE)
    z = tf.random.stateless_normal(tf.stack([num, self._z_dim]), key + [0, 1])
    category = (tf.random.stateless_uniform(tf.reshape(num, [1]), key + [0, 2], 0,
                                            self._cat_dim, dtype=tf.int32)
                if self._cat_dim else None)
    return c, z, category

  def _sample_from_seed(self, seed, num):
    checks = [tf.debugging.assert_positive(num, message="input `num` must be >= 1")]
    seed, num = self._after(checks, seed), self._after(checks, num)
    c, z, category = self._codes_from_seed(seed, num)
    out = {"images": self._generate(c, z, category), "c": c, "z": z}
    if self._cat_dim:
      out["category"] = category
    return out

  def _traverse(self, seed, dim, steps, low, high, category=None):
    dim_message = f"input `dim` must be in [0, {self._c_dim})"
    checks = [tf.debugging.assert_greater_equal(steps, 2, message="input `steps` must be >= 2"),
              tf.debugging.assert_greater_equal(dim, 0, message=dim_message),
              tf.debugging.assert_less(dim, self._c_dim, message=dim_message)]
    if self._cat_dim:
      checks += self._category_checks(category)
      category = self._after(checks, category)
    seed, dim, steps, low, high = (self._after(checks, t) for t in (seed, dim, steps, low, high))
    c, z, _ = self._codes_from_seed(seed, tf.constant(1))
    c, z = export_format.traversal_inputs(c, z, dim, tf.linspace(low, high, steps))
    if self._cat_dim:
      category = tf.fill(tf.shape(c)[:1], category)
    return {"images": self._generate(c, z, category)}

  def _encode(self, images):
    q = self._networks.q(images * 2.0 - 1.0)
    mu, log_sigma = split_q(q, self._c_dim, self._probabilistic)
    out = {"c_mean": mu}
    if log_sigma is not None:
      out["c_log_sigma"] = log_sigma
    if self._cat_dim:
      out["category_probabilities"] = tf.nn.softmax(category_logits(q, self._model))
    return out


def write_export(generator: Generator, discriminator: Discriminator, cfg: TrainConfig,
                 iteration: int, export_dir: str, bn_statistics: dict | None = None) -> str:
  """Writes the SavedModel atomically (temp dir + rename); never overwrites an existing export.

  Two writers racing for the same export_dir cannot both win: the final rename fails when the
  target is a non-empty directory, which is what the other writer's finished export is.

  Args:
    generator: the EMA generator, with the BatchNorm statistics it is to serve with.
    discriminator: the trained D (its Q head is the encoder).
    bn_statistics: what those statistics are (calibration.describe); default: uncalibrated.
  Returns: export_dir.
  Raises: FileExistsError if export_dir exists.
  """
  if os.path.exists(export_dir):
    raise ExportExistsError(export_dir)
  parent = os.path.dirname(os.path.abspath(export_dir))
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".export-tmp-", dir=parent)
  try:
    meta_path = os.path.join(tmp, export_format.METADATA_NAME)
    export_format.write_metadata(meta_path, export_format.metadata_for(
        cfg, iteration, bn_statistics or calibration.describe(0, 0, cfg.batch_size)))
    module = OOGANExport(generator, discriminator, cfg, meta_path)
    saved = os.path.join(tmp, "saved_model")
    tf.saved_model.save(module, saved, signatures={
        "serving_default": module.sample, "sample": module.sample,
        "sample_from_seed": module.sample_from_seed, "traverse": module.traverse,
        "encode": module.encode})
    try:
      os.rename(saved, export_dir)
    except OSError as e:
      if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
        raise ExportExistsError(export_dir) from None
      raise
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return export_dir


def export_calibrated(ema_generator: Generator, discriminator: Discriminator, cfg: TrainConfig,
                      iteration: int, export_dir: str, standing_batches: int | None = None,
                      recalibration_batches: int | None = None) -> str:
  """Calibrates BatchNorm statistics (module docstring) and writes the export.

  `ema_generator` must already hold the live G's buffers (it gets standing statistics in place);
  D's statistics are recalibrated only while the export is written. The batch counts default to
  the config's. Raises ValueError for a negative batch count, FileExistsError if export_dir
  exists (both checked before any computation) and data_lib.DatasetError when recalibration
  cannot read the run's images.
  """
  for name, value in (("standing_stats_batches", standing_batches),
                      ("encoder_recalibration_batches", recalibration_batches)):
    if value is not None and value < 0:
      raise ValueError(f"--{name}={value} is not allowed; it must be >= 0")
  if os.path.exists(export_dir):
    raise ExportExistsError(export_dir)
  standing = calibration.standing_generator_statistics(ema_generator, cfg, standing_batches)
  with calibration.recalibrated_discriminator(discriminator, cfg, recalibration_batches) as n:
    return write_export(ema_generator, discriminator, cfg, iteration, export_dir,
                        calibration.describe(standing, n, cfg.batch_size))


def restore_for_serving(model_dir: str, checkpoint: str | None = None
                        ) -> tuple[TrainConfig, Generator, Discriminator, int]:
  """Restores (config, EMA generator with the live G's buffers, D, iteration) from a run.

  Without `checkpoint`, the newest checkpoint that reads completely (run_dir.find_newest_intact;
  newer damaged ones are skipped with a logged warning).
  Raises: FileNotFoundError if model_dir is not a run or holds no checkpoint;
    run_dir.CheckpointError if it holds checkpoints but none reads.
  """
  cfg = run_dir.read_config(model_dir)
  if not checkpoint:
    checkpoint, skipped = run_dir.find_newest_intact(os.path.join(model_dir, "ckpt"))
    for prefix, why in skipped:
      logging.warning("skipped %s: %s", prefix, why)
  if not checkpoint:
    raise FileNotFoundError(f"no checkpoint in {model_dir}/ckpt; train first or pass --checkpoint")
  networks = build_networks(cfg.model)
  step = tf.Variable(0, dtype=tf.int64)
  checkpoint_of(step, networks).restore(checkpoint).expect_partial()
  copy_non_trainable(networks.generator, networks.ema_generator)
  return cfg, networks.ema_generator, networks.discriminator, int(step)


def export_from_checkpoint(model_dir: str, checkpoint: str | None = None,
                           export_dir: str | None = None, standing_batches: int | None = None,
                           recalibration_batches: int | None = None) -> str:
  """Restores a run's checkpoint (newest by default) and exports it (default D/export/<iter>).

  The BatchNorm calibration batch counts default to the run's config (export_calibrated). When
  the export goes into model_dir, the run directory's lock is held throughout (a trainer or
  another exporter there is refused with run_dir.RunLockedError) and half-written exports of
  killed runs are removed first.
  """
  inside = export_dir is None or os.path.abspath(export_dir).startswith(
      os.path.abspath(model_dir) + os.sep)
  if not os.path.exists(os.path.join(model_dir, run_dir.CONFIG_FILE)):
    inside = False  # restore_for_serving refuses it before anything is written
  with run_dir.RunLock(model_dir, "export") if inside else contextlib.nullcontext():
    if inside:
      run_dir.remove_stale_temporaries(model_dir)
    cfg, ema, discriminator, iteration = restore_for_serving(model_dir, checkpoint)
    export_dir = export_dir or os.path.join(model_dir, "export", str(iteration))
    return export_calibrated(ema, discriminator, cfg, iteration, export_dir, standing_batches,
                             recalibration_batches)
