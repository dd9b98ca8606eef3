"""The absl flags of a training configuration, shared by the entry points that build one.

`define_config_flags()` defines one flag per TrainConfig / ModelConfig field (defaults from the
dataclasses); `config_from_flags(FLAGS)` turns the parsed values into a validated TrainConfig.
An entry point that gives a name another meaning (evaluate's --seed is the metric seed) passes it
in `skip` and defines its own (oogan_tf.shared_flags), so that train and evaluate can share one
process. `config_from_args([...])` parses argument lists (flagfiles included) on a private
FlagValues: the tools that build configs (tools/reproduce.py) use it.
"""

from __future__ import annotations

from typing import Sequence

from absl import flags

from oogan_tf import shared_flags
from oogan_tf.config import (GAN_LOSSES, INFO_UPDATES, ONE_HOT_SCOPES, POINT_Q_LOSSES, PRECISIONS,
                             SCHEDULES, STRATEGIES, TrainConfig)
from oogan_tf.data.config import DATASETS
from oogan_tf.models.model_config import (G_OUTPUTS, G_TYPES, Q_TYPES, SPECTRAL_NORM, UPSAMPLE,
                                          ModelConfig)


# The groups of `--help` (help_text); every configuration flag is in exactly one.
FLAG_GROUPS = {
    "data": ("dataset", "data_dir", "cache", "batch_size", "image_size", "channels"),
    "model": ("c_dim", "cat_dim", "z_dim", "g_type", "q_type", "probabilistic_q",
              "learned_constant", "spectral_norm", "upsample", "g_output", "d_batch_norm", "ngf",
              "ndf"),
    "stylegan": ("style_dim", "mapping_layers", "phase_steps", "fade_steps",
                 "stylegan_start_size", "style_mixing", "stylegan_block0_collapse", "stylegan_frozen_c_noise", "stylegan_refade_final",
                 "stylegan_loss_gates"),
    "training": ("train_steps", "steps_per_loop", "learning_rate", "lr_decay_start", "d_lr_ratio", "beta_1", "beta_2",
                 "gan_loss", "gp_weight", "lambda_info", "gamma_onehot", "lambda_cat", "point_q_loss", "cr_weight", "cr_start_step", "jacobian_ortho_weight", "code_schedule",
                 "one_hot_scope",
                 "orthogonal_reg", "reference_ortho_grads", "info_trains_trunk", "info_update", "info_noise", "instance_noise_steps", "ema_decay",
                 "precision", "jit_compile", "seed", "sample_seed"),
    "output": ("model_dir", "checkpoint_every_steps", "sample_every_steps", "keep_checkpoints",
               "export_at_end", "eval_every_steps", "eval_metrics", "eval_sizes_scale",
               "inception_weights", "standing_stats_batches", "encoder_recalibration_batches"),
    "distribution": ("strategy", "num_gpus"),
}


def help_requested(argv: list[str]) -> bool:
  """Whether a command line asks for the grouped help (--help, -h, -?, --helpshort)."""
  return any(a in ("--help", "-h", "-?", "--helpshort") for a in argv[1:])


def help_text(f, usage: str, extra_groups: dict[str, tuple[str, ...]] | None = None) -> str:
  """`usage`, then every defined flag of FLAG_GROUPS (and extra_groups) under its group, each
  with its help string and default. `--helpfull` still gives absl's complete list."""
  lines = [usage.strip(), ""]
  extra = extra_groups or {}
  # A program's own flag of a config name (evaluate's --seed) is listed with its own flags.
  claimed = {n for names in extra.values() for n in names}
  groups = {g: tuple(n for n in names if n not in claimed) for g, names in FLAG_GROUPS.items()}
  groups.update(extra)
  for group, names in groups.items():
    present = [n for n in names if n in f]
    if not present:
      continue
    lines.append(f"{group}:")
    for name in present:
      flag = f[name]
      default = ("(none)" if flag.default is None else str(flag.default).lower()
                 if isinstance(flag.default, bool) else str(flag.default))
      lines.append(f"  --{name}: {flag.help} (default: {default})")
    lines.append("")
  lines.append("Flags given after a --flagfile win over it; --helpfull lists every flag.")
  return "\n".join(lines)


