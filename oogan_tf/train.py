"""Entry point: python -m oogan_tf.train --flagfile=flags/<preset>.flags [--flag=value ...]

Flags are turned into one validated, frozen TrainConfig (later flags win over the flagfile); the
library never reads FLAGS. `--dry_run` prints the resolved config and parameter counts and exits.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags

from oogan_tf.config import PRECISIONS, STRATEGIES, TrainConfig
from oogan_tf.codes import SCHEDULES
from oogan_tf.models.model_config import G_TYPES, Q_TYPES, SPECTRAL_NORM, UPSAMPLE, ModelConfig

_d = TrainConfig()
_m = ModelConfig()

# Model.
flags.DEFINE_integer("image_size", _m.image_size, "Square image size S: 32, 64, 128 or 256.")
flags.DEFINE_integer("channels", _m.channels, "Image channels: 1 (greyscale) or 3 (RGB).")
flags.DEFINE_integer("c_dim", _m.c_dim, "Number of continuous control codes C (>= 1).")
flags.DEFINE_integer("z_dim", _m.z_dim, "Noise size Z (>= 2 with the compete-free G).")
flags.DEFINE_enum("g_type", _m.g_type, G_TYPES, "Generator input block: oogan (compete-free) or "
                  "infogan (ablation).")
flags.DEFINE_enum("q_type", _m.q_type, Q_TYPES, "Q head: oogan (orthogonal) or infogan.")
flags.DEFINE_bool("probabilistic_q", _m.probabilistic_q, "Q predicts [mu | log sigma] (Gaussian "
                  "NLL) instead of point estimates (L1).")
flags.DEFINE_bool("learned_constant", _m.learned_constant, "Add G's learned 4x4 constant (paper); "
                  "false = the released code.")
flags.DEFINE_enum("spectral_norm", _m.spectral_norm, SPECTRAL_NORM, "Spectral-norm placement: "
                  "reference (released code) or all (paper).")
flags.DEFINE_enum("upsample", _m.upsample, UPSAMPLE, "G upsampling: nearest (code) or bilinear.")
flags.DEFINE_integer("ngf", _m.ngf, "G base width (64 in the paper).")
flags.DEFINE_integer("ndf", _m.ndf, "D base width (64 in the paper).")
# Data.
flags.DEFINE_string("dataset", _d.dataset, "Dataset: dsprites, chairs, celeba, image_folder, "
                    "mnist or fake.")
flags.DEFINE_string("data_dir", None, "Directory with the dataset files (see README).")
flags.DEFINE_string("cache", _d.cache, "none, memory, or a file prefix for an on-disk cache.")
flags.DEFINE_integer("batch_size", _d.batch_size, "Global batch size.")
# Optimisation.
flags.DEFINE_integer("train_steps", _d.train_steps, "Total training iterations.")
flags.DEFINE_integer("steps_per_loop", _d.steps_per_loop, "Iterations per compiled call.")
flags.DEFINE_float("learning_rate", _d.learning_rate, "Adam learning rate of D, G and info.")
flags.DEFINE_float("beta_1", _d.beta_1, "Adam beta_1.")
flags.DEFINE_float("beta_2", _d.beta_2, "Adam beta_2.")
flags.DEFINE_float("gp_weight", _d.gp_weight, "Gradient-penalty weight (0 = off).")
flags.DEFINE_float("lambda_info", _d.lambda_info, "Weight of the code reconstruction loss.")
flags.DEFINE_float("gamma_onehot", _d.gamma_onehot, "Weight of the one-hot cross-entropy.")
flags.DEFINE_enum("code_schedule", _d.code_schedule, SCHEDULES, "c sampling: reference "
                  "(uniform/one-hot/dominant), paper (50/50) or uniform (no one-hot ablation).")
flags.DEFINE_bool("orthogonal_reg", _d.orthogonal_reg, "Orthogonal regularisation of Q.")
flags.DEFINE_integer("instance_noise_steps", _d.instance_noise_steps, "Anneal Gaussian noise on "
                     "real images from sigma 1 to 0 over this many iterations (0 = off).")
flags.DEFINE_float("ema_decay", _d.ema_decay, "EMA decay of G's parameters.")
flags.DEFINE_enum("precision", _d.precision, PRECISIONS, "Compute precision.")
flags.DEFINE_bool("jit_compile", _d.jit_compile, "XLA-compile the train step.")
flags.DEFINE_enum("strategy", _d.strategy, STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_integer("num_gpus", _d.num_gpus, "GPUs for --strategy=mirrored (0 = all).")
flags.DEFINE_integer("seed", _d.seed, "Seed of variables, codes and data order.")
flags.DEFINE_integer("sample_seed", _d.sample_seed, "Seed of the fixed sample/traversal inputs.")
# Run directory.
flags.DEFINE_string("model_dir", None, "Run directory (created, or resumed if it holds a run).")
flags.DEFINE_integer("checkpoint_every_steps", _d.checkpoint_every_steps, "Checkpoint interval.")
flags.DEFINE_integer("sample_every_steps", _d.sample_every_steps, "Sample-grid interval.")
flags.DEFINE_integer("keep_checkpoints", _d.keep_checkpoints, "Checkpoints kept.")
flags.DEFINE_bool("export_at_end", _d.export_at_end, "Export a SavedModel when training ends.")
flags.DEFINE_integer("eval_every_steps", _d.eval_every_steps, "Evaluate disentanglement on "
                     "dSprites every N iterations into TensorBoard eval/ (0 = never).")
flags.DEFINE_string("eval_metrics", _d.eval_metrics, "Metrics of --eval_every_steps.")
flags.DEFINE_float("eval_sizes_scale", _d.eval_sizes_scale, "Sample-size scale of those metrics.")
flags.DEFINE_bool("dry_run", False, "Print the resolved config and parameter counts, then exit.")

FLAGS = flags.FLAGS


def config_from_flags(f=FLAGS) -> TrainConfig:
  """Builds and validates the TrainConfig from parsed flags (ValueError names the bad flag)."""
  model = ModelConfig(image_size=f.image_size, channels=f.channels, c_dim=f.c_dim,
                      z_dim=f.z_dim, g_type=f.g_type, q_type=f.q_type,
                      probabilistic_q=f.probabilistic_q, learned_constant=f.learned_constant,
                      spectral_norm=f.spectral_norm, upsample=f.upsample, ngf=f.ngf, ndf=f.ndf)
  return TrainConfig(
      model=model, dataset=f.dataset, data_dir=f.data_dir, cache=f.cache,
      batch_size=f.batch_size, train_steps=f.train_steps, steps_per_loop=f.steps_per_loop,
      learning_rate=f.learning_rate, beta_1=f.beta_1, beta_2=f.beta_2, gp_weight=f.gp_weight,
      lambda_info=f.lambda_info, gamma_onehot=f.gamma_onehot, code_schedule=f.code_schedule,
      orthogonal_reg=f.orthogonal_reg, instance_noise_steps=f.instance_noise_steps,
      ema_decay=f.ema_decay, precision=f.precision, jit_compile=f.jit_compile,
      strategy=f.strategy, num_gpus=f.num_gpus, seed=f.seed, sample_seed=f.sample_seed,
      checkpoint_every_steps=f.checkpoint_every_steps, sample_every_steps=f.sample_every_steps,
      keep_checkpoints=f.keep_checkpoints, export_at_end=f.export_at_end,
      eval_every_steps=f.eval_every_steps, eval_metrics=f.eval_metrics,
      eval_sizes_scale=f.eval_sizes_scale, model_dir=f.model_dir)


def dry_run(cfg: TrainConfig) -> None:
  """Prints the resolved config and the trainable parameter counts of every part."""
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf import train_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.trainer import Trainer  # pylint: disable=g-import-not-at-top
  data_lib.validate(train_lib.data_config(cfg))
  print(cfg.to_json())
  for name, count in Trainer(cfg).parameter_counts().items():
    print(f"params/{name}: {count:,}")


def main(argv):
  del argv
  try:
    cfg = config_from_flags()
  except ValueError as e:
    sys.exit(f"error: {e}")
  if FLAGS.dry_run:
    dry_run(cfg)
    return
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf import train_lib  # pylint: disable=g-import-not-at-top
  try:
    train_lib.train(cfg, command_line=" ".join(sys.argv))
  except (train_lib.RunDirectoryError, data_lib.DatasetError) as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  app.run(main)
