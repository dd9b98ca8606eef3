"""Datasets prepared by tensorflow_datasets (`--dataset=tfds:<name>[:split]`), read offline.

The dataset must already be prepared in data_dir (data_dir/<name>/<version>/, e.g. by
`tfds build <name> --data_dir=DIR` on a machine that has the data, then copying DIR/<name>/):
nothing is ever downloaded, and GCS is never tried. Every example's `image` feature is resized
to S x S ignoring the aspect ratio (antialiased bilinear), converted to the configured channels
and mapped to [-1, 1].

For dsprites, shapes3d and smallnorb the factor labels are wired into the metrics
(`ground_truth`). Factor classes are the ranks of the label values present in the split: for
dsprites and shapes3d they equal tfds' labels; a smallNORB split holds 5 of the 10 instances
(the other 5 are in the other split), so its instance factor has 5 classes.
"""
import functools

import numpy as np
import tensorflow as tf

from oogan_tf.data import pipeline
from oogan_tf.data.config import DatasetError, TFDS_GROUND_TRUTH, parse_tfds
from oogan_tf.data.ground_truth import GroundTruthBase

# Per ground-truth dataset: (tfds label feature, factor name) in disentanglement_lib's factor
# order, and the largest pixel value tfds stores (its dsprites keeps the source file's {0, 1}).
# dsprites uses the factor names of oogan_tf.data.dsprites_render, which the generator metrics
# recognise. Checked against tfds 4.9.10's builder metadata (builder.info.features).
_FACTORS = {
    "dsprites": dict(labels=(("label_shape", "shape"), ("label_scale", "scale"),
                             ("label_orientation", "orientation"), ("label_x_position", "posX"),
                             ("label_y_position", "posY")), pixel_max=1.0),
    "shapes3d": dict(labels=(("label_floor_hue", "floor_hue"), ("label_wall_hue", "wall_hue"),
                             ("label_object_hue", "object_hue"), ("label_scale", "scale"),
                             ("label_shape", "shape"), ("label_orientation", "orientation")),
                     pixel_max=255.0),
    "smallnorb": dict(labels=(("label_category", "category"), ("instance", "instance"),
                              ("label_elevation", "elevation"), ("label_azimuth", "azimuth"),
                              ("label_lighting", "lighting")), pixel_max=255.0),
}
assert tuple(_FACTORS) == TFDS_GROUND_TRUTH
# Examples per batch while loading a ground-truth split into memory.
_LOAD_BATCH = 4096


def _tfds():
  # Deferred: importing tensorflow_datasets takes seconds, and only tfds: datasets need it.
  import tensorflow_datasets  # pylint: disable=import-outside-toplevel
  return tensorflow_datasets


def _pixel_max(name):
  return _FACTORS[name]["pixel_max"] if name in _FACTORS else 255.0


def _is_prepared(builder):
  # The existence check first: is_prepared() logs a warning for a missing folder, which would
  # add a second line to the one-line error.
  return builder.data_path.exists() and builder.is_prepared()


def prepared_builder(cfg):
  """(tfds builder, split) of a validated tfds: cfg; DatasetError unless it is prepared."""
  name, split = parse_tfds(cfg.name)
  how = (f"nothing is downloaded: prepare it where the data is (`tfds build {name} "
         f"--data_dir=DIR`) and copy DIR/{name.split('/')[0]}/ into --data_dir")
  if not cfg.data_dir:
    raise DatasetError(f"--dataset={cfg.name!r} needs --data_dir, the tfds data_dir in which "
                       f"'{name}' is prepared; {how}.")
  tfds = _tfds()
  try:
    builder = tfds.builder(name, data_dir=cfg.data_dir, try_gcs=False)
  except tfds.core.registered.DatasetNotFoundError as e:
    raise DatasetError(f"--dataset={cfg.name!r}: tensorflow_datasets has no dataset {name!r} "
                       f"({str(e).splitlines()[0]}).") from e
  if not _is_prepared(builder):
    raise DatasetError(f"--dataset={cfg.name!r} is not prepared in --data_dir={cfg.data_dir!r} "
                       f"(expected {builder.data_path}/ with dataset_info.json); {how}.")
  if "image" not in builder.info.features:
    raise DatasetError(f"--dataset={cfg.name!r} has no 'image' feature (features: "
                       f"{', '.join(builder.info.features)}); expected an image dataset.")
  return builder, split


def _read(builder, cfg, split, **kwargs):
  """builder.as_dataset in the stored order; DatasetError for a split it does not have."""
  try:
    # Files in their stored order: the pipelines shuffle with their own seeds, so that a
    # resumed run can replay the order exactly.
    return builder.as_dataset(split=split, shuffle_files=False, **kwargs)
  except (ValueError, KeyError) as e:
    raise DatasetError(f"--dataset={cfg.name!r}: split {split!r} cannot be read from "
                       f"--data_dir={cfg.data_dir!r} ({e}); splits: "
                       f"{', '.join(builder.info.splits) or 'unknown'}.") from e


