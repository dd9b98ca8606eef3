"""Folder datasets: 3D chairs, CelebA and any tree of images, with the reference preprocessing.

Files are listed once (sorted, so the order is reproducible), decoded with Pillow in parallel
tf.data workers, resized to S + floor(0.15 S) square ignoring the aspect ratio (antialiased), centre
cropped to S, randomly flipped (p = 0.5) and mapped to [-1, 1]. Unreadable files (corrupt,
truncated, not an image) are skipped and counted in the log instead of stopping a run; images
smaller than the resize target are upscaled with a warning.
"""
import functools
import io
import os
import threading

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image

from oogan_tf.data import pipeline
from oogan_tf.data.config import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

_LAYOUTS = {
    "chairs": dict(
        subdir="rendered_chairs",
        pattern="rendered_chairs/<chair_id>/renders/*.png",
        published=("the 3D Chairs renders of Aubry et al., CVPR 2014 ('rendered_chairs.tar', "
                   "86,366 images, https://www.di.ens.fr/willow/research/seeing3Dchairs/); "
                   "unpack it so that data_dir contains rendered_chairs/")),
    "celeba": dict(
        subdir="img_align_celeba",
        pattern="img_align_celeba/*.jpg",
        published=("CelebA 'Align&Cropped Images' (img_align_celeba.zip, 202,599 images, "
                   "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html); unzip it so that data_dir "
                   "contains img_align_celeba/ (or point data_dir at that folder)")),
    "image_folder": dict(
        subdir=None,
        pattern="any tree of *.png/*.jpg/*.jpeg/*.bmp/*.gif files under data_dir",
        published="your own images"),
}


def resize_target(image_size):
  """The side the reference resizes to before the centre crop: S + floor(0.15 S)."""
  return image_size + (15 * image_size) // 100


def _layout_error(name, data_dir, problem):
  layout = _LAYOUTS[name]
  prefix = "data_dir/" if layout["subdir"] else ""
  return DatasetError(f"dataset '{name}': data_dir={data_dir!r} {problem}; expected layout: "
                      f"{prefix}{layout['pattern']}; data: {layout['published']}.")


def _is_image(filename):
  return filename.lower().endswith(IMAGE_EXTENSIONS)


@functools.lru_cache(maxsize=8)
def list_files(name, data_dir):
  """Sorted tuple of the image paths of a folder dataset; DatasetError when none are found.

  Listed once per (name, data_dir) per process: CelebA alone has 202,599 files.
  """
  if not data_dir:
    raise _layout_error(name, data_dir, "is not set (pass --data_dir)")
  if not os.path.isdir(data_dir):
    raise _layout_error(name, data_dir, "does not exist or is not a directory")
  if name == "chairs":
    # Accept data_dir holding rendered_chairs/ or being rendered_chairs/ itself.
    root = os.path.join(data_dir, "rendered_chairs")
    root = root if os.path.isdir(root) else data_dir
    files = []
    for chair in sorted(os.listdir(root)):
      renders = os.path.join(root, chair, "renders")
      if os.path.isdir(renders):
        files.extend(os.path.join(renders, f) for f in sorted(os.listdir(renders))
                     if f.lower().endswith(".png"))
  elif name == "celeba":
    root = os.path.join(data_dir, "img_align_celeba")
    root = root if os.path.isdir(root) else data_dir
    files = [os.path.join(root, f) for f in sorted(os.listdir(root)) if _is_image(f)]
  else:
    files = []
    for parent, dirs, names in os.walk(data_dir):
      dirs.sort()
      files.extend(os.path.join(parent, f) for f in sorted(names) if _is_image(f))
  if not files:
    raise _layout_error(name, data_dir, "holds no image files")
  return tuple(files)


