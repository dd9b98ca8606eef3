"""Runs training in a run directory: resume, checkpoints, TensorBoard, samples, progress, signals.

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
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time

import tensorflow as tf

from oogan_tf import calibration
from oogan_tf import data as data_lib
from oogan_tf import evaluate_lib
from oogan_tf import export_lib
from oogan_tf import metrics as metrics_lib
from oogan_tf import run_dir
from oogan_tf import summaries
from oogan_tf.config import TrainConfig
from oogan_tf.distribute import StrategyError, cpu_bf16_warning, get_strategy
from oogan_tf.run_dir import RunDirectoryError
from oogan_tf.run_log import Progress, RunLog
from oogan_tf.trainer import NonFiniteLossError, Trainer


def _refuse_foreign_directory(model_dir: str) -> None:
  # A lock file alone is what a start killed before writing config.json leaves behind.
  if (os.path.isdir(model_dir) and not os.path.exists(os.path.join(model_dir, "config.json"))
      and set(os.listdir(model_dir)) - {run_dir.LOCK_FILE}):
    raise RunDirectoryError(
        f"--model_dir={model_dir} is not empty and has no config.json, so it is not an "
        "oogan_tf run directory; refusing to write into it. Use a new or empty directory.")


def prepare_run_directory(cfg: TrainConfig, command_line: str | None = None) -> None:
  """Creates model_dir, or checks that its config.json allows resuming with `cfg`.

  Raises:
    RunDirectoryError: model-defining fields differ from the saved config, or model_dir holds
      files but no config.json (it is not an oogan_tf run directory; nothing is overwritten).
  """
  model_dir = cfg.model_dir
  path = os.path.join(model_dir, "config.json")
  if os.path.exists(path):
    with open(path) as f:
      saved = TrainConfig.from_dict(json.load(f))
    changed = saved.differences(cfg)
    if changed:
      details = "; ".join(f"{k}: saved {_get(saved, k)!r}, now {_get(cfg, k)!r}" for k in changed)
      raise RunDirectoryError(
          f"--model_dir={model_dir} holds a run with a different configuration ({details}). "
          "Resume with the saved values or use a new --model_dir.")
  else:
    _refuse_foreign_directory(model_dir)
    os.makedirs(model_dir, exist_ok=True)
    run_dir.write_text_atomically(path, cfg.to_json())
  for sub in ("ckpt", "train", "samples"):
    os.makedirs(os.path.join(model_dir, sub), exist_ok=True)
  with open(os.path.join(model_dir, "command.txt"), "a") as f:
    f.write((command_line or " ".join(sys.argv)) + "\n")


def _get(cfg: TrainConfig, dotted: str):
  value = cfg.to_dict()
  for part in dotted.split("."):
    value = value.get(part) if isinstance(value, dict) else None
  return value


class _StopRequest:
  """Turns SIGTERM / the first Ctrl-C into a flag checked between loops (a second Ctrl-C aborts)."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread: signals stay with the caller
        pass
    return self

  def _handle(self, signum, frame):
    if self.requested and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.requested = True
    print(f"train | received signal {signum}: saving a checkpoint and stopping after this loop",
          flush=True)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    return False


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True on the one worker that writes the run directory (always true outside multi-worker)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  has_chief = "chief" in resolver.cluster_spec().as_dict()
  return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


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
    _refuse_foreign_directory(cfg.model_dir)
  lock = run_dir.RunLock(cfg.model_dir, "train") if chief else contextlib.nullcontext()
  with lock:
    notes = []
    if chief:
      if lock.took_over:
        notes.append(f"train | took over the stale lock of {lock.took_over}")
      prepare_run_directory(cfg, command_line)
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


