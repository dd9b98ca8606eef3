"""The OOGAN training state and its compiled train loop (reference-notes section 5).

One iteration n, in the released code's order:
  0. real batch x (+ instance noise on real images while n < instance_noise_steps);
  1. (z, c) for iteration n; x_fake = G(c, z) once, in training mode;
  2. D step: hinge (or, with gan_loss="nonsaturating", the original GAN loss) on D(x) and D(x_fake) (separate calls, so separate BN statistics) + gp_weight *
     gradient penalty on interpolates (a third call); Adam over the trunk and real/fake head;
  3. G step: -mean D(x_fake) on the same x_fake, scored by the updated D (+ jacobian_ortho_weight
     x the squared cosines between the image changes of different codes, drawn by one more G
     call when the weight is > 0); Adam over G;
  4. info step: resampled (z', c') for the same n; lambda * code reconstruction (Gaussian NLL or
     L1) + gamma * weighted one-hot CE (+ lambda_cat * the categorical code's CE, when the model
     has one), Q reading G's images plus info_noise x N(0, 1); a third Adam over G + Q head
     (+ D's trunk with info_trains_trunk);
     With cr_weight > 0 (InfoGAN-CR, not OOGAN) the info loss also has cr_weight * CE of H on
     B code pairs sharing one code each (G draws both images of every pair in one call on 2B
     codes; H classifies the shared code) and the info Adam also holds H; G gets this term's
     gradient only from iteration cr_start_step on, H from the start;
  5. EMA of G's parameters.
With info_update="joint" (InfoGAN) step 4 is not run: the information loss of step 1's codes on
D's Q output is added to D's loss in step 2 (on the detached x_fake; D's Adam then also holds the
Q head) and to G's loss in step 3 (on the same x_fake), each from the forward the step makes
anyway. With cr_weight > 0 as well (InfoGAN-CR's own weighting), step 3 also draws the pairs:
cr_weight * CE of H joins G's loss (gated by cr_start_step as above), and the info Adam, at D's
learning rate, steps H alone on the CE.
Before every training-mode D call (5 per iteration, 4 in joint mode) each orthogonal layer takes
one step of its private Adam, exactly where the reference's forward would take it. With
reference_ortho_grads the gradient of the last private step before the D update (and before the
info forward) is also given to D's Adam (and added to the info gradient) for the two orthogonal
variables, as the released code's leftover `.grad` is.

Randomness (codes, noise, instance noise, interpolation weights) is stateless, keyed by (seed,
iteration, purpose) and drawn for the global batch, each replica taking its rows; with
synchronised BatchNorm under several replicas, an iteration computes the same thing as on one
device with the global batch, and a resumed run continues exactly.

`Trainer.train_loop(iterator, num_steps)` is one `tf.function` that runs `num_steps` iterations
(a tensor, so it traces once) under the configured tf.distribute strategy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from oogan_tf import codes as codes_lib
from oogan_tf import losses
from oogan_tf.compiled_loop import mean_over_iterations
from oogan_tf.config import TrainConfig
from oogan_tf.models import (OrthogonalRegularizer, build_networks, category_logits,
                             checkpoint_of, copy_non_trainable, count_params, split_q)
from oogan_tf.models.adam import Adam
from oogan_tf.models.contrastive import ContrastiveHead
from oogan_tf.stylegan_trainer import StyleGANTrainer

LOSS_KEYS = ("loss/d_total", "loss/d_hinge", "loss/gradient_penalty", "loss/g_adv", "loss/info",
             "loss/info_reconstruction", "loss/info_onehot", "d/score_real", "d/score_fake",
             "d/score_fake_g_step")
CATEGORICAL_KEY = "loss/info_categorical"  # only for a model with a categorical code
CONTRASTIVE_KEY = "loss/contrastive"  # only with cr_weight > 0
JACOBIAN_KEY = "loss/jacobian_ortho"  # only with jacobian_ortho_weight > 0
# The Jacobian-orthogonality term reads this many of the G step's samples (its cost: one extra G
# pass on JACOBIAN_SAMPLES x (C + 1) images) and moves each code by JACOBIAN_CODE_STEP (codes lie
# in [0, 1]; a finite step, as bfloat16 outputs cannot resolve an infinitesimal one).
JACOBIAN_SAMPLES = 8
JACOBIAN_CODE_STEP = 0.1


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the run stops without saving the corrupted state."""


