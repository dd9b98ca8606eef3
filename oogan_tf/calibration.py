"""BatchNorm statistics that match what is sampled, served and scored.

Two mismatches of the training-time running statistics (reference-notes: the released code keeps
them as they are):

* The EMA generator averages the live G's *parameters* only; its BatchNorm statistics are copied
  from the live G, whose weights differ from the EMA's (early in training by a lot). "Standing"
  statistics fix that: run the EMA weights in training mode on a number of batches of their own
  inputs and take the cumulative average of the batch statistics (`standing_generator_statistics`).
* D's running statistics blend its five training calls per iteration (real, fake, interpolates,
  fake for the G step, fake for the info step), of which real images are about a fifth, while
  `encode` scores real images. `recalibrated_discriminator` recomputes them on real images for
  the duration of an export and puts the training state back afterwards.

Both recompute only BatchNorm running means and variances; every other non-trainable variable
(spectral-norm vectors, which a training-mode call would also move) is restored.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import keras
import tensorflow as tf

from oogan_tf import codes as codes_lib
from oogan_tf import data as data_lib
from oogan_tf.config import TrainConfig

# Real-image stream for recalibration: an offset seed, so it is not the training stream.
_RECALIBRATION_SEED_OFFSET = 7919
# Seed of the standing statistics' code draws (fixed: the same weights give the same statistics).
_STANDING_SEED = 104729


def batch_norm_layers(model: keras.Model) -> list:
  """Every BatchNormalization layer inside `model` (our fused BatchNorm subclasses it)."""
  return [layer for layer in model._flatten_layers(include_self=False, recursive=True)  # pylint: disable=protected-access
          if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_statistics(model: keras.Model, call: Callable[[object], object],
                         batches: Iterable) -> int:
  """Replaces `model`'s BatchNorm running statistics by their average over `batches`.

  `call(batch)` must run `model` in training mode (e.g. `lambda x: D(x, training=True)`). Batch k
  (1-based) is folded in with momentum (k-1)/k, so after K batches each running mean / variance
  is the plain average of the K batch means / unbiased batch variances. Runs eagerly (momentum is
  read when the layer is called). Non-trainable variables that are not BatchNorm statistics are
  restored afterwards. Returns K; with K = 0, or a model without BatchNorm (the StyleGAN
  networks), nothing changes and 0 is returned.
  """
  layers = batch_norm_layers(model)
  if not layers:
    return 0
  stats = {id(v) for layer in layers for v in (layer.moving_mean, layer.moving_variance)}
  others = [v for v in model.non_trainable_variables if id(v) not in stats]
  saved = [v.numpy() for v in others]
  momenta = [layer.momentum for layer in layers]
  count = 0
  try:
    for count, batch in enumerate(batches, start=1):
      for layer in layers:
        layer.momentum = (count - 1) / count
      call(batch)
  finally:
    for layer, momentum in zip(layers, momenta):
      layer.momentum = momentum
    for v, value in zip(others, saved):
      v.assign(value)
  return count


def generator_inputs(cfg: TrainConfig, num_batches: int) -> Iterator[tuple]:
  """(code [B, C + K], z [B, Z] ~ N(0, I)) float32 batches, B = cfg.batch_size: c ~ U(0, 1)
  (then one_hot(k), k uniform, when the model has a categorical code of K categories).

  Uniform codes, the distribution the export samples from (sample_from_seed, traversal bases):
  training-mode BatchNorm normalises each batch with its own statistics, so a one-hot or
  dominant batch of the training schedule is normalised by statistics a served uniform code
  never sees; the standing statistics are those of the uniform batches.
  """
  m = cfg.model
  for k in range(num_batches):
    sample = codes_lib.sample_codes(codes_lib.step_key(_STANDING_SEED, k, 0), k, cfg.batch_size,
                                    m.c_dim, m.z_dim, "uniform", m.cat_dim)
    yield codes_lib.generator_code(sample.c, sample.category, m.cat_dim), sample.z


def standing_generator_statistics(generator: keras.Model, cfg: TrainConfig,
                                  num_batches: int | None = None) -> int:
  """Gives `generator` (the EMA G) standing BatchNorm statistics of its own weights.

  num_batches defaults to cfg.standing_stats_batches; 0 leaves the statistics as they are.
  Returns the number of batches used.
  """
  n = cfg.standing_stats_batches if num_batches is None else num_batches
  return recompute_statistics(generator, lambda inputs: generator(inputs, training=True),
                              generator_inputs(cfg, n))


def real_batches(cfg: TrainConfig, num_batches: int) -> Iterator[tf.Tensor]:
  """`num_batches` batches of real training images float32 [B, S, S, ch] in [-1, 1].

  Raises data_lib.DatasetError (naming the field) when the run's data cannot be read.
  """
  if num_batches <= 0:
    return iter(())
  dataset = data_lib.build_dataset(cfg.data_config(_RECALIBRATION_SEED_OFFSET))
  return iter(dataset.take(num_batches))


@contextlib.contextmanager
def recalibrated_discriminator(discriminator: keras.Model, cfg: TrainConfig,
                               num_batches: int | None = None):
  """Within the block, D's BatchNorm statistics are those of real images; restored on exit.

  num_batches defaults to cfg.encoder_recalibration_batches (0: unchanged). Yields the number of
  batches used.
  """
  n = cfg.encoder_recalibration_batches if num_batches is None else num_batches
  layers = batch_norm_layers(discriminator)
  saved = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
  try:
    yield recompute_statistics(discriminator, lambda x: discriminator(x, training=True),
                               real_batches(cfg, n))
  finally:
    for layer, (mean, variance) in zip(layers, saved):
      layer.moving_mean.assign(mean)
      layer.moving_variance.assign(variance)


def describe(standing_batches: int, recalibration_batches: int, batch_size: int) -> dict:
  """The export metadata's `bn_statistics` entry."""
  return {
      "generator": (f"standing: average of {standing_batches} training-mode batches of "
                    f"{batch_size} EMA-G samples" if standing_batches else
                    "the live generator's running statistics (reference)"),
      "encoder": (f"recalibrated on {recalibration_batches} batches of {batch_size} real images"
                  if recalibration_batches else
                  "D's training running statistics (blend of its five calls per iteration)"),
      "standing_stats_batches": int(standing_batches),
      "encoder_recalibration_batches": int(recalibration_batches),
  }

