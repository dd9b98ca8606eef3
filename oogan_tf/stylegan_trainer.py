"""The training state and compiled train loop of the StyleGAN-based OOGAN (reference-notes
section 12), with the same interface as oogan_tf.trainer.Trainer (run directory, checkpoints,
summaries, evaluation and export work unchanged).

One iteration n:
  0. phase and alpha for n (oogan_tf.progressive), set on G, the EMA G and D; the real batch
     (+ instance noise while n < instance_noise_steps: not in the reference's StyleGAN code,
     available as for the vanilla model, whose dSprites presets use it);
  1. (c, z) for n (the configured code schedule; the paper's 50/50 alternation in the presets);
     x_fake = G(c, z) once, with random noise maps keyed by (seed, n);
  2. D step (WGAN-GP with drift): -mean D(x) + 0.001 mean D(x)^2 + mean D(x_fake) + gp_weight *
     GP on interpolates; real, fake and interpolates are separate calls;
  3. G + info step in one loss on the same x_fake (no resampling), scored by the updated D:
     -mean D(x_fake) + lambda_info * NLL(c; mu, log_sigma) + gamma_onehot * CE(mu as logits, k)
     (+ lambda_cat * the categorical CE); one step over G (mapping network at 0.01 x the learning
     rate) and Q;
  4. EMA of G's parameters.
The Q head's orthogonal layer takes its private step before each of the 4 D calls.

Optimiser state is per parameter group (the mapping network, each level's synthesis block, each
to_rgb / from_rgb, D's blocks, its final block, Q), and a group is stepped only in iterations
where it takes part (its level is at or below the phase's top level; the lower to_rgb / from_rgb
only while alpha < 1). That is what PyTorch's per-parameter Adam does for parameters without a
gradient, so a level that joins in a later phase starts with fresh bias correction, as in the
reference.

Released-code bugs behind switches (TrainConfig): stylegan_frozen_c_noise (the code -> noise
projections are in no optimiser), stylegan_refade_final (the last phase fades in again every
phase_steps); ModelConfig's stylegan_block0_collapse (the 4x4 level's second conv collapses it to
1x1). The released code's loss gates (the NLL term dropped while >= 100, the one-hot CE while
>= 10) are kept by default (stylegan_loss_gates): at initialisation Q's log sigma reaches -13 and
the NLL 10^6-10^7, and without the gates training diverged (NaN within 25 iterations of
dsprites_stylegan_cpu with 500-iteration phases). What was silent there is reported here:
loss/info_nll_dropped and loss/info_ce_dropped are the fraction of iterations that dropped each.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from oogan_tf import codes as codes_lib
from oogan_tf import losses
from oogan_tf import progressive
from oogan_tf.compiled_loop import mean_over_iterations
from oogan_tf.config import TrainConfig
from oogan_tf.models import (OrthogonalRegularizer, build_networks, category_logits,
                             checkpoint_of, copy_non_trainable, count_params, split_q)
from oogan_tf.models import stylegan
from oogan_tf.models.adam import Adam

DRIFT_WEIGHT = 0.001
MAPPING_LR_SCALE = 0.01
NLL_GATE, CE_GATE = 100.0, 10.0  # the released code drops terms at or above these
LOSS_KEYS = ("loss/d_total", "loss/d_wgan", "loss/drift", "loss/gradient_penalty", "loss/g_adv",
             "loss/info", "loss/info_reconstruction", "loss/info_onehot",
             "loss/info_nll_dropped", "loss/info_ce_dropped", "d/score_real", "d/score_fake",
             "d/score_fake_g_step", "progress/resolution", "progress/alpha")
CATEGORICAL_KEY = "loss/info_categorical"


class _Group:
  """One parameter group: its variables, its Adam, and when it takes part.

  active(top, fading) -> Python bool, or the fading tensor where it depends on it; top is the
  phase's top level (Python int: each phase has its own branch of the step) and fading a bool
  tensor (alpha < 1). Groups that are statically inactive get no gradient and no op.
  """

  def __init__(self, name, variables, learning_rate, cfg: TrainConfig, active):
    self.name, self.variables, self.active = name, list(variables), active
    self.optimizer = Adam(learning_rate, cfg.beta_1, cfg.beta_2, cfg.epsilon)
    self.optimizer.build(self.variables)


def _always(top, fading):
  del top, fading
  return True


def _level_at_most(level):
  return lambda top, fading: top >= level


def _top_or_fading(level):
  """to_rgb / from_rgb of `level`: the phase's top level, or the level below it while fading."""

  def active(top, fading):
    if top == level:
      return True
    return fading if top == level + 1 else False

  return active


