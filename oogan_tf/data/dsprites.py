"""dSprites sources (the procedural renderer or the official npz), ground truth, tf.data pipeline.

A source maps "positions" (rows of the dataset, int64 in [0, num_images)) to uint8 [N, 64, 64]
images in {0, 1} and factor class indices to positions. The rendered source covers the full grid in
the official ordering; the official npz source holds whatever rows its file has (all 737,280 in the
published file), bit-packed in memory (377 MB instead of 3 GB).
"""
import functools
import os
import zipfile

import numpy as np
import tensorflow as tf
from absl import logging

from oogan_tf.data import dsprites_render as render
from oogan_tf.data.config import DatasetError
from oogan_tf.data.ground_truth import GroundTruthBase

NPZ_FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
_PUBLISHED_AT = ("https://github.com/google-deepmind/dsprites-dataset (file " + NPZ_FILENAME + ")")
# Rows decompressed per step while bit-packing the npz, bounding the transient memory to 64 MB.
_LOAD_CHUNK_ROWS = 16384


class RenderedSource:
  """The full factor grid rendered on demand; position = official flat index."""

  num_images = render.NUM_IMAGES

  def __init__(self):
    self.description = (f"rendered procedurally ({render.NUM_IMAGES:,} images, 64x64, "
                        "evaluation-reference 1.4 geometry; 'dSprites (rendered)')")

  def images_at(self, positions, image_size=render.CANVAS):
    """int [N] -> uint8 [N, S, S] in {0, 1} (S = image_size, 64 or 32)."""
    return render.render_dsprites(render.indices_to_factors(positions), image_size)

  def positions_of(self, factor_classes):
    """int [N, 5] factor classes -> int64 [N] positions."""
    return render.factors_to_indices(factor_classes)


class NpzSource:
  """The official npz (or any npz with its keys and layout), bit-packed in memory."""

  def __init__(self, path):
    self.path = path
    self.description = f"official npz {path}"
    try:
      with np.load(path, allow_pickle=True, encoding="latin1") as npz:
        keys = set(npz.files)
        missing = {"imgs", "latents_classes"} - keys
        if missing:
          raise DatasetError(
              f"dataset 'dsprites': file {path} lacks key(s) {sorted(missing)}; expected the keys "
              f"imgs, latents_classes, latents_values, metadata of {_PUBLISHED_AT}.")
        classes = np.asarray(npz["latents_classes"], dtype=np.int64)
      packed = _load_packed_images(path)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
      if isinstance(e, DatasetError):
        raise
      raise DatasetError(f"dataset 'dsprites': cannot read {path} ({e}); expected the npz of "
                         f"{_PUBLISHED_AT}.") from e
    # The official file has a constant colour column first: (color, shape, scale, orient, x, y).
    if classes.ndim == 2 and classes.shape[1] == 6:
      classes = classes[:, 1:]
    if (classes.ndim != 2 or classes.shape[1] != 5 or classes.shape[0] != packed.shape[0]
        or np.any(classes < 0) or np.any(classes >= np.asarray(render.FACTOR_SIZES))):
      raise DatasetError(
          f"dataset 'dsprites': file {path} has latents_classes of shape {classes.shape} for "
          f"imgs of shape {packed.shape[:2] + (64,)}; expected [N, 6] (color, shape, scale, "
          f"orientation, posX, posY) class indices within {(1,) + render.FACTOR_SIZES} and "
          f"imgs [N, 64, 64], as in {_PUBLISHED_AT}.")
    self._packed = packed
    self.num_images = packed.shape[0]
    self._row_of_index = np.full(render.NUM_IMAGES, -1, dtype=np.int64)
    self._row_of_index[render.factors_to_indices(classes)] = np.arange(self.num_images)
    if self.num_images != render.NUM_IMAGES:
      self.description += f" ({self.num_images:,} of {render.NUM_IMAGES:,} images)"

  def images_at(self, positions, image_size=render.CANVAS):
    """int [N] rows -> uint8 [N, S, S] in {0, 1} (S = image_size, 64 or 32)."""
    images = np.unpackbits(self._packed[np.asarray(positions, dtype=np.int64)], axis=-1)
    return render.resize_binary(images, image_size)

  def positions_of(self, factor_classes):
    """int [N, 5] factor classes -> int64 [N] rows; DatasetError if a combination is absent."""
    rows = self._row_of_index[render.factors_to_indices(factor_classes)]
    if np.any(rows < 0):
      absent = np.asarray(factor_classes)[rows < 0][0].tolist()
      raise DatasetError(f"dataset 'dsprites': {self.path} has no image for factor classes "
                         f"{absent}; expected the full grid {render.FACTOR_SIZES}.")
    return rows


def _load_packed_images(path):
  """Streams `imgs` out of the npz and returns it bit-packed: uint8 [N, 64, 8]."""
  with zipfile.ZipFile(path) as zf, zf.open("imgs.npy") as f:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
      shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
    else:
      shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
    if len(shape) != 3 or shape[1:] != (64, 64) or dtype.itemsize != 1 or fortran_order:
      raise ValueError(f"imgs has shape {shape}, dtype {dtype}, fortran_order={fortran_order}; "
                       "expected C-ordered uint8 [N, 64, 64]")
    packed = np.empty((shape[0], 64, 8), dtype=np.uint8)
    for start in range(0, shape[0], _LOAD_CHUNK_ROWS):
      rows = min(_LOAD_CHUNK_ROWS, shape[0] - start)
      buf = f.read(rows * 64 * 64)
      if len(buf) != rows * 64 * 64:
        raise ValueError(f"imgs is truncated at row {start}")
      packed[start:start + rows] = np.packbits(
          np.frombuffer(buf, dtype=np.uint8).reshape(rows, 64, 64), axis=-1)
  return packed


