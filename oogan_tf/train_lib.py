"""Runs training in a run directory: resume, checkpoints, TensorBoard, samples, progress.

Run directory (`model_dir`):
  config.json      the resolved TrainConfig (written on the first start; checked on resume)
  command.txt      the command line of every start, appended
  run.lock         held while a trainer or exporter writes here (oogan_tf.run_dir.RunLock)
  ckpt/            tf.train.CheckpointManager checkpoints (networks, EMA, every optimiser incl. the
                   private orthogonal ones, the iteration and the RNG state)
  train/           TensorBoard events (losses, scores, images)
  eval/            TensorBoard events of --eval_every_steps (disentanglement on dSprites; fid,
                   kid and ortho on any dataset)
  samples/         PNG grids (fixed samples and one traversal per code dimension)
Re-running with the same model_dir resumes from the newest checkpoint that reads completely
(damaged newer ones are moved to ckpt/damaged-<time>/ with a warning; if none reads, the start is
refused and nothing is changed); a changed model-defining field is refused. A non-finite loss
stops the run before anything is saved.

The outer loop is an orbit-style oogan_tf.controller.Controller; sample grids, checkpoints and
in-training evaluation are its train actions, each on its own interval.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile

import tensorflow as tf

from oogan_tf import calibration
from oogan_tf import data as data_lib
from oogan_tf import eval_report, evaluate_lib
from oogan_tf import export_lib
from oogan_tf import metrics as metrics_lib
from oogan_tf import run_dir
from oogan_tf import summaries
from oogan_tf.config import TrainConfig
from oogan_tf.controller import Controller, TrainAction
from oogan_tf.distribute import StrategyError, cpu_bf16_warning, get_strategy, is_chief
from oogan_tf.run_dir import RunDirectoryError
from oogan_tf.run_log import Progress, RunLog
from oogan_tf.trainer import NonFiniteLossError, Trainer, learning_rate_factor, new_trainer


def _fidelity_features(cfg: TrainConfig):
  """The InceptionV3 feature function of in-training fid / kid (built once), else None."""
  names = {m.strip() for m in cfg.eval_metrics.split(",")}
  if not cfg.eval_every_steps or not names & set(metrics_lib.FIDELITY_METRICS):
    return None
  return metrics_lib.inception_feature_fn(
      metrics_lib.resolve_inception_weights(cfg.inception_weights))


def train(cfg: TrainConfig, command_line: str | None = None) -> dict:
  """Trains until cfg.train_steps (resuming if model_dir holds a run).

  The chief holds the run directory's lock (run_dir.RunLock) from before it writes anything
  until it returns.
  Returns: {"step": final iteration, "metrics": the last loop's mean metrics, "resumed_from":
  the iteration restored (0 for a fresh start), "checkpoint": newest checkpoint path}.
  Raises:
    RunDirectoryError (incl. run_dir.RunLockedError and run_dir.CheckpointError),
    StrategyError, ValueError (data / config; metrics.InceptionWeightsError when fid / kid are
    evaluated and no InceptionV3 weights file is found), NonFiniteLossError.
  """
  if not cfg.model_dir:
    raise ValueError("--model_dir is required: the run directory for config, checkpoints, "
                     "TensorBoard events and samples")
  # Finds the images (files, layout, npz) before anything is written, so that a failed start
  # leaves no run directory behind.
  data_description = data_lib.describe_source(cfg.data_config())
  feature_fn = _fidelity_features(cfg)
  strategy = get_strategy(cfg.strategy, cfg.num_gpus)
  try:
    cfg.check_replicas(strategy.num_replicas_in_sync)
  except ValueError as e:
    raise StrategyError(str(e)) from e
  chief = is_chief(strategy)
  if chief:
    run_dir.refuse_foreign_directory(cfg.model_dir)
  lock = run_dir.RunLock(cfg.model_dir, "train") if chief else contextlib.nullcontext()
  with lock:
    notes = []
    if chief:
      if lock.took_over:
        notes.append(f"train | took over the stale lock of {lock.took_over}")
      run_dir.prepare(cfg, command_line)
      notes += [f"train | removed {p} (left by a killed run)"
                for p in run_dir.remove_stale_temporaries(cfg.model_dir)]
    return _train(cfg, strategy, chief, data_description, notes, feature_fn)


def _restore(ckpt: tf.train.Checkpoint, ckpt_dir: str, chief: bool) -> tuple[str | None, list]:
  """Restores the newest checkpoint of ckpt_dir that reads completely into `ckpt`.

  On the chief, damaged newer checkpoints are moved aside and the manager's state file is rebuilt
  from the files on disk (run_dir), so that neither a fallback nor a stale state file makes the
  CheckpointManager's rotation delete an intact checkpoint.
  Returns: (restored path or None for a fresh start, warning lines).
  """
  latest, skipped = run_dir.find_newest_intact(ckpt_dir)
  warnings = []
  if skipped:
    moved = run_dir.set_aside(ckpt_dir, [p for p, _ in skipped]) if chief else None
    for prefix, why in skipped:
      warnings.append(f"train | warning: skipped {prefix}: {why}" +
                      (f"; its files are now in {moved}" if moved else ""))
    warnings.append("train | warning: the checkpoints that read are kept out of the rotation "
                    "(--keep_checkpoints counts only new ones); delete them once satisfied")
  if latest:
    if chief:
      run_dir.rebuild_state(ckpt_dir, latest, protect_older=bool(skipped))
    ckpt.restore(latest).assert_existing_objects_matched()
  return latest, warnings


def _log_start(log: RunLog, cfg: TrainConfig, trainer: Trainer, strategy: tf.distribute.Strategy,
               lines: list[str], restore_msg: str) -> str:
  """Logs the start of a run (config, parameter counts, devices, data = lines[0], then the notes
  and warnings in lines[1:], then how it started); returns the one-line config summary."""
  m = cfg.model
  config_line = (f"config: dataset={cfg.dataset} {m.image_size}x{m.image_size}x{m.channels}, "
                 f"G={m.g_type} Q={m.q_type} c_dim={m.c_dim} z_dim={m.z_dim} ngf={m.ngf} "
                 f"ndf={m.ndf}, batch {cfg.batch_size}, {cfg.train_steps:,} iterations, lr "
                 f"{cfg.learning_rate:g}, gp {cfg.gp_weight:g}, codes {cfg.code_schedule}, "
                 f"{cfg.precision}, seed {cfg.seed}")
  log.event(f"train | {config_line} (every value: "
            f"{os.path.join(cfg.model_dir, 'config.json')})")
  log.event("train | trainable parameters: " + ", ".join(
      f"{k}={v:,}" for k, v in trainer.parameter_counts().items()))
  log.event(f"train | strategy={type(strategy).__name__} replicas={strategy.num_replicas_in_sync} "
            f"precision={cfg.precision} jit_compile={cfg.jit_compile} devices="
            f"{[d.name for d in tf.config.list_logical_devices()]}")
  bf16_warning = cpu_bf16_warning(cfg.precision)
  if bf16_warning:
    log.event(f"train | warning: {bf16_warning}")
  log.event(f"train | data: {lines[0]}")
  for line in lines[1:]:
    log.event(line)
  log.event(f"train | {restore_msg}")
  return config_line


def _evaluate_in_training(trainer: Trainer, cfg: TrainConfig, step: int, chief: bool, feature_fn,
                          log: RunLog) -> None:
  """--eval_every_steps: exports the EMA model to a temporary directory, scores it (gan_papers
  protocol at --eval_sizes_scale), writes eval/ scalars and the effect matrix (chief), logs it."""
  trainer.sync_ema_buffers()
  with tempfile.TemporaryDirectory(prefix="oogan_tf_eval_") as tmp:
    path = export_lib.export_calibrated(trainer.ema_generator, trainer.discriminator, cfg,
                                        step, os.path.join(tmp, "export"))
    result = evaluate_lib.evaluate_export(path, cfg.eval_metrics, seed=cfg.seed,
                                          protocol="gan_papers",
                                          sizes_scale=cfg.eval_sizes_scale,
                                          feature_fn=feature_fn)
  if chief:
    eval_report.write_summaries(result, os.path.join(cfg.model_dir, "eval"), step)
    factors = result["results"].get("generator_factors")
    if factors:
      from oogan_tf.metrics import generator_factors  # pylint: disable=g-import-not-at-top
      generator_factors.save_effect_heatmap(
          factors, os.path.join(cfg.model_dir, "eval", f"effect_matrix_step{step:07d}.png"),
          title=f"iteration {step}")
  scores = eval_report.score_summaries(result)
  log.stats({"step": step, "eval": scores})
  log.event(f"eval | step {step} | " + " ".join(
      f"{k}={v['value']:.4f}" + (f"±{v['se']:.4f}" if v["se"] is not None else "")
      for k, v in sorted(scores.items()) if eval_report.score_direction(k)))


def _finite_metrics(out: dict, step: int, n: int, newest: str | None) -> dict[str, float]:
  """The loop's metrics as floats; NonFiniteLossError (nothing is saved) if one is NaN or inf."""
  metrics = {k: float(v) for k, v in out.items()}
  bad = [k for k, v in metrics.items() if not math.isfinite(v)]
  if bad:
    raise NonFiniteLossError(
        f"non-finite values {', '.join(f'{k}={metrics[k]}' for k in bad)} in iterations "
        f"{step}..{step + n - 1}; this state was not saved (newest checkpoint: "
        f"{newest or 'none'}). Lower --learning_rate, use --precision=float32, or resume from "
        "the newest checkpoint.")
  return metrics