class Decoder:
  """Pillow decode + resize + centre crop of one file, safe to call from parallel tf.data workers.

  Returns (uint8 [S, S, C], ok). Unreadable files give ok = False; each is logged once with the
  running count of skipped files, and remembered so that later epochs skip it without reopening.
  """

  def __init__(self, name, image_size, channels, num_files):
    self._name = name
    self._size = image_size
    self._target = resize_target(image_size)
    self._mode = "RGB" if channels == 3 else "L"
    self._channels = channels
    self._num_files = num_files
    self._lock = threading.Lock()
    self._bad = set()
    self._upscaled = 0

  def _load(self, path):
    with open(path, "rb") as f:
      data = f.read()
    with Image.open(io.BytesIO(data)) as im:
      im.load()  # Forces the full decode, so that truncated files fail here.
      width, height = im.size
      im = im.convert(self._mode)
      # Pillow's bilinear resize widens its kernel when downscaling, i.e. it antialiases, as the
      # reference's torchvision Resize on PIL images does.
      im = im.resize((self._target, self._target), Image.BILINEAR)
    if min(width, height) < self._target:
      with self._lock:
        self._upscaled += 1
        count = self._upscaled
      if count == 1 or count % 1000 == 0:
        logging.warning("%s: %d image(s) smaller than the %dx%d resize target were upscaled "
                        "(e.g. %s, %dx%d); consider a smaller image_size.", self._name, count,
                        self._target, self._target, path, width, height)
    pixels = np.asarray(im, dtype=np.uint8).reshape(self._target, self._target, self._channels)
    top = int(round((self._target - self._size) / 2.0))
    return pixels[top:top + self._size, top:top + self._size]

  def __call__(self, path):
    path = path.decode("utf-8") if isinstance(path, bytes) else str(path)
    if path not in self._bad:
      try:
        return self._load(path), True
      except Exception as e:  # pylint: disable=broad-except
        # Any decoder failure (corrupt, truncated, not an image, decompression bomb) must skip
        # the file rather than end a run that may be days long.
        with self._lock:
          self._bad.add(path)
          skipped = len(self._bad)
        logging.warning("%s: skipped unreadable image %s (%s: %s); %d of %d file(s) skipped so "
                        "far.", self._name, path, type(e).__name__, e, skipped, self._num_files)
        if skipped == self._num_files:
          logging.error("%s: every one of the %d file(s) is unreadable; the dataset is empty.",
                        self._name, self._num_files)
    return np.zeros((self._size, self._size, self._channels), np.uint8), False


def describe(cfg):
  files = list_files(cfg.name, cfg.data_dir)
  return (f"{cfg.name}: {len(files):,} image files under {cfg.data_dir} "
          f"({_LAYOUTS[cfg.name]['pattern']}), served at {cfg.image_size}x{cfg.image_size}x"
          f"{cfg.channels}")


def build(cfg, sharding):
  """Infinite folder dataset: float32 [b, S, S, C] in [-1, 1], reshuffled every epoch."""
  files = list_files(cfg.name, cfg.data_dir)
  decoder = Decoder(cfg.name, cfg.image_size, cfg.channels, len(files))
  size, channels = cfg.image_size, cfg.channels
  seed = pipeline.resume_seed(cfg, sharding)

  def decode(path):
    image, ok = tf.numpy_function(decoder, [path], [tf.uint8, tf.bool], stateful=False)
    return tf.ensure_shape(image, [size, size, channels]), tf.ensure_shape(ok, [])

  ds = tf.data.Dataset.from_tensor_slices(list(files))
  ds = ds.shard(sharding.num_pipelines, sharding.pipeline_id)
  if cfg.cache == "none":
    # Shuffling the (cheap) file names gives a full-dataset shuffle before any decoding.
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.filter(lambda image, ok: ok).map(lambda image, ok: image)
  if cfg.cache != "none":
    ds = pipeline.apply_cache(ds, cfg.cache)
    ds = ds.shuffle(cfg.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
  ds = ds.repeat().enumerate(start=sharding.start_batch * sharding.batch_size)

  def augment(index, image):
    if cfg.random_flip:
      image = tf.image.stateless_random_flip_left_right(
          image, seed=tf.stack([tf.constant(seed, tf.int64), index]))
    return pipeline.to_unit_range(image)

  ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return pipeline.batch_and_prefetch(ds, sharding.batch_size)