def _train(cfg: TrainConfig, strategy: tf.distribute.Strategy, chief: bool,
           data_description: str, notes: list[str], feature_fn) -> dict:
  trainer = Trainer(cfg, strategy)
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
  log.event(f"train | data: {data_description}")
  for line in notes + warnings:
    log.event(line)
  log.event(f"train | {restore_msg}")

  dcfg = cfg.data_config()
  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.build_dataset(dcfg, ctx, start_batch=start))
  iterator = iter(dataset)
  writer = (tf.summary.create_file_writer(os.path.join(cfg.model_dir, "train")) if chief
            else tf.summary.create_noop_writer())
  summaries.write_config(cfg.to_json(), config_line, writer, start)
  samples = summaries.SampleWriter(cfg.model.c_dim, cfg.model.z_dim, cfg.sample_seed)
  samples_dir = os.path.join(out_dir, "samples")

  def write_samples(step: int) -> None:
    trainer.sync_ema_buffers()
    standing = calibration.standing_generator_statistics(trainer.ema_generator, cfg)
    samples.write(trainer.ema_generator, step, writer, samples_dir, training=not standing)

  def save(step: int) -> None:
    if not (manager.latest_checkpoint or "").endswith(f"-{step}"):
      manager.save(checkpoint_number=step)

  def evaluate(step: int) -> None:
    trainer.sync_ema_buffers()
    with tempfile.TemporaryDirectory(prefix="oogan_tf_eval_") as tmp:
      path = export_lib.export_calibrated(trainer.ema_generator, trainer.discriminator, cfg,
                                          step, os.path.join(tmp, "export"))
      result = evaluate_lib.evaluate_export(path, cfg.eval_metrics, seed=cfg.seed,
                                            protocol="gan_papers",
                                            sizes_scale=cfg.eval_sizes_scale,
                                            feature_fn=feature_fn)
    if chief:
      evaluate_lib.write_summaries(result, os.path.join(cfg.model_dir, "eval"), step)
      factors = result["results"].get("generator_factors")
      if factors:
        from oogan_tf.metrics import generator_factors  # pylint: disable=g-import-not-at-top
        generator_factors.save_effect_heatmap(
            factors, os.path.join(cfg.model_dir, "eval", f"effect_matrix_step{step:07d}.png"),
            title=f"iteration {step}")
    scores = evaluate_lib.score_summaries(result)
    log.stats({"step": step, "eval": scores})
    log.event(f"eval | step {step} | " + " ".join(
        f"{k}={v['value']:.4f}" + (f"±{v['se']:.4f}" if v["se"] is not None else "")
        for k, v in sorted(scores.items()) if evaluate_lib.score_direction(k)))

  metrics: dict = {}
  step = start
  if step == 0 and cfg.train_steps > 0:
    if chief:
      batches = -(-summaries.NUM_SAMPLES // cfg.batch_size)
      reals = tf.concat(list(calibration.real_batches(cfg, batches)), 0)
      summaries.write_reals(reals[:summaries.NUM_SAMPLES].numpy(), writer, samples_dir)
    write_samples(0)
  progress = Progress(cfg.batch_size)
  with _StopRequest() as stop:
    while step < cfg.train_steps and not stop.requested:
      n = min(cfg.steps_per_loop, cfg.train_steps - step)
      t0 = time.perf_counter()
      out = trainer.train_loop(iterator, tf.constant(n, tf.int64))
      metrics = {k: float(v) for k, v in out.items()}
      elapsed = time.perf_counter() - t0
      bad = [k for k, v in metrics.items() if not math.isfinite(v)]
      if bad:
        raise NonFiniteLossError(
            f"non-finite values {', '.join(f'{k}={metrics[k]}' for k in bad)} in iterations "
            f"{step}..{step + n - 1}; this state was not saved (newest checkpoint: "
            f"{manager.latest_checkpoint or 'none'}). Lower --learning_rate, use "
            "--precision=float32, or resume from the newest checkpoint.")
      prev, step = step, trainer.iteration
      steps_per_sec = n / elapsed
      with writer.as_default():
        summaries.write_scalars(
            {**metrics, "opt/learning_rate": cfg.learning_rate,
             **{f"opt/loss_scale_{k}": v for k, v in trainer.loss_scales().items()},
             "perf/steps_per_sec": steps_per_sec,
             "perf/images_per_sec": steps_per_sec * cfg.batch_size}, step)
      progress.update(n, elapsed)
      log.event(f"train | {progress.line(step, cfg.train_steps)} | "
                f"d={metrics['loss/d_total']:.4f} g={metrics['loss/g_adv']:.4f} "
                f"info={metrics['loss/info']:.4f} D(x)={metrics['d/score_real']:.3f} "
                f"D(G(z))={metrics['d/score_fake']:.3f}")
      log.stats({"step": step, "kimg": step * cfg.batch_size / 1000, "loop_seconds": elapsed,
                 "steps_per_sec": steps_per_sec, **metrics})
      if step // cfg.sample_every_steps > prev // cfg.sample_every_steps:
        write_samples(step)
      if step // cfg.checkpoint_every_steps > prev // cfg.checkpoint_every_steps:
        save(step)
      if cfg.eval_every_steps and step // cfg.eval_every_steps > prev // cfg.eval_every_steps:
        evaluate(step)
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