class StyleGANTrainer:
  """Networks, per-group optimisers, EMA and step counter of a StyleGAN-based run, and its
  compiled train loop. Same public interface as trainer.Trainer; one replica only."""

  def __init__(self, cfg: TrainConfig, strategy: tf.distribute.Strategy | None = None):
    self.cfg = cfg
    self.strategy = strategy or tf.distribute.get_strategy()
    if self.strategy.num_replicas_in_sync != 1:
      raise ValueError(f"--g_type=stylegan trains on one replica; --strategy={cfg.strategy} has "
                       f"{self.strategy.num_replicas_in_sync}")
    policy = keras.mixed_precision.global_policy().name
    if policy != cfg.precision:
      raise ValueError(f"the Keras policy is {policy!r} but the config's precision is "
                       f"{cfg.precision!r}; call trainer.set_keras_globals(cfg) first")
    m = cfg.model
    self.num_phases = stylegan.num_phases(m)
    with self.strategy.scope():
      self.networks = build_networks(m)
      self.generator, self.ema_generator, self.discriminator = self.networks
      for ema, var in zip(self.ema_generator.variables, self.generator.variables):
        ema.assign(var)
      G, D = self.generator, self.discriminator
      self.ortho = OrthogonalRegularizer(D.orthogonal_layers, enabled=cfg.orthogonal_reg)
      frozen = ({id(v) for v in G.noise_map_variables()} if cfg.stylegan_frozen_c_noise
                else set())
      lr = cfg.learning_rate
      self.g_groups = [_Group("mapping", G.mapping_variables, lr * MAPPING_LR_SCALE, cfg,
                              _always)]
      for level in range(G.levels + 1):
        self.g_groups.append(_Group(
            f"level{level}", [v for v in G.level_variables(level) if id(v) not in frozen], lr,
            cfg, _level_at_most(level)))
        self.g_groups.append(_Group(f"to_rgb{level}", G.to_rgb_variables(level), lr, cfg,
                                    _top_or_fading(level)))
      self.q_group = _Group("q_head", D.q_head.trainable_variables, lr, cfg, _always)
      self.d_groups = [_Group("final", D.final_variables, lr, cfg, _always)]
      for level in range(D.levels + 1):
        self.d_groups.append(_Group(f"from_rgb{level}", D.from_rgb_variables(level), lr, cfg,
                                    _top_or_fading(level)))
        if level:
          self.d_groups.append(_Group(f"block{level}", D.block_variables(level), lr, cfg,
                                      _level_at_most(level)))
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
    self.metric_keys = (LOSS_KEYS + (CATEGORICAL_KEY,) * bool(m.cat_dim) +
                        tuple(f"ortho/{n}" for n in self.ortho.names))
    # The step has no tensor-dependent Python control flow (it branches on the phase with one
    # tf.switch_case, on fading with tf.cond), so AutoGraph need not transpile it and the layer
    # methods it calls.
    self._replica_step = tf.autograph.experimental.do_not_convert(self.replica_step)
    self.train_loop = tf.function(self._train_loop)

  # ----------------------------------------------------------------------------------------------
  def checkpoint(self) -> tf.train.Checkpoint:
    """Networks (each with its phase and alpha), EMA, every group's Adam, the iteration."""
    return checkpoint_of(
        self.step, self.networks,
        opt_d={g.name: g.optimizer for g in self.d_groups},
        opt_info={g.name: g.optimizer for g in self.g_groups + [self.q_group]},
        ortho_optimizers={name: opt for name, opt in zip(self.ortho.names, self.ortho.optimizers)})

  @property
  def iteration(self) -> int:
    return int(self.step.read_value().numpy())

  def parameter_counts(self) -> dict[str, int]:
    G, D = self.generator, self.discriminator
    return {"generator": count_params(G.trainable_variables),
            "mapping": count_params(G.mapping_variables),
            "discriminator": count_params(D.trainable_variables) -
                             count_params(D.q_head.trainable_variables),
            "q_head": count_params(D.q_head.trainable_variables)}

  def sync_ema_buffers(self) -> None:
    """Gives the EMA generator the live G's non-trainable state (its phase and alpha)."""
    copy_non_trainable(self.generator, self.ema_generator)

  def loss_scales(self) -> dict[str, float]:
    return {}

  # ----------------------------------------------------------------------------------------------
  def progress(self, iteration) -> tuple[tf.Tensor, tf.Tensor]:
    """(phase int32, alpha float32) of an iteration under this run's schedule."""
    cfg = self.cfg
    return progressive.progress_at(iteration, self.num_phases, cfg.phase_steps, cfg.fade_steps,
                                   cfg.stylegan_refade_final)

  def _style_mixing(self, key, top) -> tuple:
    """() without style mixing; else (z2 [B, Z], crossover int32 []): with probability
    style_mixing the levels from a crossover drawn uniformly in [1, top] take z2's style, else
    crossover = top + 1 (no level mixes)."""
    cfg = self.cfg
    if not cfg.style_mixing:
      return ()
    keys = tf.random.experimental.stateless_split(tf.cast(key, tf.int64), 3)
    z2 = tf.random.stateless_normal((cfg.batch_size, cfg.model.z_dim), keys[0])
    mix = tf.random.stateless_uniform((), keys[1]) < cfg.style_mixing
    crossover = tf.random.stateless_uniform((), keys[2], 1, top + 1, dtype=tf.int32)
    return z2, tf.where(mix, crossover, top + 1)

  @staticmethod
  def _taking_part(groups, top, fading) -> list[tuple[_Group, bool | tf.Tensor]]:
    """The groups that may take part in a phase, each with its activity (bool or bool tensor)."""
    out = []
    for group in groups:
      active = group.active(top, fading)
      if active is not False:
        out.append((group, active))
    return out

  @staticmethod
  def _apply(tape, loss, taking_part) -> None:
    """Steps each group that takes part on the gradient of `loss` (zero where it has none)."""
    variables = [v for g, _ in taking_part for v in g.variables]
    grads = dict(zip(map(id, variables), tape.gradient(loss, variables)))
    for group, active in taking_part:
      grads_g = [tf.zeros_like(v) if grads[id(v)] is None else grads[id(v)]
                 for v in group.variables]

      def step(group=group, grads_g=grads_g):
        group.optimizer.apply(grads_g, group.variables)
        return tf.constant(True)

      if active is True:
        step()
      else:
        tf.cond(active, step, lambda: tf.constant(False))

  def replica_step(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
    """One iteration on real images float [B, S, S, ch] in [-1, 1]; returns the metric_keys'
    float32 scalars. Does not advance the counter or the EMA (train_loop does).

    One tf.switch_case on the phase, each branch a whole iteration at that phase (networks
    called through call_at): the gradients inside a branch are plain ones, where switching
    inside every network call made each gradient differentiate through every phase (it cost
    ~70 % of the trace).
    """
    n = self.step.read_value()
    phase, alpha = self.progress(n)
    for net in self.networks:
      stylegan.set_progress(net, phase, alpha)
    branches = [lambda p=p: self._step_at(real, n, p, alpha) for p in range(self.num_phases)]
    return tf.switch_case(phase, branches)

  def _step_at(self, real, n, phase: int, alpha) -> dict[str, tf.Tensor]:
    """replica_step's iteration n at a fixed phase (Python int) and alpha (float32 tensor)."""
    cfg, m = self.cfg, self.cfg.model
    G, D = self.generator, self.discriminator
    top, fading = stylegan.top_level(m, phase), alpha < 1.0

    def key(purpose):
      return codes_lib.step_key(cfg.seed, n, purpose)

    def d_call(x):
      return D.call_at(x, phase, alpha)

    real = tf.cast(real, tf.float32)
    if cfg.instance_noise_steps > 0:
      real = real + codes_lib.instance_noise(tf.shape(real), n, cfg.instance_noise_steps, key(2))
    sample = codes_lib.sample_codes(key(0), n, cfg.batch_size, m.c_dim, m.z_dim,
                                    cfg.code_schedule, m.cat_dim)
    code = codes_lib.generator_code(sample.c, sample.category, m.cat_dim)
    d_part = self._taking_part(self.d_groups, top, fading)
    info_part = self._taking_part(self.g_groups + [self.q_group], top, fading)
    with tf.GradientTape(watch_accessed_variables=False) as g_tape:
      g_tape.watch([v.value for g, _ in info_part for v in g.variables])
      fake = G.call_at((code, sample.z, key(5)) + self._style_mixing(key(6), top), phase, alpha,
                       training=True)
      fake_sg = tf.stop_gradient(fake)

      with g_tape.stop_recording():
        with tf.GradientTape() as d_tape:
          with d_tape.stop_recording():
            ortho_values = self.ortho.step()
          real_scores, _ = d_call(real)
          with d_tape.stop_recording():
            self.ortho.step()
          fake_scores, _ = d_call(fake_sg)
          d_wgan = tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)
          drift = DRIFT_WEIGHT * tf.reduce_mean(tf.square(real_scores))
          if cfg.gp_weight > 0:
            mix = tf.random.stateless_uniform((cfg.batch_size, 1, 1, 1), key(3))
            with d_tape.stop_recording():
              self.ortho.step()
            # The penalty is on the gradient with respect to the image at the phase's own
            # resolution (what the reference's D takes), not the full-size one D pools from.
            pooling = float(m.image_size // stylegan.phase_resolution(m, phase))
            gp = losses.gradient_penalty(lambda x: d_call(x)[0],
                                         mix * real + (1.0 - mix) * fake_sg, norm_scale=pooling)
          else:
            gp = tf.constant(0.0)
          d_loss = d_wgan + drift + cfg.gp_weight * gp
        self._apply(d_tape, d_loss, d_part)
        self.ortho.step()

      fake_scores_g, q = d_call(fake)
      g_adv = losses.g_hinge_loss(fake_scores_g)
      mu, log_sigma = split_q(q, m.c_dim, m.probabilistic_q)
      rec = losses.code_reconstruction(sample.c, mu, log_sigma, cfg.point_q_loss)
      onehot = losses.one_hot_cross_entropy(mu, sample.target, sample.ce_weight)
      nll_dropped = tf.constant(False)
      ce_dropped = tf.constant(False)
      if cfg.stylegan_loss_gates:
        nll_dropped, ce_dropped = rec >= NLL_GATE, onehot >= CE_GATE
      info = (g_adv + cfg.lambda_info * tf.where(nll_dropped, 0.0, rec) +
              cfg.gamma_onehot * tf.where(ce_dropped, 0.0, onehot))
      if m.cat_dim:
        categorical = losses.categorical_cross_entropy(category_logits(q, m), sample.category)
        info += cfg.lambda_cat * categorical
    self._apply(g_tape, info, info_part)

    values = [d_loss, d_wgan, drift, gp, g_adv, info, rec, onehot,
              tf.cast(nll_dropped, tf.float32), tf.cast(ce_dropped, tf.float32),
              tf.reduce_mean(real_scores), tf.reduce_mean(fake_scores),
              tf.reduce_mean(fake_scores_g),
              tf.constant(float(stylegan.phase_resolution(m, phase))), tf.cast(alpha, tf.float32)]
    if m.cat_dim:
      values.append(categorical)
    values += list(ortho_values)
    return dict(zip(self.metric_keys, values))

  def _train_loop(self, iterator, num_steps: tf.Tensor) -> dict[str, tf.Tensor]:
    """Runs `num_steps` iterations (crossing phases in one trace); returns each metric's mean."""
    out = mean_over_iterations(self.strategy, self._replica_step, iterator, num_steps,
                               self.metric_keys, self.networks, self.cfg.ema_decay, self.step)
    # progress/* report the last iteration run, not a mean over phases.
    phase, alpha = self.progress(self.step.read_value() - 1)
    out["progress/resolution"] = tf.cast(stylegan.phase_resolution(self.cfg.model, phase),
                                         tf.float32)
    out["progress/alpha"] = alpha
    # The networks keep the progress of the next iteration (what samples and exports show).
    phase, alpha = self.progress(self.step.read_value())
    for net in self.networks:
      stylegan.set_progress(net, phase, alpha)
    return out