def _adam(cfg: TrainConfig, lr_ratio: float = 1.0) -> Adam:
  # float16 gradients underflow without loss scaling.
  return Adam(cfg.learning_rate * lr_ratio, cfg.beta_1, cfg.beta_2, cfg.epsilon,
              loss_scaling=cfg.precision == "mixed_float16")


def learning_rate_factor(iteration: int, decay_start: int, train_steps: int) -> float:
  """The factor on the base learning rates at `iteration`: 1 before decay_start (and always with
  decay_start 0), then linear to 0 at train_steps (cfg.lr_decay_start)."""
  if not decay_start or iteration < decay_start:
    return 1.0
  return max(0.0, (train_steps - iteration) / (train_steps - decay_start))


def _synchronize_batch_norm(model: keras.Model) -> None:
  for layer in model._flatten_layers(include_self=False, recursive=True):  # pylint: disable=protected-access
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.synchronized = True


def set_keras_globals(cfg: TrainConfig) -> None:
  """Sets the process-wide state a run's networks are built under: Keras' mixed-precision policy
  (cfg.precision) and every seed (keras.utils.set_random_seed(cfg.seed): Python, numpy, TF).
  Entry points call it once before constructing a Trainer."""
  keras.mixed_precision.set_global_policy(cfg.precision)
  keras.utils.set_random_seed(cfg.seed)


