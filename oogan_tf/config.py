"""The validated, frozen configuration of a training run (`TrainConfig`), and its JSON form.

Entry points turn absl flags into a `TrainConfig`; library code only ever sees the dataclass.
"""

from __future__ import annotations

import dataclasses
import json
import math

from oogan_tf.data.config import LABELLED_DATASETS, DataConfig, has_ground_truth
from oogan_tf.models.model_config import ModelConfig

# How c is drawn per iteration (oogan_tf.codes.sample_codes).
SCHEDULES = ("reference", "paper", "uniform")
ONE_HOT_SCOPES = ("all", "info")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
INFO_UPDATES = ("separate", "joint")
POINT_Q_LOSSES = ("l1", "squared")
GAN_LOSSES = ("hinge", "nonsaturating")
# Seeds feed numpy (uint32) and TF's int64 stateless keys; this bound suits both.
MAX_SEED = 2**31 - 1

# Fields a resumed run may change; every other field defines the model or the optimisation and
# must match the run directory's config.json.
RESUMABLE_FIELDS = ("train_steps", "steps_per_loop", "checkpoint_every_steps", "sample_every_steps",
                    "keep_checkpoints", "jit_compile", "strategy", "data_dir", "cache", "model_dir",
                    "export_at_end", "num_gpus", "eval_every_steps", "eval_metrics",
                    "eval_sizes_scale", "inception_weights", "standing_stats_batches",
                    "encoder_recalibration_batches")


def _positive(field: str, value: int, minimum: int = 1) -> None:
  if value < minimum:
    raise ValueError(f"--{field}={value} is not allowed; it must be >= {minimum}")