def _report_loop(cfg: TrainConfig, trainer: Trainer, writer, log: RunLog, progress_line: str,
                 metrics: dict[str, float], step: int, n: int, elapsed: float) -> None:
  """One loop of n iterations ending at `step`: TensorBoard scalars, the progress line, stats."""
  steps_per_sec = n / elapsed
  with writer.as_default():
    summaries.write_scalars(
        {**metrics, "opt/learning_rate": cfg.learning_rate,
         **{f"opt/loss_scale_{k}": v for k, v in trainer.loss_scales().items()},
         "perf/steps_per_sec": steps_per_sec,
         "perf/images_per_sec": steps_per_sec * cfg.batch_size}, step)
  growing = ""
  if "progress/resolution" in metrics:  # the StyleGAN-based model's progressive schedule
    growing = (f" | {int(metrics['progress/resolution'])}px "
               f"alpha={metrics['progress/alpha']:.2f}")
  log.event(f"train | {progress_line} | "
            f"d={metrics['loss/d_total']:.4f} g={metrics['loss/g_adv']:.4f} "
            f"info={metrics['loss/info']:.4f} D(x)={metrics['d/score_real']:.3f} "
            f"D(G(z))={metrics['d/score_fake']:.3f}{growing}")
  log.stats({"step": step, "kimg": step * cfg.batch_size / 1000, "loop_seconds": elapsed,
             "steps_per_sec": steps_per_sec, **metrics})