def define_config_flags(skip: tuple[str, ...] = (),
                        flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """Defines the configuration flags on flag_values (absl's global FlagValues by default),
  except the names in skip and those defined already (shared_flags.define_if_absent)."""
  d, m = TrainConfig(), ModelConfig()
  integer, floating, boolean, string, enum = (flags.DEFINE_integer, flags.DEFINE_float,
                                              flags.DEFINE_bool, flags.DEFINE_string,
                                              flags.DEFINE_enum)
  table = [
      # Model.
      (integer, "image_size", m.image_size, "Square image size S: 32, 64, 128 or 256."),
      (integer, "channels", m.channels, "Image channels: 1 (greyscale) or 3 (RGB)."),
      (integer, "c_dim", m.c_dim, "Number of continuous control codes C (>= 1)."),
      (integer, "cat_dim", m.cat_dim, "Categories K of a categorical code beside c (0 = none, "
       "else >= 2; 10 for digits, the paper's Figure 15)."),
      (integer, "z_dim", m.z_dim, "Noise size Z (>= 2 with the compete-free G, >= 1 with oogan_broadcast)."),
      (enum, "g_type", m.g_type, G_TYPES,
       "Generator input block: oogan (compete-free), infogan (ablation), mlp (InfoGAN-CR's "
       "MLP on [c, z]; not OOGAN), broadcast (a spatial broadcast decoder: [c, z] tiled with "
       "pixel coordinates, 3x3 convs at full resolution; not OOGAN), oogan_broadcast (that "
       "decoder with the compete-free input: z's first-layer path gated by c); stylegan: the "
       "StyleGAN-based OOGAN (with --q_type=stylegan), progressive to --image_size."),
      (enum, "q_type", m.q_type, Q_TYPES, "Q head: oogan (released code), infogan (ablation), "
       "paper (Table 3) or stylegan (with --g_type=stylegan)."),
      (boolean, "probabilistic_q", m.probabilistic_q,
       "Q predicts [mu | log sigma] (Gaussian NLL) instead of point estimates (L1)."),
      (boolean, "learned_constant", m.learned_constant,
       "Add G's learned 4x4 constant (paper); false = the released code."),
      (enum, "spectral_norm", m.spectral_norm, SPECTRAL_NORM,
       "Spectral-norm placement: reference (released code), all (paper) or "
       "discriminator (every D conv, G as reference; InfoGAN-CR)."),
      (enum, "upsample", m.upsample, UPSAMPLE, "G upsampling: nearest (code) or bilinear."),
      (boolean, "d_batch_norm", m.d_batch_norm, "BatchNorm in D's down blocks (released code); "
       "false = none, as InfoGAN-CR's D (pair with --spectral_norm=discriminator)."),
      (enum, "g_output", m.g_output, G_OUTPUTS, "G's last activation: tanh (code) or sigmoid "
       "(Table 3; as 2 sigmoid - 1 on [-1, 1] data)."),
      (integer, "ngf", m.ngf, "G base width (64 in the paper)."),
      (integer, "ndf", m.ndf, "D base width (64 in the paper)."),
      # StyleGAN-based OOGAN (--g_type=stylegan).
      (integer, "style_dim", m.style_dim, "StyleGAN: width of the style w (512 in the paper)."),
      (integer, "mapping_layers", m.mapping_layers, "StyleGAN: mapping-network layers (8)."),
      (integer, "phase_steps", d.phase_steps, "StyleGAN: iterations per resolution phase "
       "(8, 16, ... px)."),
      (integer, "fade_steps", d.fade_steps, "StyleGAN: fade-in iterations at the start of "
       "each phase (<= --phase_steps)."),
      (integer, "stylegan_start_size", m.stylegan_start_size, "StyleGAN: resolution of the "
       "first phase (8 as the released code, whose --init-size is ignored)."),
      (floating, "style_mixing", d.style_mixing, "StyleGAN: probability of style mixing per "
       "iteration (0 as the released code, which ignores its --mixing)."),
      (boolean, "stylegan_block0_collapse", m.stylegan_block0_collapse, "StyleGAN: reproduce "
       "the released bug of a 4x4 valid conv collapsing the 4x4 level to 1x1."),
      (boolean, "stylegan_frozen_c_noise", d.stylegan_frozen_c_noise, "StyleGAN: reproduce the "
       "released bug of never training the code -> noise-map projections."),
      (boolean, "stylegan_refade_final", d.stylegan_refade_final, "StyleGAN: reproduce the "
       "released bug of the last phase fading in again every --phase_steps."),
      (boolean, "stylegan_loss_gates", d.stylegan_loss_gates, "StyleGAN: as the released "
       "code, drop the NLL term while >= 100 and the one-hot CE while >= 10 (logged as "
       "loss/info_*_dropped); false adds them always (diverged in our CPU runs)."),
      # Data.
      (string, "dataset", d.dataset,
       f"Dataset: {', '.join(DATASETS)}, or tfds:<name>[:split] (prepared by "
       "tensorflow_datasets in --data_dir; never downloaded)."),
      (string, "data_dir", None, "Directory with the dataset files (see README)."),
      (string, "cache", d.cache, "none, memory, or a file prefix for an on-disk cache."),
      (integer, "batch_size", d.batch_size, "Global batch size."),
      # Optimisation.
      (integer, "train_steps", d.train_steps, "Total training iterations."),
      (integer, "steps_per_loop", d.steps_per_loop, "Iterations per compiled call."),
      (floating, "learning_rate", d.learning_rate, "Adam learning rate of D, G and info."),
      (integer, "lr_decay_start", d.lr_decay_start, "0 = constant learning rates; N > 0: "
       "they fall linearly from iteration N to 0 at --train_steps."),
      (floating, "d_lr_ratio", d.d_lr_ratio, "D's learning rate = --learning_rate x this "
       "(two time-scale updates; InfoGAN-CR uses 2)."),
      (floating, "beta_1", d.beta_1, "Adam beta_1."),
      (floating, "beta_2", d.beta_2, "Adam beta_2."),
      (enum, "gan_loss", d.gan_loss, GAN_LOSSES, "Adversarial loss: hinge (OOGAN) or "
       "nonsaturating (the original GAN's on logits; InfoGAN, InfoGAN-CR)."),
      (floating, "gp_weight", d.gp_weight, "Gradient-penalty weight (0 = off)."),
      (floating, "lambda_info", d.lambda_info, "Weight of the code reconstruction loss."),
      (floating, "gamma_onehot", d.gamma_onehot, "Weight of the one-hot cross-entropy."),
      (floating, "lambda_cat", d.lambda_cat, "Weight of the categorical code's cross-entropy "
       "(with --cat_dim > 0)."),
      (enum, "point_q_loss", d.point_q_loss, POINT_Q_LOSSES, "Code reconstruction loss of a "
       "point-estimate Q (--probabilistic_q=false): l1 (released code) or squared, "
       "1/2 (c - mu)^2 (a unit-variance Gaussian's NLL; InfoGAN-CR)."),
      (floating, "cr_weight", d.cr_weight, "Weight of InfoGAN-CR's contrastive regulariser "
       "(not part of OOGAN; 0 = off): G and a pair classifier H learn which code two images "
       "share."),
      (integer, "cr_start_step", d.cr_start_step, "First iteration at which G gets the "
       "contrastive regulariser's gradient (H learns from the start)."),
      (floating, "jacobian_ortho_weight", d.jacobian_ortho_weight, "Weight of a Jacobian-"
       "orthogonality term in G's loss (OroJaR-style, not OOGAN; 0 = off): the mean squared "
       "cosine between the image changes of different codes."),
      (enum, "code_schedule", d.code_schedule, SCHEDULES, "c sampling: reference "
       "(uniform/one-hot/dominant), paper (50/50) or uniform (no one-hot ablation)."),
      (enum, "one_hot_scope", d.one_hot_scope, ONE_HOT_SCOPES, "Where one-hot codes go: all "
       "(paper, released code): D, G and the information loss; info: only the information "
       "loss, D and G's adversarial terms always see uniform codes."),
      (boolean, "orthogonal_reg", d.orthogonal_reg, "Orthogonal regularisation of Q."),
      (boolean, "reference_ortho_grads", d.reference_ortho_grads, "As the released code: the "
       "orthogonal layers' leftover orthogonality gradients are also stepped by D's Adam (D "
       "step) and added to their info gradients (info step)."),
      (boolean, "info_trains_trunk", d.info_trains_trunk, "The information loss also trains D's "
       "shared trunk (InfoGAN's sharing); the released code trains only G and the Q head on it."),
      (enum, "info_update", d.info_update, INFO_UPDATES, "separate (OOGAN): a third step with "
       "its own Adam trains G and Q on the information loss; joint (InfoGAN): the information "
       "loss is added to D's and G's losses, weighted against the adversarial loss."),
      (floating, "info_noise", d.info_noise, "Std of Gaussian noise on G's images before Q "
       "reads them in the info step (0 = off), so codes must survive it."),
      (integer, "instance_noise_steps", d.instance_noise_steps, "Anneal Gaussian noise on "
       "real images from sigma 1 to 0 over this many iterations (0 = off)."),
      (floating, "ema_decay", d.ema_decay, "EMA decay of G's parameters."),
      (enum, "precision", d.precision, PRECISIONS, "Compute precision."),
      (boolean, "jit_compile", d.jit_compile, "XLA-compile the train step."),
      (enum, "strategy", d.strategy, STRATEGIES, "tf.distribute strategy."),
      (integer, "num_gpus", d.num_gpus, "GPUs for --strategy=mirrored (0 = all)."),
      (integer, "seed", d.seed, "Seed of variables, codes and data order."),
      (integer, "sample_seed", d.sample_seed, "Seed of the fixed sample/traversal inputs."),
      # Run directory.
      (string, "model_dir", None, "Run directory (created, or resumed if it holds a run)."),
      (integer, "checkpoint_every_steps", d.checkpoint_every_steps, "Checkpoint interval."),
      (integer, "sample_every_steps", d.sample_every_steps, "Sample-grid interval."),
      (integer, "keep_checkpoints", d.keep_checkpoints, "Checkpoints kept."),
      (boolean, "export_at_end", d.export_at_end, "Export a SavedModel when training ends."),
      (integer, "eval_every_steps", d.eval_every_steps, "Evaluate the EMA model every N "
       "iterations into TensorBoard eval/ (0 = never)."),
      (string, "eval_metrics", d.eval_metrics, "Metrics of --eval_every_steps: fid, kid and "
       "ortho on any dataset; the disentanglement metrics on dsprites."),
      (floating, "eval_sizes_scale", d.eval_sizes_scale, "Sample-size scale of those metrics."),
      (string, "inception_weights", d.inception_weights, "InceptionV3 include_top=False "
       "weights file for fid/kid (default: Keras' cache file "
       "~/.keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5; never "
       "downloaded)."),
      # BatchNorm statistics of what is sampled, served and scored (oogan_tf.calibration).
      (integer, "standing_stats_batches", d.standing_stats_batches,
       "EMA-G batches whose average BatchNorm statistics serve sample grids, evaluation and "
       "export (0 = the live G's running statistics, as the released code)."),
      (integer, "encoder_recalibration_batches", d.encoder_recalibration_batches,
       "Batches of real images on which D's BatchNorm statistics are recomputed for "
       "evaluation and export (0 = D's training running statistics)."),
  ]
  for definer, name, *args in table:
    if name not in skip:
      shared_flags.define_if_absent(definer, name, *args, flag_values=flag_values)

_MODEL_FIELDS = ("image_size", "channels", "c_dim", "cat_dim", "z_dim", "g_type", "q_type",
                 "probabilistic_q", "learned_constant", "spectral_norm", "upsample", "g_output",
                 "d_batch_norm",
                 "ngf", "ndf", "style_dim", "mapping_layers", "stylegan_block0_collapse",
                 "stylegan_start_size")
_TRAIN_FIELDS = (
    "dataset", "data_dir", "cache", "batch_size", "train_steps", "steps_per_loop",
    "learning_rate", "lr_decay_start", "d_lr_ratio", "beta_1", "beta_2", "gan_loss", "gp_weight", "lambda_info", "gamma_onehot", "lambda_cat", "point_q_loss", "cr_weight", "cr_start_step",
    "jacobian_ortho_weight", "code_schedule", "one_hot_scope", "orthogonal_reg", "reference_ortho_grads", "info_trains_trunk", "info_update",
    "info_noise", "instance_noise_steps", "ema_decay", "precision", "jit_compile", "strategy", "num_gpus", "seed", "sample_seed",
    "checkpoint_every_steps", "sample_every_steps", "keep_checkpoints", "export_at_end",
    "eval_every_steps", "eval_metrics", "eval_sizes_scale", "inception_weights",
    "standing_stats_batches", "encoder_recalibration_batches", "phase_steps", "fade_steps",
    "stylegan_frozen_c_noise", "stylegan_refade_final", "stylegan_loss_gates", "style_mixing",
    "model_dir")


def preset_fills(f, preset: dict[str, str] | None) -> list[str]:
  """The config fields a preset's values set: those it names that no flag given sets."""
  if not preset:
    return []
  return [k for k in _MODEL_FIELDS + _TRAIN_FIELDS
          if k in preset and k in f and not f[k].present]


def config_from_flags(f, preset: dict[str, str] | None = None, **overrides) -> TrainConfig:
  """Builds and validates the TrainConfig from parsed flags (ValueError names the bad flag).

  preset: `--key=value` strings (oogan_tf.presets) that replace the defaults of flags not given
    (on the command line or in a flagfile); flags given always win.
  overrides: field values that replace the flags' (for names an entry point skipped).
  """
  filled = set(preset_fills(f, preset))

  def value(name):
    if name in overrides:
      return overrides[name]
    if name in filled:
      try:
        return f[name].parser.parse(preset[name])
      except ValueError as e:
        raise ValueError(f"preset value --{name}={preset[name]} is not allowed: {e}") from None
    return getattr(f, name)

  model = ModelConfig(**{k: value(k) for k in _MODEL_FIELDS})
  return TrainConfig(model=model, **{k: value(k) for k in _TRAIN_FIELDS})


def config_from_args(args: Sequence[str], **overrides) -> TrainConfig:
  """The TrainConfig of command-line arguments (`--flagfile=F`, nested flagfiles included, and
  `--name=value`; later ones win), parsed by absl exactly as `python -m oogan_tf.train` parses
  them, on a private FlagValues (the global flags are untouched).

  Raises: ValueError naming the bad flag (unknown names and unparsable values included).
  """
  flag_values = flags.FlagValues()
  define_config_flags(flag_values=flag_values)
  try:
    flag_values(["config", *args])
  except flags.Error as e:
    raise ValueError(str(e).removeprefix("ERROR:: ")) from None
  return config_from_flags(flag_values, **overrides)