def _choice(field: str, value, allowed) -> None:
  if value not in allowed:
    raise ValueError(f"--{field}={value!r} is not allowed; choose one of "
                     f"{', '.join(map(str, allowed))}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything a training run needs.

  Attributes (beyond `model`):
    dataset, data_dir, cache: the data source (see oogan_tf.data).
    batch_size: GLOBAL batch size (divided over replicas).
    train_steps: total iterations; the run stops when the iteration counter reaches it.
    steps_per_loop: iterations per compiled call (logging/checkpoint granularity).
    learning_rate, beta_1, beta_2, epsilon: the three Adams (D, G, info).
    d_lr_ratio: D's Adam runs at learning_rate x d_lr_ratio (two time-scale updates; InfoGAN-CR
      trains D at twice G's rate). 1 (default): every Adam at learning_rate.
    info_update: how the information loss (code reconstruction, one-hot CE, categorical CE)
      reaches the networks. "separate" (OOGAN, default): a third step after the D and G steps,
      with fresh codes and its own Adam over G and the Q head, so its weights only act relative
      to each other. "joint" (InfoGAN): no third step; the information loss of the D step's
      fake batch is added to D's loss (D's Adam then holds the Q head beside the trunk, which
      it trains too) and that of the G step's batch to G's loss, so lambda_info, gamma_onehot
      and lambda_cat weigh it against the adversarial loss. One G and one D forward cheaper.
    gan_loss: the adversarial loss on D's raw scores: "hinge" (OOGAN, default) or
      "nonsaturating" (the original GAN's, on logits: D minimises -log sigmoid(D(x)) -
      log(1 - sigmoid(D(G))), G minimises -log sigmoid(D(G)); InfoGAN and InfoGAN-CR).
    gp_weight: gradient-penalty weight (0 disables the extra D forward).
    lambda_info, gamma_onehot: weights of the code reconstruction and one-hot CE terms.
    lambda_cat: weight of the categorical code's CE (used only when model.cat_dim > 0).
    point_q_loss: the code reconstruction loss of a point-estimate Q (model.probabilistic_q
      False): "l1" (released code) or "squared", 1/2 (c - mu)^2, the negative log-likelihood of
      a unit-variance Gaussian up to a constant (InfoGAN-CR's fixed q_std=1). A probabilistic Q
      always uses its Gaussian NLL.
    cr_weight: weight of InfoGAN-CR's contrastive regulariser (oogan_tf.models.contrastive;
      not part of OOGAN): > 0 adds a network H and the term cr_weight x CE(H(pair), shared
      code) to the info step's loss (its Adam then also holds H); with info_update="joint",
      to G's loss, H then alone in the info Adam at D's learning rate (InfoGAN-CR). 0
      (default) leaves it out.
      The info step has an Adam of its own, so its weights (lambda_info, gamma_onehot,
      lambda_cat, cr_weight) only act relative to each other: scaling all of them changes
      nothing (Adam is invariant to the scale of the loss).
    cr_start_step: the first iteration at which G receives the regulariser's gradient
      (InfoGAN-CR turns it on late in training); H learns from iteration 0.
    lr_decay_start: 0 (default): constant learning rates. N > 0: from iteration N on, the D, G
      and info Adams' learning rates fall linearly to 0 at train_steps (set before every
      compiled loop of steps_per_loop iterations, so piecewise constant over a loop); the
      orthogonal layers' private Adams keep theirs. Must be < train_steps.
    jacobian_ortho_weight: weight of a Jacobian-orthogonality term in G's loss (not part of
      OOGAN; after OroJaR, Wei et al. 2021): the mean squared cosine between the image changes
      that G's continuous codes make when each moves alone (finite differences on 8 of the G
      step's samples; losses.jacobian_orthogonality), so that different codes change different
      things. 0 (default): off.
    code_schedule: "reference" | "paper" | "uniform" (oogan_tf.codes).
    one_hot_scope: where a one-hot iteration's codes go. "all" (paper and released code,
      default): the D step, the G step and the information loss all use the schedule's codes,
      so on one-hot iterations D judges, and G is trained to make realistic, batches drawn
      only from one-hot (or dominant-dimension) codes. "info": the adversarial terms of D and G
      always see uniform codes, and the schedule's one-hot and dominant regimes reach only the
      information loss (the info step's fresh draw; in joint mode an extra G forward and two
      extra D forwards per iteration on a second draw). Needs a one-hot schedule.
    orthogonal_reg: run the private orthogonal steps (False: ablation).
    reference_ortho_grads: also do what the released code does by accident: its private
      orthogonal steps leave the orthogonality gradient in `.grad`, so D's Adam steps the two
      orthogonal variables on it in the D step (they are then in D's optimiser) and the info
      Adam adds it to their info gradient. About 3x the orthogonal push per iteration.
    info_trains_trunk: the information loss also trains D's shared trunk (the info Adam then
      holds the trunk's variables too, beside D's Adam), as in InfoGAN, where Q shares D's body
      and the mutual-information term is added to D's loss. The released OOGAN code trains only
      G and the Q head on it (False, the default). With the paper's Q (`q_type="paper"`), whose
      every layer is orthogonally regularised and per-channel after the first, the trunk is the
      only place a non-linear code reader can be learnt.
    info_noise: std of Gaussian noise added to G's images before Q reads them in the info step
      (0: off). Q then cannot read the codes from faint marks that real images never have, so
      G must express them in what survives the noise (the sprite's geometry).
    instance_noise_steps: Gaussian noise on real images with sigma falling 1 -> 0 over this many
      iterations (0: off; the reference uses 10% of the run on dSprites).
    ema_decay: EMA of G's parameters.
    precision: float32 | mixed_float16 | mixed_bfloat16.
    jit_compile: XLA-compile the train loop.
    strategy, num_gpus: tf.distribute strategy (oogan_tf.distribute).
    seed: seeds variables, code sampling and data order.
    sample_seed: seeds the fixed (z, c) of sample grids and traversals.
    checkpoint_every_steps, sample_every_steps, keep_checkpoints: run-directory cadence.
    export_at_end: write a SavedModel export when training finishes.
    eval_every_steps: evaluate the EMA model every N iterations (0: never) with `eval_metrics`
      (the FactorVAE score uses the gan_papers protocol) at `eval_sizes_scale` times the
      protocols' sample sizes; scores go to TensorBoard under eval/. Metrics that need
      ground-truth factors need dataset dsprites (or tfds:dsprites, tfds:shapes3d,
      tfds:smallnorb); fid, kid and ortho run on any dataset.
    inception_weights: InceptionV3 include_top=False weights file of fid / kid (None: Keras'
      cache file, ~/.keras/models/...; nothing is downloaded).
    standing_stats_batches: before sample grids, evaluation and export, the EMA generator's
      BatchNorm statistics are recomputed from this many training-mode batches of its own
      (cumulative average; oogan_tf.calibration), and grids use them (inference mode); 0 keeps
      the reference's behaviour: the live G's running statistics, grids in batch statistics.
    encoder_recalibration_batches: before evaluation and export, D's BatchNorm statistics are
      recomputed on this many batches of real images, so `encode` normalises real images with
      real-image statistics (0: D's training running statistics, a blend of its five calls per
      iteration). The live D is not changed.
    phase_steps, fade_steps: the StyleGAN-based model's progressive schedule (g_type stylegan;
      oogan_tf.progressive): iterations per resolution phase, and of each phase's fade-in (the
      reference: 100,000 and 50,000).
    stylegan_frozen_c_noise, stylegan_refade_final: reproduce the released StyleGAN code's
      bugs (oogan_tf.stylegan_trainer): the code -> noise-map projections are never trained; the
      last phase fades in again every phase_steps.
    style_mixing: probability of style mixing per iteration (StyleGAN's regulariser: the
      levels from a random crossover take the style of a second z); 0 as the released code,
      which parses --mixing and ignores it.
    stylegan_loss_gates: as the released code, drop the NLL term while it is >= 100 and the
      one-hot CE while >= 10 (default: on, since training diverges without; the drops are
      logged); False always adds both.
  """

  model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  dataset: str = "dsprites"
  data_dir: str | None = None
  cache: str = "none"
  batch_size: int = 64
  train_steps: int = 50_000
  steps_per_loop: int = 25
  learning_rate: float = 1e-4
  d_lr_ratio: float = 1.0
  beta_1: float = 0.5
  beta_2: float = 0.99
  epsilon: float = 1e-8
  gan_loss: str = "hinge"
  gp_weight: float = 10.0
  lambda_info: float = 1.0
  gamma_onehot: float = 1.0
  lambda_cat: float = 1.0
  point_q_loss: str = "l1"
  cr_weight: float = 0.0
  cr_start_step: int = 0
  jacobian_ortho_weight: float = 0.0
  lr_decay_start: int = 0
  code_schedule: str = "reference"
  one_hot_scope: str = "all"
  orthogonal_reg: bool = True
  reference_ortho_grads: bool = False
  info_trains_trunk: bool = False
  info_update: str = "separate"
  info_noise: float = 0.0
  instance_noise_steps: int = 0
  ema_decay: float = 0.999
  precision: str = "float32"
  jit_compile: bool = False
  strategy: str = "default"
  num_gpus: int = 0
  seed: int = 0
  sample_seed: int = 1234
  checkpoint_every_steps: int = 1000
  sample_every_steps: int = 500
  keep_checkpoints: int = 3
  export_at_end: bool = True
  eval_every_steps: int = 0
  eval_metrics: str = "factor_vae,mig"
  eval_sizes_scale: float = 0.02
  inception_weights: str | None = None
  standing_stats_batches: int = 32
  encoder_recalibration_batches: int = 32
  phase_steps: int = 100_000
  fade_steps: int = 50_000
  stylegan_frozen_c_noise: bool = False
  stylegan_refade_final: bool = False
  stylegan_loss_gates: bool = True
  style_mixing: float = 0.0
  model_dir: str | None = None

  def __post_init__(self):
    _positive("batch_size", self.batch_size)
    _positive("train_steps", self.train_steps, 0)
    _positive("steps_per_loop", self.steps_per_loop)
    _positive("checkpoint_every_steps", self.checkpoint_every_steps)
    _positive("sample_every_steps", self.sample_every_steps)
    _positive("keep_checkpoints", self.keep_checkpoints)
    _positive("instance_noise_steps", self.instance_noise_steps, 0)
    _positive("cr_start_step", self.cr_start_step, 0)
    _positive("lr_decay_start", self.lr_decay_start, 0)
    if self.lr_decay_start and self.lr_decay_start >= self.train_steps:
      raise ValueError(f"--lr_decay_start={self.lr_decay_start} is not allowed; it must be 0 "
                       f"(off) or below --train_steps={self.train_steps}")
    _positive("eval_every_steps", self.eval_every_steps, 0)
    _positive("standing_stats_batches", self.standing_stats_batches, 0)
    _positive("encoder_recalibration_batches", self.encoder_recalibration_batches, 0)
    if self.eval_every_steps:
      self._check_eval_metrics()
    if not (self.eval_sizes_scale > 0 and math.isfinite(self.eval_sizes_scale)):
      raise ValueError(f"--eval_sizes_scale={self.eval_sizes_scale} is not allowed; it must be > 0")
    _choice("code_schedule", self.code_schedule, SCHEDULES)
    _choice("one_hot_scope", self.one_hot_scope, ONE_HOT_SCOPES)
    if self.one_hot_scope == "info" and self.code_schedule == "uniform":
      raise ValueError("--one_hot_scope=info is not allowed with --code_schedule=uniform (it "
                       "never draws one-hot codes); use --code_schedule=reference or paper")
    _choice("precision", self.precision, PRECISIONS)
    _choice("strategy", self.strategy, STRATEGIES)
    # `not x > 0` and `not lo <= x < hi` also reject NaN; infinities are rejected explicitly,
    # so no bad value reaches the first step (where it would surface as a NaN loss).
    _choice("info_update", self.info_update, INFO_UPDATES)
    _choice("point_q_loss", self.point_q_loss, POINT_Q_LOSSES)
    _choice("gan_loss", self.gan_loss, GAN_LOSSES)
    if self.point_q_loss != "l1" and self.model.probabilistic_q:
      raise ValueError(f"--point_q_loss={self.point_q_loss} is not allowed with "
                       "--probabilistic_q=true (its loss is the Gaussian NLL); use "
                       "--probabilistic_q=false or --point_q_loss=l1")
    if self.info_update == "joint":
      self._check_joint_info()
    for name in ("learning_rate", "epsilon", "d_lr_ratio"):
      value = getattr(self, name)
      if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"--{name}={value} is not allowed; it must be finite and > 0")
    for name in ("beta_1", "beta_2", "ema_decay"):
      value = getattr(self, name)
      if not 0.0 <= value < 1.0:
        raise ValueError(f"--{name}={value} is not allowed; it must be in [0, 1)")
    for name in ("gp_weight", "lambda_info", "gamma_onehot", "lambda_cat", "cr_weight",
                 "info_noise", "jacobian_ortho_weight"):
      value = getattr(self, name)
      if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"--{name}={value} is not allowed; it must be finite and >= 0")
    for name in ("seed", "sample_seed"):
      value = getattr(self, name)
      if not 0 <= value <= MAX_SEED:
        raise ValueError(f"--{name}={value} is not allowed; it must be in [0, {MAX_SEED}]")
    _positive("phase_steps", self.phase_steps)
    _positive("fade_steps", self.fade_steps, 0)
    if self.fade_steps > self.phase_steps:
      raise ValueError(f"--fade_steps={self.fade_steps} is not allowed; it must be <= "
                       f"--phase_steps={self.phase_steps}")
    if not 0.0 <= self.style_mixing <= 1.0:
      raise ValueError(f"--style_mixing={self.style_mixing} is not allowed; it must be a "
                       "probability in [0, 1]")
    if self.model.g_type == "stylegan":
      self._check_stylegan()
    self.data_config()  # DataConfig validates the dataset fields (DatasetError, a ValueError)

  def _check_stylegan(self) -> None:
    # What the StyleGAN trainer does not implement is refused here, not ignored.
    def refuse(flag: str, allowed: str) -> None:
      raise ValueError(f"--{flag} is not allowed with --g_type=stylegan; use {allowed}")
    if self.strategy != "default":
      refuse(f"strategy={self.strategy}", "--strategy=default (one replica)")
    if self.precision == "mixed_float16":
      refuse("precision=mixed_float16", "float32 or mixed_bfloat16")
    if self.jit_compile:
      refuse("jit_compile=true", "--jit_compile=false")
    if self.reference_ortho_grads:
      refuse("reference_ortho_grads=true", "--reference_ortho_grads=false")
    if self.info_trains_trunk:
      refuse("info_trains_trunk=true", "--info_trains_trunk=false")
    if self.cr_weight:
      refuse(f"cr_weight={self.cr_weight}", "--cr_weight=0")
    if self.info_update != "separate":
      refuse(f"info_update={self.info_update}", "--info_update=separate")
    if self.d_lr_ratio != 1.0:
      refuse(f"d_lr_ratio={self.d_lr_ratio}", "--d_lr_ratio=1")
    if self.info_noise:
      refuse(f"info_noise={self.info_noise}", "--info_noise=0")
    if self.gan_loss != "hinge":
      refuse(f"gan_loss={self.gan_loss}", "--gan_loss=hinge")
    if self.jacobian_ortho_weight:
      refuse(f"jacobian_ortho_weight={self.jacobian_ortho_weight}", "--jacobian_ortho_weight=0")
    if self.lr_decay_start:
      refuse(f"lr_decay_start={self.lr_decay_start}", "--lr_decay_start=0")
    if self.one_hot_scope != "all":
      refuse(f"one_hot_scope={self.one_hot_scope}", "--one_hot_scope=all")

  def _check_joint_info(self) -> None:
    # These switches are defined on the separate info step, which joint mode does not run.
    def refuse(flag: str, why: str) -> None:
      raise ValueError(f"--{flag} is not allowed with --info_update=joint: {why}; use "
                       "--info_update=separate")
    if self.info_trains_trunk:
      refuse("info_trains_trunk=true", "joint mode always trains the trunk on the information "
             "loss (it is in D's loss)")
    if self.reference_ortho_grads:
      refuse("reference_ortho_grads=true", "the released code's leftover gradients are defined "
             "for its separate info step")
    if self.info_noise:
      refuse(f"info_noise={self.info_noise}", "the noise is added in the info step")

  def _check_eval_metrics(self) -> None:
    # Deferred: the metrics registry imports scikit-learn, which only evaluation needs.
    from oogan_tf.metrics import evaluation  # pylint: disable=g-import-not-at-top
    names = [m.strip() for m in self.eval_metrics.split(",") if m.strip()]
    allowed = [m for m in evaluation.METRIC_NAMES if m != "perceptual_diversity"]
    bad = [m for m in names if m not in allowed]
    if not names or bad:
      raise ValueError(f"--eval_metrics={self.eval_metrics!r} is not allowed; give a "
                       f"comma-separated list from {', '.join(allowed)}")
    if "categorical_accuracy" in names and not (self.model.cat_dim and
                                                self.dataset in LABELLED_DATASETS):
      raise ValueError(f"--eval_metrics={self.eval_metrics!r}: categorical_accuracy needs "
                       f"--cat_dim > 0 and a dataset with class labels (--dataset=digits or "
                       f"mnist); got "
                       f"--cat_dim={self.model.cat_dim} --dataset={self.dataset}")
    factors = [m for m in names if m in evaluation.REPRESENTATION_METRICS +
               evaluation.GENERATOR_METRICS]
    if factors and not has_ground_truth(self.dataset):
      raise ValueError(f"--eval_every_steps={self.eval_every_steps} needs ground-truth factors "
                       f"for {','.join(factors)}, which only --dataset=dsprites, tfds:dsprites, "
                       f"tfds:shapes3d and tfds:smallnorb have (got "
                       f"--dataset={self.dataset}); use --eval_metrics=fid,kid,ortho or "
                       "--eval_every_steps=0")

  def check_replicas(self, num_replicas: int) -> None:
    """Raises ValueError unless the global batch divides evenly over the replicas."""
    if self.batch_size % num_replicas:
      raise ValueError(f"--batch_size={self.batch_size} is not divisible by the {num_replicas} "
                       f"replicas of --strategy={self.strategy}; use a multiple of {num_replicas}")

  def data_config(self, seed_offset: int = 0) -> DataConfig:
    """The DataConfig of this run's training images (seed offset: an independent stream)."""
    return DataConfig(name=self.dataset, data_dir=self.data_dir, image_size=self.model.image_size,
                      channels=self.model.channels, batch_size=self.batch_size,
                      seed=self.seed + seed_offset, cache=self.cache)

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d: dict) -> "TrainConfig":
    d = dict(d)
    d["model"] = ModelConfig(**d["model"])
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
      raise ValueError(f"unknown config fields {sorted(unknown)}; known: {sorted(known)}")
    return cls(**d)

  def differences(self, other: "TrainConfig") -> list[str]:
    """Names of model-defining fields (not in RESUMABLE_FIELDS) whose values differ."""
    a, b = _flatten(self.to_dict()), _flatten(other.to_dict())
    return sorted(k for k in set(a) | set(b)
                  if k.split(".")[0] not in RESUMABLE_FIELDS and a.get(k) != b.get(k))


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out
