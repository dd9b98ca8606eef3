"""scikit-learn's handwritten digits (`sklearn.datasets.load_digits`): 1,797 greyscale 8x8 images
of the digits 0-9 with their labels. The files ship inside scikit-learn, so this is a real,
labelled image dataset that trains offline (MNIST has to be copied in by hand).

Pixels are 0..16 in the source; images are upsampled bilinearly to the run's size and mapped to
[-1, 1] (16 -> 1, 0 -> -1).
"""
import functools

import numpy as np
import tensorflow as tf

from oogan_tf.data import pipeline

NUM_IMAGES = 1797
NUM_CLASSES = 10


@functools.lru_cache(maxsize=1)
def load() -> tuple[np.ndarray, np.ndarray]:
  """(images float32 [1797, 8, 8] in [0, 1], labels int64 [1797] in [0, 9]), in the file's
  order (the same on every machine)."""
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
  digits = load_digits()
  images = np.asarray(digits.images, np.float32) / 16.0
  return images, np.asarray(digits.target, np.int64)


def describe(cfg):
  return (f"digits: scikit-learn load_digits ({NUM_IMAGES:,} images, 8x8, labels 0-9), "
          f"upsampled bilinearly to {cfg.image_size}x{cfg.image_size}x{cfg.channels}")


def to_observations(images, image_size: int, channels: int):
  """float [b, 8, 8] in [0, 1] -> float32 [b, S, S, C] in [-1, 1] (bilinear upsampling)."""
  x = tf.image.resize(tf.convert_to_tensor(images, tf.float32)[..., None],
                      [image_size, image_size], method="bilinear")
  x = tf.clip_by_value(x, 0.0, 1.0) * 2.0 - 1.0
  return tf.tile(x, [1, 1, 1, channels]) if channels == 3 else x


def build(cfg, sharding):
  """Infinite digits: float32 [b, S, S, C] in [-1, 1], reshuffled every epoch (seeded by
  pipeline.resume_seed: a resumed run draws a fresh seeded order)."""
  images, _ = load()
  return pipeline.in_memory_epochs(tf.data.Dataset.from_tensor_slices(images), NUM_IMAGES, cfg,
                                   sharding,
                                   lambda b: to_observations(b, cfg.image_size, cfg.channels))