class Trainer:
  """Networks, optimisers, EMA, RNG and step counter of one run, and the compiled train loop.

  Build it inside nothing: it enters `strategy.scope()` itself. All variables (including optimiser
  slots) exist after construction, so a checkpoint can be restored into it directly. The Keras
  policy must already be cfg.precision (set_keras_globals; ValueError otherwise).
  """

  def __init__(self, cfg: TrainConfig, strategy: tf.distribute.Strategy | None = None):
    self.cfg = cfg
    self.strategy = strategy or tf.distribute.get_strategy()
    cfg.check_replicas(self.strategy.num_replicas_in_sync)
    self.per_replica_batch = cfg.batch_size // self.strategy.num_replicas_in_sync
    policy = keras.mixed_precision.global_policy().name
    if policy != cfg.precision:
      raise ValueError(f"the Keras policy is {policy!r} but the config's precision is "
                       f"{cfg.precision!r}; call trainer.set_keras_globals(cfg) first")
    with self.strategy.scope():
      self.networks = build_networks(cfg.model)
      self.generator, self.ema_generator, self.discriminator = self.networks
      for ema, var in zip(self.ema_generator.variables, self.generator.variables):
        ema.assign(var)
      d = self.discriminator
      self.ortho = OrthogonalRegularizer(d.orthogonal_layers, enabled=cfg.orthogonal_reg)
      # Whether the private steps' gradients also reach D's and the info Adam (reference).
      self.leftover_ortho_grads = cfg.reference_ortho_grads and cfg.orthogonal_reg
      self.joint_info = cfg.info_update == "joint"
      self.d_variables = d.trunk.trainable_variables + d.real_fake_head.trainable_variables
      if self.leftover_ortho_grads:
        self.d_variables += self.ortho.variables
      self.g_variables = self.generator.trainable_variables
      if self.joint_info:
        # InfoGAN: Q's loss is part of D's loss; there is no info step, so its Adam holds nothing.
        self.d_variables += d.q_head.trainable_variables
        self.info_variables = []
      else:
        self.info_variables = self.g_variables + d.q_head.trainable_variables
      if cfg.info_trains_trunk:
        self.info_variables += d.trunk.trainable_variables
      self.contrastive = None
      if cfg.cr_weight > 0:
        # Separate mode: in the info step's Adam, so that cr_weight weighs it against the
        # information terms on G (a loss alone in its own Adam would move the same whatever its
        # weight). Joint mode: H alone in the info Adam, at D's rate (InfoGAN-CR steps H with
        # D), while G gets the term in its own loss.
        self.contrastive = ContrastiveHead(cfg.model, name="contrastive").build_for()
        self.info_variables += self.contrastive.trainable_variables
      info_lr_ratio = cfg.d_lr_ratio if self.joint_info else 1.0
      self.opt_d, self.opt_g = _adam(cfg, cfg.d_lr_ratio), _adam(cfg)
      self.opt_info = _adam(cfg, info_lr_ratio)
      self._base_learning_rates = [(opt, float(opt.learning_rate.numpy())) for opt in
                                   (self.opt_d, self.opt_g, self.opt_info)]
      self.opt_d.build(self.d_variables)
      self.opt_g.build(self.g_variables)
      self.opt_info.build(self.info_variables)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
    if self.strategy.num_replicas_in_sync > 1:
      # Global-batch statistics, as the single-device reference computes them.
      for model in (self.generator, self.ema_generator, self.discriminator, self.contrastive):
        if model is not None:
          _synchronize_batch_norm(model)
    self._d_adversarial, self._g_adversarial = losses.ADVERSARIAL_LOSSES[cfg.gan_loss]
    self.metric_keys = (LOSS_KEYS + (CATEGORICAL_KEY,) * bool(cfg.model.cat_dim) +
                        (CONTRASTIVE_KEY,) * (self.contrastive is not None) +
                        (JACOBIAN_KEY,) * (cfg.jacobian_ortho_weight > 0) +
                        tuple(f"ortho/{n}" for n in self.ortho.names))
    self.train_loop = tf.function(self._train_loop)
    # The step has no tensor-dependent Python control flow, so AutoGraph need not transpile it
    # and the ~80 layer methods it calls (seconds of start-up per process).
    step = tf.autograph.experimental.do_not_convert(self.replica_step)
    self._replica_step = tf.function(step, jit_compile=True) if cfg.jit_compile else step

  # ----------------------------------------------------------------------------------------------
  def checkpoint(self) -> tf.train.Checkpoint:
    """Everything needed to continue the run: networks, EMA, all optimisers, the iteration.

    (Random draws are keyed by the iteration, so there is no RNG state to save.)
    """
    extra = {} if self.contrastive is None else {"contrastive": self.contrastive}
    return checkpoint_of(
        self.step, self.networks, opt_d=self.opt_d, opt_g=self.opt_g, opt_info=self.opt_info,
        ortho_optimizers={name: opt for name, opt in zip(self.ortho.names, self.ortho.optimizers)},
        **extra)

  def set_learning_rate_factor(self, factor: float) -> None:
    """Sets the D, G and info Adams' learning rates to their configured values x factor (a
    variable each, so the compiled loop is not retraced)."""
    for opt, base in self._base_learning_rates:
      opt.learning_rate.assign(base * factor)

  @property
  def iteration(self) -> int:
    """The number of iterations done (Python int)."""
    return int(self.step.read_value().numpy())

  def parameter_counts(self) -> dict[str, int]:
    d = self.discriminator
    return {"generator": count_params(self.generator.trainable_variables),
            "d_trunk": count_params(d.trunk.trainable_variables),
            "d_real_fake_head": count_params(d.real_fake_head.trainable_variables),
            "q_head": count_params(d.q_head.trainable_variables),
            **({} if self.contrastive is None else
               {"contrastive": count_params(self.contrastive.trainable_variables)})}

  def sync_ema_buffers(self) -> None:
    """Gives the EMA generator the live G's BatchNorm statistics and spectral-norm vectors."""
    copy_non_trainable(self.generator, self.ema_generator)

  # ----------------------------------------------------------------------------------------------
  def _orthogonal_step(self) -> tuple[list[tf.Tensor], dict]:
    """One private step per orthogonal layer: (losses, {id(variable): its step's gradient})."""
    values, grads = self.ortho.step_with_gradients(
        loss_divisor=float(self.strategy.num_replicas_in_sync))
    leftover = {}
    if self.leftover_ortho_grads:
      leftover = {id(v): g for v, g in zip(self.ortho.variables, grads)}
    return values, leftover

  def _apply(self, opt, tape, loss, variables, leftover=None) -> None:
    # Losses are means over the per-replica batch and gradients are summed over replicas, so the
    # gradient is scaled by 1/replicas (the mean over the global batch), and by the loss scale
    # under mixed_float16. Scaling through output_gradients needs no op recorded on the tape.
    replicas = self.strategy.num_replicas_in_sync
    factor = 1.0 / replicas
    if opt.loss_scaling:
      factor = opt.scale_loss(tf.constant(factor))
    grads = tape.gradient(loss, variables, output_gradients=tf.cast(factor, loss.dtype))
    if leftover:
      # Leftover orthogonality gradients are already divided by the replicas; only the loss
      # scale (float16) still applies to them.
      scale = tf.cast(factor, tf.float32) * replicas
      grads = [g if id(v) not in leftover else
               leftover[id(v)] * scale + (0.0 if g is None else g)
               for g, v in zip(grads, variables)]
    opt.apply(grads, variables)

  def replica_step(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
    """One iteration on this replica's real images float [b, S, S, channels] in [-1, 1].

    Runs inside `strategy.run` (or the default replica context); returns the metric_keys' float32
    scalars. Does not advance the iteration counter or the EMA (train_loop does).
    """
    cfg = self.cfg
    G, D = self.generator, self.discriminator
    n = self.step.read_value()
    b = self.per_replica_batch
    start = tf.distribute.get_replica_context().replica_id_in_sync_group * b

    def key(purpose):
      return codes_lib.step_key(cfg.seed, n, purpose)

    def local_rows(x):
      return x[start:start + b]

    real = tf.cast(real, tf.float32)
    if cfg.instance_noise_steps > 0:
      shape = tf.concat([[cfg.batch_size], tf.shape(real)[1:]], axis=0)
      real = real + local_rows(codes_lib.instance_noise(shape, n, cfg.instance_noise_steps,
                                                        key(2)))

    m = cfg.model

    def draw(purpose, schedule):
      """This replica's rows of the global draw, and G's code input for them."""
      drawn = codes_lib.sample_codes(key(purpose), n, cfg.batch_size, m.c_dim, m.z_dim,
                                     schedule, m.cat_dim).shard(start, b)
      return drawn, codes_lib.generator_code(drawn.c, drawn.category, m.cat_dim)

    adversarial_schedule = "uniform" if cfg.one_hot_scope == "info" else cfg.code_schedule
    sample, code = draw(0, adversarial_schedule)
    # With one_hot_scope "info" in joint mode the information loss needs fakes of its own,
    # drawn by the schedule (the separate info step draws them anyway).
    joint_info_sample = None
    if self.joint_info and cfg.one_hot_scope == "info":
      joint_info_sample, joint_info_code = draw(1, cfg.code_schedule)
    # G runs once; its tape stays open across the D step (watching only G's variables, so the D
    # step is not recorded) and the G step reuses the same x_fake, as the reference does.
    with tf.GradientTape(watch_accessed_variables=False) as g_tape:
      g_tape.watch([v.value for v in self.g_variables])
      fake = G((code, sample.z), training=True)
      fake_sg = tf.stop_gradient(fake)
      if joint_info_sample is not None:
        info_fake = G((joint_info_code, joint_info_sample.z), training=True)

      with tf.GradientTape() as d_tape:
        with d_tape.stop_recording():
          ortho_values, _ = self._orthogonal_step()
        real_scores, _ = D(real, training=True)
        with d_tape.stop_recording():
          _, leftover = self._orthogonal_step()
        fake_scores, q_fake = D(fake_sg, training=True)
        d_hinge = self._d_adversarial(real_scores, fake_scores)
        if cfg.gp_weight > 0:
          alpha = local_rows(tf.random.stateless_uniform((cfg.batch_size, 1, 1, 1), key(3)))
          interpolates = alpha * real + (1.0 - alpha) * fake_sg
          with d_tape.stop_recording():
            _, leftover = self._orthogonal_step()
          gp = losses.gradient_penalty(lambda x: D(x, training=True)[0], interpolates)
        else:
          gp = tf.constant(0.0)
        d_loss = d_hinge + cfg.gp_weight * gp
        if joint_info_sample is not None:
          with d_tape.stop_recording():
            _, leftover = self._orthogonal_step()
          _, q_info = D(tf.stop_gradient(info_fake), training=True)
          d_loss += self._information_loss(joint_info_sample, q_info)[0]
        elif self.joint_info:
          d_loss += self._information_loss(sample, q_fake)[0]
      self._apply(self.opt_d, d_tape, d_loss, self.d_variables, leftover)

      with g_tape.stop_recording():
        self._orthogonal_step()
      fake_scores_g, q_g = D(fake, training=True)
      g_loss = self._g_adversarial(fake_scores_g)
      if self.joint_info:
        if joint_info_sample is not None:
          with g_tape.stop_recording():
            self._orthogonal_step()
          _, q_info = D(info_fake, training=True)
          info, rec, onehot, categorical = self._information_loss(joint_info_sample, q_info)
        else:
          info, rec, onehot, categorical = self._information_loss(sample, q_g)
        g_total = g_loss + info
        if self.contrastive is not None:
          with tf.GradientTape(watch_accessed_variables=False) as h_tape:
            h_tape.watch([v.value for v in self.info_variables])
            contrastive = self._contrastive_loss(key(4), n, start, b)
          g_total += cfg.cr_weight * contrastive
      else:
        g_total = g_loss
      if cfg.jacobian_ortho_weight > 0:
        jacobian = self._jacobian_orthogonality(code, sample.z)
        g_total += cfg.jacobian_ortho_weight * jacobian
    self._apply(self.opt_g, g_tape, g_total, self.g_variables)
    if self.joint_info and self.contrastive is not None:
      self._apply(self.opt_info, h_tape, contrastive, self.info_variables)

    if not self.joint_info:
      info_sample, info_code = draw(1, cfg.code_schedule)
      _, leftover = self._orthogonal_step()
      with tf.GradientTape() as info_tape:
        fake2 = G((info_code, info_sample.z), training=True)
        if cfg.info_noise > 0:
          shape = tf.concat([[cfg.batch_size], tf.shape(fake2)[1:]], axis=0)
          noise = local_rows(tf.random.stateless_normal(shape, key(5)))
          fake2 = fake2 + tf.cast(cfg.info_noise * noise, fake2.dtype)
        _, q = D(fake2, training=True)
        info, rec, onehot, categorical = self._information_loss(info_sample, q)
        if self.contrastive is not None:
          contrastive = self._contrastive_loss(key(4), n, start, b)
          info += cfg.cr_weight * contrastive
      self._apply(self.opt_info, info_tape, info, self.info_variables, leftover)

    values = [d_loss, d_hinge, gp, g_loss, info, rec, onehot, tf.reduce_mean(real_scores),
              tf.reduce_mean(fake_scores), tf.reduce_mean(fake_scores_g)]
    if m.cat_dim:
      values.append(categorical)
    if self.contrastive is not None:
      values.append(contrastive)
    if cfg.jacobian_ortho_weight > 0:
      values.append(jacobian)
    values += list(ortho_values)
    return dict(zip(self.metric_keys, values))

  def _information_loss(self, sample: codes_lib.CodeSample, q: tf.Tensor):
    """The weighted information loss of Q's output q [b, Q'] on G(sample) (float32 scalars).

    Returns (lambda_info * rec + gamma_onehot * onehot [+ lambda_cat * categorical], rec,
    onehot, categorical or None without a categorical code).
    """
    cfg, m = self.cfg, self.cfg.model
    mu, log_sigma = split_q(q, m.c_dim, m.probabilistic_q)
    rec = losses.code_reconstruction(sample.c, mu, log_sigma, cfg.point_q_loss)
    onehot = losses.one_hot_cross_entropy(mu, sample.target, sample.ce_weight)
    info = cfg.lambda_info * rec + cfg.gamma_onehot * onehot
    categorical = None
    if m.cat_dim:
      categorical = losses.categorical_cross_entropy(category_logits(q, m), sample.category)
      info += cfg.lambda_cat * categorical
    return info, rec, onehot, categorical

  def _jacobian_orthogonality(self, code: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
    """losses.jacobian_orthogonality of G at the first JACOBIAN_SAMPLES rows of this replica's
    codes (code float32 [b, C (+ K one-hot category)], z float32 [b, Z]); call on G's tape.

    Each continuous code is moved by JACOBIAN_CODE_STEP on its own; G draws the unmoved and all
    C moved images in one call (one set of BatchNorm statistics), and the column of code i is
    (G(c + step e_i) - G(c)) / step.
    """
    c_dim = self.cfg.model.c_dim
    k = min(JACOBIAN_SAMPLES, self.per_replica_batch)
    base_code, base_z = code[:k], z[:k]
    width = base_code.shape[-1]
    shifts = JACOBIAN_CODE_STEP * tf.eye(c_dim, width)
    moved_code = tf.reshape(base_code[:, None, :] + shifts[None], (k * c_dim, width))
    moved_z = tf.repeat(base_z, c_dim, axis=0)
    images = self.generator((tf.concat([base_code, moved_code], 0),
                             tf.concat([base_z, moved_z], 0)), training=True)
    images = tf.reshape(tf.cast(images, tf.float32), (k * (c_dim + 1), -1))
    columns = (tf.reshape(images[k:], (k, c_dim, -1)) - images[:k, None, :]) / JACOBIAN_CODE_STEP
    return losses.jacobian_orthogonality(columns)

  def _contrastive_loss(self, key: tf.Tensor, n: tf.Tensor, start, b: int) -> tf.Tensor:
    """H's cross-entropy (float32 scalar) on b pairs drawn for iteration n; call on the info tape.

    H learns from iteration 0; G receives the loss's gradient only from cr_start_step on. The
    gate is a gradient gate, not control flow: a cond around BatchNorm's cross-replica
    statistics cannot run under MirroredStrategy.
    """
    cfg, m = self.cfg, self.cfg.model
    pairs = codes_lib.sample_contrastive_pairs(key, cfg.batch_size, m.c_dim, m.z_dim,
                                               m.cat_dim).shard(start, b)
    code = codes_lib.generator_code(tf.reshape(pairs.c, (2 * b, m.c_dim)),
                                    tf.reshape(pairs.category, (2 * b,)), m.cat_dim)
    # One G call for both images of every pair: one set of BatchNorm statistics.
    images = self.generator((code, tf.reshape(pairs.z, (2 * b, m.z_dim))), training=True)
    gate = tf.cast(n >= cfg.cr_start_step, images.dtype)
    images = tf.stop_gradient(images) + gate * (images - tf.stop_gradient(images))
    logits = self.contrastive(tf.concat([images[:b], images[b:]], axis=-1), training=True)
    return losses.categorical_cross_entropy(logits, pairs.shared)

  def _train_loop(self, iterator, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
    """Runs `num_steps` iterations; returns each metric's mean over them (float32 scalars)."""
    return mean_over_iterations(self.strategy, self._replica_step, iterator, num_steps,
                                self.metric_keys, self.networks, self.cfg.ema_decay, self.step)

  def loss_scales(self) -> dict[str, float]:
    """Current dynamic loss scales (mixed_float16 only)."""
    return {name: float(opt.dynamic_scale) for name, opt in
            (("d", self.opt_d), ("g", self.opt_g), ("info", self.opt_info))
            if opt.loss_scaling}


def new_trainer(cfg: TrainConfig, strategy: tf.distribute.Strategy | None = None):
  """What an entry point does to start a run's state: set_keras_globals(cfg), then a Trainer
  (a StyleGANTrainer for g_type stylegan; same interface)."""
  set_keras_globals(cfg)
  if cfg.model.g_type == "stylegan":
    return StyleGANTrainer(cfg, strategy)
  return Trainer(cfg, strategy)
