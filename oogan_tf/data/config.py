"""The data configuration, its validation, and the one error type of the data layer."""
import dataclasses
import re

# One definition of the image shapes, the model's: data serves what the networks can take.
from oogan_tf.models.model_config import CHANNELS, IMAGE_SIZES

DATASETS = ("dsprites", "chairs", "celeba", "image_folder", "mnist", "digits", "fake")
# `--dataset=tfds:<name>[:split]`: a dataset prepared by tensorflow_datasets in --data_dir.
TFDS_PREFIX = "tfds:"
TFDS_DEFAULT_SPLIT = "train"
# tfds datasets whose factor labels oogan_tf.data.tfds_data wires into the metrics.
TFDS_GROUND_TRUTH = ("dsprites", "shapes3d", "smallnorb")
# A tfds builder name, optionally with a config ("builder/config"); versions are not accepted
# because ':' separates the split.
_TFDS_NAME = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?")
# A tfds split, slices included ("train", "test[:10%]", "train+test").
_TFDS_SPLIT = re.compile(r"[A-Za-z0-9_+%:\[\]-]+")


class DatasetError(ValueError):
  """A data problem the user can act on.

  The message names the dataset, the offending flag/field or file, the value, what was expected
  (layout, allowed values) and, for missing data, where it is published.
  """


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What to load and how to batch it.

  Attributes:
    name: one of DATASETS, or "tfds:<name>[:split]" (a tfds-prepared dataset in data_dir).
    data_dir: directory holding the files (chairs, celeba, image_folder, mnist; optional for
      dsprites, where it may hold the official npz; unused by fake).
    image_size: S of the square [S, S, C] output; 32/64/128/256 (dsprites: 32 or 64).
    channels: 1 (greyscale) or 3 (RGB); dsprites: 1.
    batch_size: the GLOBAL batch size; each input pipeline batches its per-replica share.
    seed: seeds shuffling, sampling and augmentation.
    shuffle_buffer: elements in the shuffle buffer of folder datasets.
    cache: "none", "memory", or a file-path prefix for an on-disk cache of decoded images.
    random_flip: horizontal flip with p = 0.5 (folder datasets only, as the reference).
  """
  name: str = "dsprites"
  data_dir: str | None = None
  image_size: int = 64
  channels: int = 1
  batch_size: int = 64
  seed: int = 0
  shuffle_buffer: int = 10_000
  cache: str = "none"
  random_flip: bool = True

  def __post_init__(self):
    validate(self)


def _fail(cfg, field, value, expected):
  raise DatasetError(f"dataset '{cfg.name}': {field}={value!r} is invalid; expected {expected}.")


def is_tfds(name):
  """Whether a --dataset value names a tfds-prepared dataset ("tfds:...")."""
  return isinstance(name, str) and name.startswith(TFDS_PREFIX)


def parse_tfds(name):
  """"tfds:<name>[:split]" -> (tfds builder name, split); DatasetError for a malformed value."""
  builder, colon, split = name[len(TFDS_PREFIX):].partition(":")
  split = split if colon else TFDS_DEFAULT_SPLIT
  if not _TFDS_NAME.fullmatch(builder) or not _TFDS_SPLIT.fullmatch(split):
    raise DatasetError(f"--dataset={name!r} is malformed; expected tfds:<name>[:split] with a "
                       "tfds builder name such as mnist, dsprites or celeb_a and an optional "
                       "split such as train or test[:10%] (default train).")
  return builder, split


# Class labels for the categorical code's accuracy (mnist: y_train of its npz).
LABELLED_DATASETS = ("digits", "mnist")


def has_ground_truth(name):
  """Whether the dataset `name` (a --dataset value) has factor labels for the metrics."""
  if is_tfds(name):
    return parse_tfds(name)[0] in TFDS_GROUND_TRUTH
  return name == "dsprites"


def validate(cfg):
  """Raises DatasetError naming the field, its value and the allowed values; returns cfg."""
  if is_tfds(cfg.name):
    parse_tfds(cfg.name)
  elif cfg.name not in DATASETS:
    raise DatasetError(f"unknown dataset name={cfg.name!r}; registered datasets: "
                       f"{', '.join(DATASETS)}, or tfds:<name>[:split] for a dataset prepared by "
                       "tensorflow_datasets in data_dir.")
  if cfg.image_size not in IMAGE_SIZES:
    _fail(cfg, "image_size", cfg.image_size, f"one of {IMAGE_SIZES}")
  if cfg.name == "dsprites" and cfg.image_size not in (32, 64):
    _fail(cfg, "image_size", cfg.image_size,
          "32 or 64 (dSprites is 64x64; 32 keeps every second row and column)")
  if cfg.channels not in CHANNELS:
    _fail(cfg, "channels", cfg.channels, f"one of {CHANNELS}")
  if cfg.name == "dsprites" and cfg.channels != 1:
    _fail(cfg, "channels", cfg.channels, "1 (dSprites is binary greyscale)")
  if not isinstance(cfg.seed, int):
    _fail(cfg, "seed", cfg.seed, "an integer")
  if not isinstance(cfg.batch_size, int) or cfg.batch_size < 1:
    _fail(cfg, "batch_size", cfg.batch_size, "a positive integer (the global batch size)")
  if not isinstance(cfg.shuffle_buffer, int) or cfg.shuffle_buffer < 1:
    _fail(cfg, "shuffle_buffer", cfg.shuffle_buffer, "a positive integer")
  if not isinstance(cfg.cache, str) or not cfg.cache:
    _fail(cfg, "cache", cfg.cache, "'none', 'memory' or a file-path prefix")
  return cfg