def to_observations(images, image_size, channels, pixel_max=255.0):
  """uint8 [..., H, W, C0] in [0, pixel_max] -> float32 [..., S, S, channels] in [-1, 1].

  C0 and channels are 1 or 3 (RGB -> luma, or grey replicated); H, W may be unknown.
  """
  x = tf.cast(images, tf.float32) / pixel_max
  if x.shape[-1] == 3 and channels == 1:
    x = tf.image.rgb_to_grayscale(x)
  elif x.shape[-1] == 1 and channels == 3:
    x = tf.image.grayscale_to_rgb(x)
  if x.shape[-3] != image_size or x.shape[-2] != image_size:
    x = tf.image.resize(x, [image_size, image_size], method="bilinear", antialias=True)
  return tf.clip_by_value(x, 0.0, 1.0) * 2.0 - 1.0


def describe(cfg):
  builder, split = prepared_builder(cfg)
  return (f"{cfg.name}: tfds '{builder.name}' split '{split}' in {builder.data_path} "
          f"(download=False), served at {cfg.image_size}x{cfg.image_size}x{cfg.channels}")


def build(cfg, sharding):
  """Infinite tfds images: float32 [b, S, S, C] in [-1, 1], every image once per epoch.

  Epoch e of pipeline p is its shard (every num_pipelines-th example from p, in the stored order)
  shuffled with a cfg.shuffle_buffer buffer seeded by (cfg.seed, e), so batch k is the same
  whether the run started at 0 or resumes at k: a resume skips the served examples of its epoch
  still encoded (no image decoding).
  """
  builder, split = prepared_builder(cfg)
  name = parse_tfds(cfg.name)[0]
  feature = builder.info.features["image"]
  encoded = _read(builder, cfg, split, decoders={"image": _tfds().decode.SkipDecoding()})
  encoded = encoded.map(lambda ex: ex["image"]).shard(sharding.num_pipelines,
                                                       sharding.pipeline_id)
  count = int(encoded.cardinality())
  if count < 0:  # Unknown cardinality: count the (undecoded) records once.
    count = int(encoded.reduce(np.int64(0), lambda n, _: n + 1))
  if count == 0:
    raise DatasetError(f"--dataset={cfg.name!r}: input pipeline {sharding.pipeline_id} of "
                       f"{sharding.num_pipelines} has no examples in --data_dir="
                       f"{cfg.data_dir!r}; expected a non-empty split.")
  buffer = min(cfg.shuffle_buffer, count)

  def epoch(e):
    # The op seed below is a tensor. tf's get_seed compares (global seed, op seed) with (0, 0),
    # which raises for a tensor when the global seed is 0 (keras.utils.set_random_seed(0), as a
    # --seed=0 run sets before it builds its data), and otherwise mixes the global seed into
    # the order. Without a seed on this function's graph the order is a function of
    # (cfg.seed, epoch) alone.
    tf.compat.v1.get_default_graph().seed = None
    seed = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(cfg.seed, tf.int64), e]),
                                       minval=None, maxval=None, dtype=tf.int64)
    return encoded.shuffle(buffer, seed=seed)

  def decode(data):
    image = feature.decode_example(data)
    return to_observations(image, cfg.image_size, cfg.channels, _pixel_max(name))

  first_epoch, offset = divmod(sharding.start_batch * sharding.batch_size, count)
  ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch).skip(offset)
  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return pipeline.batch_and_prefetch(ds, sharding.batch_size)