def _train(cfg: TrainConfig, strategy: tf.distribute.Strategy, chief: bool,
           data_description: str, notes: list[str], feature_fn) -> dict:
  trainer = new_trainer(cfg, strategy)
  ckpt = trainer.checkpoint()
  ckpt_dir = os.path.join(cfg.model_dir, "ckpt")
  # Every worker runs the same saving, sampling and export code (variables may be read
  # collectively, so a worker that skipped would block the others), but only the chief writes
  # into the run directory; the others write to a scratch directory.
  out_dir = cfg.model_dir if chief else tempfile.mkdtemp(prefix="oogan_tf_worker_")
  for sub in ("ckpt", "samples"):
    os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
  latest, warnings = _restore(ckpt, ckpt_dir, chief)
  # Created after _restore, because it reads the state file that _restore rebuilds.
  manager = tf.train.CheckpointManager(ckpt, os.path.join(out_dir, "ckpt"),
                                       max_to_keep=cfg.keep_checkpoints,
                                       step_counter=trainer.step)
  if latest:
    restore_msg = f"resumed from {latest} (iteration {trainer.iteration})"
  else:
    restore_msg = "initialized (fresh run)"
  start = trainer.iteration

  log = RunLog(cfg.model_dir if chief else None)
  config_line = _log_start(log, cfg, trainer, strategy, [data_description, *notes, *warnings],
                           restore_msg)

  dcfg = cfg.data_config()
  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.build_dataset(dcfg, ctx, start_batch=start))
  iterator = iter(dataset)
  writer = (tf.summary.create_file_writer(os.path.join(cfg.model_dir, "train")) if chief
            else tf.summary.create_noop_writer())
  summaries.write_config(cfg.to_json(), config_line, writer, start)
  samples = summaries.SampleWriter(cfg.model.c_dim, cfg.model.z_dim, cfg.sample_seed,
                                    cfg.model.cat_dim)
  samples_dir = os.path.join(out_dir, "samples")

  def write_samples(step: int) -> None:
    trainer.sync_ema_buffers()
    standing = calibration.standing_generator_statistics(trainer.ema_generator, cfg)
    samples.write(trainer.ema_generator, step, writer, samples_dir, training=not standing)

  def save(step: int) -> None:
    if not (manager.latest_checkpoint or "").endswith(f"-{step}"):
      manager.save(checkpoint_number=step)

  def evaluate(step: int) -> None:
    _evaluate_in_training(trainer, cfg, step, chief, feature_fn, log)

  if start == 0 and cfg.train_steps > 0:
    if chief:
      batches = -(-summaries.NUM_SAMPLES // cfg.batch_size)
      reals = tf.concat(list(calibration.real_batches(cfg, batches)), 0)
      summaries.write_reals(reals[:summaries.NUM_SAMPLES].numpy(), writer, samples_dir)
    write_samples(0)
  progress = Progress(cfg.batch_size)

  def run_chunk(n: int) -> dict[str, float]:
    first = trainer.iteration
    if cfg.lr_decay_start:
      trainer.set_learning_rate_factor(
          learning_rate_factor(first, cfg.lr_decay_start, cfg.train_steps))
    out = trainer.train_loop(iterator, tf.constant(n, tf.int64))
    return _finite_metrics(out, first, n, manager.latest_checkpoint)

  def report(chunk_metrics: dict, end: int, n: int, elapsed: float) -> None:
    progress.update(n, elapsed)
    _report_loop(cfg, trainer, writer, log, progress.line(end, cfg.train_steps), chunk_metrics,
                 end, n, elapsed)

  controller = Controller(
      run_chunk, lambda: trainer.iteration, cfg.steps_per_loop, cfg.train_steps,
      [TrainAction(cfg.sample_every_steps, write_samples),
       TrainAction(cfg.checkpoint_every_steps, save),
       TrainAction(cfg.eval_every_steps, evaluate)], report)
  with run_dir.StopRequest() as stop:
    step, metrics = controller.run(lambda: stop.requested)
  if step > start or not manager.latest_checkpoint:
    if step % cfg.sample_every_steps:
      write_samples(step)
    save(step)
  writer.flush()
  export_dir = os.path.join(out_dir, "export", str(step))
  if cfg.export_at_end and not stop.requested and not os.path.exists(export_dir):
    trainer.sync_ema_buffers()
    export_lib.export_calibrated(trainer.ema_generator, trainer.discriminator, cfg, step,
                                 export_dir)
    log.event(f"train | exported {export_dir}")
  if stop.requested:
    log.event(f"train | stopped on request at iteration {step}; re-run the same command to resume")
  return {"step": step, "metrics": metrics, "resumed_from": start,
          "checkpoint": manager.latest_checkpoint}
