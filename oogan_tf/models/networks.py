"""The three networks of a run and the checkpoint layout that holds them.

The trainer, the exporter (restore_for_serving), the baselines and evaluation build networks
here, so a checkpoint written by one is read by the others with the same object names:
`step`, `generator`, `ema_generator`, `discriminator`, and, in training checkpoints only, the
optimisers `opt_d`, `opt_g`, `opt_info` and `ortho_optimizers` (a dict by orthogonal layer name).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from oogan_tf.models.discriminator import Discriminator
from oogan_tf.models.generator import Generator
from oogan_tf.models.model_config import ModelConfig
from oogan_tf.models.stylegan import StyleDiscriminator, StyleGenerator


class Networks(NamedTuple):
  """generator: the trained G; ema_generator: its parameter EMA (what is exported);
  discriminator: D with its real/fake and Q heads."""
  generator: Generator | StyleGenerator
  ema_generator: Generator | StyleGenerator
  discriminator: Discriminator | StyleDiscriminator


def build_networks(cfg: ModelConfig) -> Networks:
  """Freshly initialised networks of cfg's architecture (g_type stylegan: the StyleGAN-based
  ones), with all variables created (so a checkpoint can be restored into them at once). Build
  inside a strategy scope to distribute."""
  g, d = ((StyleGenerator, StyleDiscriminator) if cfg.g_type == "stylegan"
          else (Generator, Discriminator))
  return Networks(g(cfg, name="generator").build_for(), g(cfg, name="ema_generator").build_for(),
                  d(cfg, name="discriminator").build_for())


def checkpoint_of(step: tf.Variable, networks: Networks, **optimizers) -> tf.train.Checkpoint:
  """The run's checkpoint object: `step` (int64 iteration), the networks and, for training, the
  optimisers by name (opt_d, opt_g, opt_info, ortho_optimizers)."""
  return tf.train.Checkpoint(step=step, generator=networks.generator,
                             ema_generator=networks.ema_generator,
                             discriminator=networks.discriminator, **optimizers)


def update_ema(networks: Networks, decay: float) -> None:
  """One EMA step of the EMA generator's parameters towards G's: ema = decay ema + (1 - decay) g.
  (Buffers are not averaged; copy_non_trainable gives the EMA G the live G's.)"""
  for ema, var in zip(networks.ema_generator.trainable_variables,
                      networks.generator.trainable_variables):
    ema.assign(decay * ema + (1.0 - decay) * var)