def _npz_path(data_dir):
  """The official npz in data_dir (or data_dir itself when it names the file), else None."""
  if not data_dir:
    return None
  if data_dir.endswith(".npz"):
    if not os.path.isfile(data_dir):
      raise DatasetError(f"dataset 'dsprites': data_dir={data_dir!r} does not exist; expected "
                         f"{NPZ_FILENAME} from {_PUBLISHED_AT}, or no data_dir to render it.")
    return data_dir
  path = os.path.join(data_dir, NPZ_FILENAME)
  if os.path.isfile(path):
    return path
  logging.warning("dsprites: %s not found in data_dir=%s; rendering procedurally instead.",
                  NPZ_FILENAME, data_dir)
  return None


@functools.lru_cache(maxsize=2)
def _npz_source(path):
  # Cached so that the trainer's pipeline and the metrics share one 377 MB copy.
  return NpzSource(path)


def source_for(cfg):
  """The npz source if cfg.data_dir holds the official file, else the renderer."""
  path = _npz_path(cfg.data_dir)
  return RenderedSource() if path is None else _npz_source(os.path.abspath(path))


def _to_observations(images_uint8):
  """uint8 [N, S, S] in {0, 1} -> float32 [N, S, S, 1] in {-1, 1}."""
  return (images_uint8.astype(np.float32) * 2.0 - 1.0)[..., None]


class GroundTruthData(GroundTruthBase):
  """dSprites with its 5 factors, in the disentanglement_lib protocol (factor class indices).

  Attributes:
    factor_names: ("shape", "scale", "orientation", "posX", "posY").
    factor_sizes: (3, 6, 40, 32, 32).
    num_factors: 5.
    observation_shape: (S, S, 1).
    source: where the images come from (rendered or the npz path).
  """

  factor_names = render.FACTOR_NAMES
  factor_sizes = render.FACTOR_SIZES
  num_factors = len(render.FACTOR_SIZES)
  # Observations are a function of the factors (one image per combination) and draw nothing:
  # metrics may batch their draws, and a CodeCache may key codes by observation_index.
  deterministic_observations = True

  def __init__(self, source, image_size=64):
    self._source = source
    self._image_size = image_size
    self.observation_shape = (image_size, image_size, 1)
    self.source = source.description
    self.num_observations = int(source.num_images)

  def observation_index(self, factors):
    """Row of each factor combination int [N, 5] in the source: int64 [N] in [0, num_observations)."""
    return np.asarray(self._source.positions_of(factors), dtype=np.int64)

  def sample_observations_from_factors(self, factors, random_state):
    """Images of the given factor classes int [num, 5]: float32 [num, S, S, 1] in {-1, 1}.

    random_state is unused: every factor combination has exactly one image.
    """
    del random_state
    images = self._source.images_at(self._source.positions_of(factors), self._image_size)
    return _to_observations(images)


def ground_truth(cfg):
  """GroundTruthData for a validated dsprites cfg."""
  return GroundTruthData(source_for(cfg), cfg.image_size)


def describe(cfg):
  return f"dsprites: {source_for(cfg).description}, served at {cfg.image_size}x{cfg.image_size}"


def build(cfg, sharding):
  """Infinite dSprites: float32 [b, S, S, 1] in {-1, 1}, every image once per epoch.

  Each epoch is a fresh stateless permutation of all positions (seeded by cfg.seed and the epoch),
  and pipeline k of n takes every n-th position from k, so the pipelines split each epoch.
  """
  source = source_for(cfg)
  n = tf.constant(source.num_images, tf.int64)
  size = cfg.image_size
  b = sharding.batch_size

  def render_batch(positions):
    return _to_observations(source.images_at(positions, size))

  def to_images(stream_positions):
    epoch = stream_positions // n
    # Seed [seed, epoch, 0] per element; the raw op is used because the public wrapper of TF 2.21
    # mis-pads per-element ([n, 2]) seeds.
    seeds = tf.stack([tf.fill(tf.shape(epoch), tf.constant(cfg.seed, tf.int64)), epoch,
                      tf.zeros_like(epoch)], axis=1)
    positions = tf.raw_ops.RandomIndexShuffle(
        index=stream_positions % n, seed=seeds, max_index=tf.fill(tf.shape(epoch), n - 1),
        rounds=4)
    images = tf.numpy_function(render_batch, [positions], tf.float32, stateful=False)
    return tf.ensure_shape(images, [b, size, size, 1])

  # Batch k of pipeline p holds stream positions p + num_pipelines * (k * b + j), j < b.
  first = sharding.pipeline_id + sharding.num_pipelines * sharding.start_batch * b
  ds = tf.data.Dataset.range(first, np.iinfo(np.int64).max, sharding.num_pipelines)
  ds = ds.batch(b, drop_remainder=True)
  ds = ds.map(to_images, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.prefetch(tf.data.AUTOTUNE)
