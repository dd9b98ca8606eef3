"""MNIST from local files only: a Keras-layout `mnist.npz`, or a tfds data_dir already prepared.

tfds is only used with download=False: offline, a download attempt retries for minutes.
"""
import os

import numpy as np
import tensorflow as tf

from oogan_tf.data import pipeline
from oogan_tf.data.config import DatasetError

NPZ_FILENAME = "mnist.npz"
_PUBLISHED_AT = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


def _error(data_dir, problem):
  return DatasetError(
      f"dataset 'mnist': data_dir={data_dir!r} {problem}; expected layout: data_dir/{NPZ_FILENAME} "
      f"(Keras layout, keys x_train uint8 [60000, 28, 28] and y_train; published at "
      f"{_PUBLISHED_AT}), or a tensorflow_datasets data_dir in which 'mnist' was already "
      f"prepared (data_dir/mnist/<version>/).")


def _npz_path(data_dir):
  if not data_dir:
    raise _error(data_dir, "is not set (pass --data_dir)")
  if data_dir.endswith(".npz") and os.path.isfile(data_dir):
    return data_dir
  path = os.path.join(data_dir, NPZ_FILENAME)
  return path if os.path.isfile(path) else None


def _has_tfds_mnist(data_dir):
  if not os.path.isdir(os.path.join(data_dir, "mnist")):
    return False
  try:
    import tensorflow_datasets  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return False
  return True


def _load_npz(path):
  """x_train as uint8 [N, 28, 28]."""
  try:
    with np.load(path) as npz:
      images = np.asarray(npz["x_train"])
  except (OSError, ValueError, KeyError) as e:
    raise _error(path, f"cannot be read as mnist ({type(e).__name__}: {e})") from e
  if images.ndim != 3 or images.shape[1:] != (28, 28):
    raise _error(path, f"has x_train of shape {images.shape}")
  return images.astype(np.uint8)


def load_labelled(data_dir):
  """(x_train uint8 [N, 28, 28], y_train int64 [N] in [0, 9]) of the npz in data_dir. Raises
  DatasetError when the npz is missing or has no y_train (a tfds mnist directory is not read for
  labels)."""
  path = _npz_path(data_dir)
  if path is None:
    raise _error(data_dir, f"has no {NPZ_FILENAME}, which the labels are read from")
  images = _load_npz(path)
  try:
    with np.load(path) as npz:
      labels = np.asarray(npz["y_train"]).astype(np.int64)
  except (OSError, ValueError, KeyError) as e:
    raise _error(path, f"has no readable y_train ({type(e).__name__}: {e})") from e
  if labels.shape != images.shape[:1] or labels.min() < 0 or labels.max() > 9:
    raise _error(path, f"has y_train of shape {labels.shape}; expected [{len(images)}] in 0-9")
  return images, labels


def to_observations(images, image_size, channels):
  """uint8 [b, 28, 28] -> float32 [b, S, S, C] in [-1, 1], as training serves them."""
  return _to_size(tf.convert_to_tensor(images), image_size, channels)


def describe(cfg):
  path = _npz_path(cfg.data_dir)
  where = f"local npz {path}" if path else f"tfds data_dir {cfg.data_dir} (download=False)"
  return f"mnist: {where}, served at {cfg.image_size}x{cfg.image_size}x{cfg.channels}"


def _to_size(batch, image_size, channels):
  """uint8 [b, 28, 28] -> float32 [b, S, S, C] in [-1, 1]: zero-pad to 32, else resize."""
  images = tf.cast(batch[..., None], tf.float32) / 255.0
  if image_size == 32:
    images = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]])
  else:
    images = tf.image.resize(images, [image_size, image_size], antialias=True)
  images = tf.clip_by_value(images, 0.0, 1.0) * 2.0 - 1.0
  return tf.tile(images, [1, 1, 1, channels]) if channels == 3 else images


def build(cfg, sharding):
  """Infinite MNIST: float32 [b, S, S, C] in [-1, 1], reshuffled every epoch."""
  path = _npz_path(cfg.data_dir)
  if path is not None:
    images = _load_npz(path)
    ds = tf.data.Dataset.from_tensor_slices(images)
    count = images.shape[0]
  elif _has_tfds_mnist(cfg.data_dir):
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
    ds = tfds.load("mnist", split="train", data_dir=cfg.data_dir, download=False)
    ds = ds.map(lambda ex: ex["image"][..., 0])
    count = 60_000
  else:
    raise _error(cfg.data_dir, f"has neither {NPZ_FILENAME} nor a prepared tfds 'mnist'")
  return pipeline.in_memory_epochs(ds, count, cfg, sharding,
                                   lambda b: _to_size(b, cfg.image_size, cfg.channels))