class GroundTruthData(GroundTruthBase):
  """Images and factor classes of a tfds split held in memory, in the disentanglement_lib API.

  Factor classes are int64 ranks of the label values present (see the module docstring). When
  the split holds every combination of its factor classes exactly once (dsprites, shapes3d,
  each smallnorb split), factors are sampled uniformly per factor and each combination has one
  image. Otherwise factors are those of uniformly sampled rows, and observations of a
  combination absent from the split are drawn among the rows sharing the factors that are
  constant over the request (the FactorVAE and beta-VAE "fix one factor" batches).

  Attributes:
    factor_names, factor_sizes, num_factors: the factors, in the order of the label table.
    observation_shape: (S, S, C).
    source: where the data came from.
    full_grid: whether every factor combination is present exactly once.
  """

  def __init__(self, images, labels, factor_names, image_size, channels, pixel_max=255.0,
               source=""):
    """images: uint8 [N, H, W, C0]; labels: int [N, F] raw label values."""
    self._images = images
    self._image_size = image_size
    self._channels = channels
    self._pixel_max = pixel_max
    self.source = source
    self.factor_names = tuple(factor_names)
    self.num_factors = len(self.factor_names)
    self.observation_shape = (image_size, image_size, channels)
    columns = [np.unique(np.asarray(labels)[:, f], return_inverse=True)
               for f in range(self.num_factors)]
    self._classes = np.stack([inverse.reshape(-1) for _, inverse in columns], axis=1)
    self._classes = self._classes.astype(np.int64)
    self.factor_sizes = tuple(len(values) for values, _ in columns)
    flat = np.ravel_multi_index(self._classes.T, self.factor_sizes)
    self._order = np.argsort(flat, kind="stable")
    self._sorted_flat = flat[self._order]
    self.full_grid = (len(flat) == int(np.prod(self.factor_sizes))
                      and bool(np.all(np.diff(self._sorted_flat) > 0)))

  @property
  def num_images(self):
    return self._images.shape[0]

  def sample_factors(self, num, random_state):
    """Factor classes int64 [num, F]."""
    if self.full_grid:
      return super().sample_factors(num, random_state)
    return self._classes[random_state.randint(self.num_images, size=num)]

  def _rows_of(self, factors, random_state):
    """int [num, F] factor classes -> int64 [num] rows (uniform among equal combinations)."""
    factors = np.asarray(factors, dtype=np.int64)
    if np.any(factors < 0) or np.any(factors >= np.asarray(self.factor_sizes)):
      raise DatasetError(f"{self.source}: factor classes must lie in [0, {self.factor_sizes}); "
                         f"got min {factors.min(axis=0).tolist()}, max "
                         f"{factors.max(axis=0).tolist()}.")
    flat = np.ravel_multi_index(factors.T, self.factor_sizes)
    left = np.searchsorted(self._sorted_flat, flat, side="left")
    count = np.searchsorted(self._sorted_flat, flat, side="right") - left
    picks = left + (random_state.random_sample(len(flat)) * count).astype(np.int64)
    rows = self._order[np.minimum(picks, len(self._order) - 1)]
    absent = np.flatnonzero(count == 0)
    if absent.size:
      fixed = np.flatnonzero(np.all(factors == factors[:1], axis=0)) if len(factors) > 1 else []
      candidates = np.flatnonzero(np.all(self._classes[:, fixed] == factors[0, fixed], axis=1))
      if not len(fixed) or not candidates.size:
        raise DatasetError(f"{self.source}: no image has factor classes "
                           f"{factors[absent[0]].tolist()} ({', '.join(self.factor_names)}), "
                           "and no factor is fixed over the request to sample by instead.")
      rows[absent] = candidates[random_state.randint(candidates.size, size=absent.size)]
    return rows

  def sample_observations_from_factors(self, factors, random_state):
    """Images of the factor classes int [num, F]: float32 [num, S, S, C] in [-1, 1]."""
    images = self._images[self._rows_of(factors, random_state)]
    return to_observations(images, self._image_size, self._channels, self._pixel_max).numpy()


@functools.lru_cache(maxsize=1)
def _load_split(dataset, data_dir):
  """(uint8 images [N, H, W, C0], int64 labels [N, F], source) of a tfds split, read once.

  Cached so that periodic evaluation during training reads the split from disk only once.
  """
  from oogan_tf.data.config import DataConfig  # pylint: disable=import-outside-toplevel
  cfg = DataConfig(name=dataset, data_dir=data_dir)
  builder, split = prepared_builder(cfg)
  keys = [key for key, _ in _FACTORS[builder.name]["labels"]]
  missing = [k for k in keys if k not in builder.info.features]
  if missing:
    raise DatasetError(f"--dataset={dataset!r} in --data_dir={data_dir!r} lacks the label "
                       f"feature(s) {missing}; expected {keys}.")
  ds = _read(builder, cfg, split).map(
      lambda ex: (ex["image"], tf.stack([tf.cast(ex[k], tf.int64) for k in keys], axis=-1)))
  images, labels = [], []
  for image_batch, label_batch in _tfds().as_numpy(ds.batch(_LOAD_BATCH)):
    images.append(image_batch)
    labels.append(label_batch)
  if not images:
    raise DatasetError(f"--dataset={dataset!r}: split {split!r} in --data_dir={data_dir!r} is "
                       "empty; expected the images with their factor labels.")
  source = f"tfds '{builder.name}' split '{split}' in {builder.data_path}"
  return np.concatenate(images), np.concatenate(labels), source


def ground_truth(cfg):
  """GroundTruthData of a validated tfds: cfg whose dataset is in TFDS_GROUND_TRUTH."""
  name = parse_tfds(cfg.name)[0]
  images, labels, source = _load_split(cfg.name, cfg.data_dir)
  return GroundTruthData(images, labels, [factor for _, factor in _FACTORS[name]["labels"]],
                         cfg.image_size, cfg.channels, _FACTORS[name]["pixel_max"], source)
