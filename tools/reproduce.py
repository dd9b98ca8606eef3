"""Reproduces the paper's ablation study: trains, evaluates and tabulates OOGAN and its ablations.

    python tools/reproduce.py --experiment=ablation --preset=dsprites_cpu --seeds=0,1 \
        --train_steps=600 --workdir=W [--variants=oogan,infogan] [--metrics=...] \
        [--num_evals=2] [--eval_sizes=JSON] [--eval_sizes_scale=1.0] [--dry_run | --report_only]

Variants (issue 8; each is the preset with these fields changed):
  oogan           the preset as is (compete-free G, orthogonal Q, one-hot code schedule)
  infogan         InfoGAN G and Q, uniform codes, no orthogonal regularisation
  no_onehot       code_schedule=uniform
  no_ortho        orthogonal_reg=false
  no_competefree  g_type=infogan

Work directory layout:
  W/runs/<variant>/seed<k>/model/        train_lib run directory (ckpt/, train/, eval/ events,
                                         export/<step>/ for every evaluated step)
  W/runs/<variant>/seed<k>/eval_<step>.json   evaluate_lib result of that step's export
  W/runs/<variant>/seed<k>/traversal.png      traversal of the final export (rows: codes)
  W/runs/<variant>/seed<k>/done.json          marker: the run is trained and evaluated
  W/baselines/<row>.json                 the untrained / oracle reference rows (oogan_tf.baselines)
                                         at the same metrics, protocol and sizes; redone when
                                         those settings change
  W/results.json, W/results.md, W/plots/*.png the aggregate, rewritten after every run

Each run is trained in `num_evals` segments (e.g. to N/2, then N) through train_lib, which
exports at the end of each segment; each export is evaluated and its scores are written as
`eval/<metric>/<key>` TensorBoard scalars in model/eval/, from which the plots are drawn.
Re-running the same command skips runs with a matching done.json and resumes the others from
their newest checkpoint / evaluation. Runs go seed-major (all variants of the first seed, then
the next seed), so a study cut short still has every variant.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import re
import shutil
import sys
import time
import types

from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=wrong-import-position
from oogan_tf import cli
from oogan_tf import config_flags
from oogan_tf import presets
from oogan_tf import seed_comparison
from oogan_tf.config import TrainConfig

VARIANTS = {
    "oogan": {},
    "infogan": {"g_type": "infogan", "q_type": "infogan", "code_schedule": "uniform",
                "orthogonal_reg": False},
    "no_onehot": {"code_schedule": "uniform"},
    "no_ortho": {"orthogonal_reg": False},
    "no_competefree": {"g_type": "infogan"},
}
EXPERIMENTS = ("ablation",)
DEFAULT_METRICS = "factor_vae,mig,generator_factors,dci,tc,ortho"
BASELINE_ROWS = ("untrained", "oracle")

# factor_vae uses the gan_papers protocol (majority vote, no held-out set, as OOGAN / IB-GAN)
# with 800 votes: its bootstrap standard error is then at most ~0.018 (binomial at p = 0.5).
# DCI's gradient-boosted trees (one per class: 40 orientations) dominate the cost, hence its
# small sizes (2000 / 1000 took 85 s).
DEFAULT_EVAL_SIZES = {
    "factor_vae": {"num_train": 800, "num_variance_estimate": 10000},
    "mig": {"num_train": 4000},
    "dci": {"num_train": 600, "num_test": 300},
    "tc": {"num_samples": 2000},
}

# Table columns: (label, '<metric>/<key>' as eval_report.scalar_scores names it).
COLUMNS = (
    ("FactorVAE score", "factor_vae/eval_accuracy"),
    ("MIG", "mig/discrete_mig"),
    ("G factors score", "generator_factors/score"),
    ("G coverage", "generator_factors/coverage/mean"),
    ("DCI disent.", "dci/disentanglement"),
    ("DCI compl.", "dci/completeness"),
    ("DCI inform. (test)", "dci/informativeness_test"),
    ("TC (mss)", "tc/total_correlation_mss"),
    ("Q mean abs cos", "ortho/mean_abs_cos_offdiag"),
)

# Published numbers shown beside ours; never compared as if the budgets matched.
PUBLISHED = {
    ("oogan", "factor_vae/eval_accuracy"): "0.81 ± 0.077 (OOGAN Table 1)",
    ("infogan", "factor_vae/eval_accuracy"): "0.59 ± 0.078 (OOGAN Table 1)",
    ("oogan", "ortho/mean_abs_cos_offdiag"): "0.09 (Table 2, with orthogonal reg.)",
    ("infogan", "ortho/mean_abs_cos_offdiag"): "0.21 (Table 2, InfoGAN)",
}

class StoppedError(RuntimeError):
  """Training stopped early on a signal (train_lib saved a checkpoint); re-run to resume."""


def _log(message: str) -> None:
  print(f"[reproduce {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ----------------------------------------------------------------------------- configuration


preset_path = presets.preset_path


def make_config(preset: str, overrides: dict, **extra) -> TrainConfig:
  """The TrainConfig of the flagfile `preset`, then the variant's `overrides`, then `extra` (all
  by field name), parsed as `python -m oogan_tf.train --flagfile=preset --k=v ...` parses them.
  Raises ValueError naming a bad or unknown field."""
  merged = {**overrides, **extra}
  return config_flags.config_from_args([f"--flagfile={preset}",
                                        *(f"--{k}={v}" for k, v in merged.items())])


def eval_steps(train_steps: int, num_evals: int) -> list[int]:
  """The iterations evaluated: num_evals evenly spaced points ending at train_steps."""
  return [train_steps * k // num_evals for k in range(1, num_evals + 1)]


@dataclasses.dataclass(frozen=True)
class Run:
  """One (variant, seed) training run and its directory W/runs/<variant>/seed<k>."""

  variant: str
  seed: int
  directory: str

  @property
  def model_dir(self) -> str:
    return os.path.join(self.directory, "model")

  @property
  def done_path(self) -> str:
    return os.path.join(self.directory, "done.json")


def plan_runs(args) -> list[Run]:
  return [Run(v, s, os.path.join(args.workdir, "runs", v, f"seed{s}"))
          for s in args.seeds for v in args.variants]


# ----------------------------------------------------------------------------- one run


def _eval_settings(args) -> dict:
  """What defines an evaluation; a done.json with other settings is redone."""
  return {"metrics": args.metrics, "protocol": args.protocol, "sizes": args.eval_sizes,
          "sizes_scale": args.eval_sizes_scale, "eval_steps": eval_steps(args.train_steps,
                                                                       args.num_evals)}


def is_done(run: Run, args) -> bool:
  if not os.path.exists(run.done_path):
    return False
  with open(run.done_path) as f:
    done = json.load(f)
  return done.get("train_steps") == args.train_steps and done.get("eval") == _eval_settings(args)


def _train_and_export(run: Run, cfg: TrainConfig, steps: list[int]) -> float:
  """Trains (resuming) to steps[-1] in one call, saving a checkpoint at every evaluated step, and
  exports each of `steps` to model/export/<step>/. Returns the training seconds spent.

  One call, not one per step: each train_lib.train call traces the train loop anew (about a
  minute on 2 CPU cores), while exporting a checkpoint takes seconds.
  """
  from oogan_tf import export_lib, train_lib  # pylint: disable=g-import-not-at-top
  t0 = time.time()
  out = train_lib.train(dataclasses.replace(
      cfg, export_at_end=True, checkpoint_every_steps=steps[0],
      keep_checkpoints=max(cfg.keep_checkpoints, len(steps))), command_line=" ".join(sys.argv))
  seconds = time.time() - t0
  if out["step"] < steps[-1]:
    raise StoppedError(f"training of {run.directory} stopped at iteration {out['step']}")
  for step in steps:
    export_dir = os.path.join(run.model_dir, "export", str(step))
    if os.path.isdir(export_dir):
      continue
    ckpt = os.path.join(run.model_dir, "ckpt", f"ckpt-{step}")
    if not os.path.exists(ckpt + ".index"):
      raise RuntimeError(f"{run.model_dir} has no ckpt-{step} to evaluate (an earlier invocation "
                         "used other --train_steps / --num_evals?); delete the run directory to "
                         "redo it")
    export_lib.export_from_checkpoint(run.model_dir, ckpt, export_dir)
  return seconds


def write_traversal(export_dir: str, path: str, steps: int = 8, seed: int = 0) -> None:
  """One row per code: code c_i swept over the export's code range, z and other codes fixed."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import visualize  # pylint: disable=g-import-not-at-top
  with open(os.path.join(export_dir, "assets", "oogan_metadata.json")) as f:
    meta = json.load(f)
  low, high = meta["code_range"]
  model = tf.saved_model.load(export_dir)
  rows = [model.signatures["traverse"](
      seed=tf.constant(seed, tf.int64), dim=tf.constant(dim, tf.int32),
      steps=tf.constant(steps, tf.int32), low=tf.constant(low, tf.float32),
      high=tf.constant(high, tf.float32))["images"].numpy() for dim in range(meta["c_dim"])]
  visualize.save_grid_png(np.concatenate(rows), steps, path)


def execute(run: Run, cfg: TrainConfig, args) -> dict:
  """Trains and evaluates one run (resuming whatever is there); writes and returns done.json."""
  from oogan_tf import eval_report, evaluate_lib  # pylint: disable=g-import-not-at-top
  os.makedirs(run.directory, exist_ok=True)
  timings_path = os.path.join(run.directory, "timings.json")
  timings = {}
  if os.path.exists(timings_path):
    with open(timings_path) as f:
      timings = json.load(f)

  def save_timings():
    with open(timings_path, "w") as f:
      json.dump(timings, f, indent=2)

  evals = {}
  settings = _eval_settings(args)
  steps = settings["eval_steps"]
  if not all(os.path.isdir(os.path.join(run.model_dir, "export", str(s))) for s in steps):
    key = f"train_to_{steps[-1]}_s"  # summed over invocations when a run is resumed
    timings[key] = timings.get(key, 0.0) + _train_and_export(run, cfg, steps)
    save_timings()
  for step in steps:
    path = os.path.join(run.directory, f"eval_{step}.json")
    if os.path.exists(path):
      with open(path) as f:
        result = json.load(f)
    else:
      export_dir = os.path.join(run.model_dir, "export", str(step))
      _log(f"{run.variant} seed {run.seed}: evaluating iteration {step}")
      result = evaluate_lib.evaluate_export(
          export_dir, args.metrics, seed=run.seed, protocol=args.protocol,
          sizes_scale=args.eval_sizes_scale, sizes=args.eval_sizes)
      timings[f"eval_{step}_s"] = result["elapsed_s"]
      eval_report.write_summaries(result, os.path.join(run.model_dir, "eval"), step)
      eval_report.write_results(result, path, overwrite=True)
      save_timings()
    evals[str(step)] = eval_report.scalar_scores(result)
    sizes_used = {m: r.get("params") for m, r in result["results"].items() if "params" in r}
  final = os.path.join(run.model_dir, "export", str(settings["eval_steps"][-1]))
  write_traversal(final, os.path.join(run.directory, "traversal.png"))
  done = {"variant": run.variant, "seed": run.seed, "train_steps": args.train_steps,
          "eval": settings, "sizes_used": sizes_used, "scores": evals, "timings": timings,
          "config": cfg.to_dict(),
          "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  with open(run.done_path + ".tmp", "w") as f:
    json.dump(done, f, indent=2, sort_keys=True)
  os.replace(run.done_path + ".tmp", run.done_path)
  return done


# ----------------------------------------------------------------------------- reference rows


def baseline_rows(args, configs: dict) -> dict[str, tuple[str, TrainConfig]]:
  """{row label: (baseline, config)}: one untrained row per distinct architecture, one oracle."""
  rows: dict[str, tuple[str, TrainConfig]] = {}
  architectures: dict[str, list[str]] = {}
  for variant in args.variants:
    key = json.dumps(dataclasses.asdict(configs[variant].model), sort_keys=True)
    architectures.setdefault(key, []).append(variant)
  if "untrained" in args.baselines:
    for variants in architectures.values():
      rows[f"untrained ({', '.join(variants)})"] = ("untrained", configs[variants[0]])
  if "oracle" in args.baselines:
    rows["oracle"] = ("oracle", configs[args.variants[0]])
  return rows


def _row_stats(result: dict) -> dict[str, dict]:
  """{'<metric>/<key>': {"mean", "se", "min", "max", "n"}} of a baseline's evaluation JSON."""
  from oogan_tf import eval_report  # pylint: disable=g-import-not-at-top
  n = len(result.get("inits") or [None])
  return {k: {"mean": s["value"], "se": s["se"], "min": s["min"], "max": s["max"], "n": n}
          for k, s in eval_report.score_summaries(result).items()}


def compute_baselines(args, configs: dict, evaluate_missing: bool = True) -> dict[str, dict]:
  """Evaluates (or reloads) every reference row at the study's evaluation settings.

  With evaluate_missing=False (--report_only) rows without a current result are left out.
  """
  from oogan_tf import baselines, eval_report  # pylint: disable=g-import-not-at-top
  out = {}
  for row, (kind, cfg) in baseline_rows(args, configs).items():
    settings = {k: v for k, v in _eval_settings(args).items() if k != "eval_steps"}
    settings.update(baseline=kind, inits=args.baseline_inits,
                    model=dataclasses.asdict(cfg.model))
    slug = re.sub(r"[^0-9A-Za-z]+", "_", row).strip("_")
    path = os.path.join(args.workdir, "baselines", f"{slug}.json")
    saved = None
    if os.path.exists(path):
      with open(path) as f:
        saved = json.load(f)
    if saved is None or saved.get("settings") != settings:
      if not evaluate_missing:
        continue
      _log(f"evaluating the {row} row")
      result = baselines.evaluate_baseline(
          kind, cfg, args.metrics, inits=args.baseline_inits, seed=0, protocol=args.protocol,
          sizes_scale=args.eval_sizes_scale, sizes=args.eval_sizes)
      saved = {"settings": settings, "result": result}
      os.makedirs(os.path.dirname(path), exist_ok=True)
      eval_report.write_results(saved, path, overwrite=True)
    out[row] = _row_stats(saved["result"])
  return out


# ----------------------------------------------------------------------------- aggregation


def aggregate(args, runs: list[Run], baseline_stats: dict | None = None) -> dict:
  """results.json content: every finished run's scores, per variant mean/std at the end, and
  the reference rows (compute_baselines)."""
  done = []
  for run in runs:
    if is_done(run, args):
      with open(run.done_path) as f:
        done.append(json.load(f))
  final = str(eval_steps(args.train_steps, args.num_evals)[-1])
  summary: dict = {}
  for variant in args.variants:
    mine = [d for d in done if d["variant"] == variant and final in d["scores"]]
    keys = sorted({k for d in mine for k in d["scores"][final]})
    summary[variant] = {}
    for key in keys:
      values = [d["scores"][final][key] for d in mine if key in d["scores"][final]]
      eval_se = [d["scores"][final].get(f"{key}_se") for d in mine if key in d["scores"][final]]
      eval_se = [v for v in eval_se if v is not None]
      summary[variant][key] = {
          **seed_comparison.group_stats(values), "values": values,
          "eval_se": math.sqrt(sum(v * v for v in eval_se) / len(eval_se)) if eval_se else None,
          "seeds": [d["seed"] for d in mine if key in d["scores"][final]]}
  return {
      "experiment": args.experiment, "preset": args.preset, "train_steps": args.train_steps,
      "seeds": args.seeds, "variants": {v: VARIANTS[v] for v in args.variants},
      "eval": _eval_settings(args), "final_step": int(final),
      "runs": [{k: d[k] for k in ("variant", "seed", "scores", "timings", "sizes_used",
                                  "finished")} for d in done],
      "summary": summary,
      "baselines": baseline_stats or {},
      "published": {f"{v}/{k}": text for (v, k), text in PUBLISHED.items()},
      "missing_runs": [f"{r.variant}/seed{r.seed}" for r in runs if not is_done(r, args)],
  }


def _cell(stats: dict | None) -> str:
  """'mean ± se over seeds [min-max, n; eval ±se]', or a reference row's range / error bar."""
  if not stats:
    return "n/a"
  eval_se = f"; eval ±{stats['eval_se']:.3f}" if stats.get("eval_se") is not None else ""
  if stats.get("min") is None:  # a single evaluation (oracle)
    se = f" ± {stats['se']:.3f}" if stats.get("se") is not None else ""
    return f"{stats['mean']:.3f}{se}"
  if stats["n"] == 1:
    return f"{stats['mean']:.3f} (n=1{eval_se})"
  se = stats.get("se")
  se_text = f" ± {se:.3f}" if se is not None else ""
  return (f"{stats['mean']:.3f}{se_text} [{stats['min']:.3f}-{stats['max']:.3f}, "
          f"n={stats['n']}{eval_se}]")


def results_markdown(results: dict) -> str:
  """The Markdown table: one row per variant, mean ± sample std over seeds at the final step."""
  lines = [
      f"# Results: {results['experiment']} on preset `{results['preset']}`",
      "",
      f"{results['train_steps']} iterations per run, seeds {results['seeds']}, scores at "
      f"iteration {results['final_step']}; mean ± standard error over seeds [seed range, n = "
      "seeds finished; eval ±: the evaluation's own standard error, root-mean-square over the "
      "runs]. Reference rows: untrained = random initial weights (mean ± se [range] over "
      "initialisations), oracle = sprite measurements / the renderer driven by c (± its "
      "evaluation standard error). "
      f"Metrics {results['eval']['metrics']}, FactorVAE protocol {results['eval']['protocol']}, "
      f"sizes {json.dumps(results['eval']['sizes'])} (scale {results['eval']['sizes_scale']}).",
      "'n/a': not computable for that variant (e.g. an InfoGAN Q has no orthogonal layers) "
      "or no finished run.",
      "",
      "| variant | " + " | ".join(label for label, _ in COLUMNS) + " |",
      "|---" * (len(COLUMNS) + 1) + "|",
  ]
  for variant, stats in results["summary"].items():
    lines.append(f"| {variant} | " + " | ".join(_cell(stats.get(key)) for _, key in COLUMNS)
                 + " |")
  for row, stats in results.get("baselines", {}).items():
    lines.append(f"| *{row}* | " + " | ".join(_cell(stats.get(key)) for _, key in COLUMNS)
                 + " |")
  lines += ["", "Published numbers (full budget: 50k iterations, full width; NOT comparable "
            "to a short run):", "", "| variant | metric | published |", "|---|---|---|"]
  for (variant, key), text in PUBLISHED.items():
    label = dict((k, l) for l, k in COLUMNS)[key]
    lines.append(f"| {variant} | {label} | {text} |")
  if results["missing_runs"]:
    lines += ["", f"Not finished: {', '.join(results['missing_runs'])}."]
  return "\n".join(lines) + "\n"


def read_eval_scalars(event_dir: str) -> dict[str, dict[int, float]]:
  """{'<metric>/<key>': {step: value}} from the `eval/...` scalars of a TensorBoard directory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  out: dict[str, dict[int, float]] = {}
  for path in sorted(glob.glob(os.path.join(event_dir, "events.out.tfevents.*"))):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag.startswith("eval/"):
          out.setdefault(value.tag[5:], {})[int(event.step)] = float(
              tf.make_ndarray(value.tensor))
  return out


def write_plots(args, results: dict, runs: list[Run], plot_dir: str) -> list[str]:
  """metric_<name>.png (each variant's seed-mean vs iteration, thin lines per seed) and
  traversal_<variant>.png (the first finished seed's final traversal)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(plot_dir, exist_ok=True)
  curves = {r: read_eval_scalars(os.path.join(r.model_dir, "eval"))
            for r in runs if is_done(r, args)}
  written = []
  for label, key in COLUMNS:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    drawn = False
    for i, variant in enumerate(results["summary"]):
      series = [curves[r][key] for r in curves if r.variant == variant and key in curves[r]]
      if not series:
        continue
      color = f"C{i}"
      for s in series:
        steps = sorted(s)
        ax.plot(steps, [s[k] for k in steps], color=color, alpha=0.3, lw=1)
      steps = sorted(set.intersection(*(set(s) for s in series)))
      ax.plot(steps, [sum(s[k] for s in series) / len(series) for k in steps], color=color,
              marker="o", lw=2, label=f"{variant} (n={len(series)})")
      drawn = True
    if not drawn:
      plt.close(fig)
      continue
    for row, stats in results.get("baselines", {}).items():
      ref = stats.get(key)
      if not ref:
        continue
      if ref.get("min") is not None:
        ax.axhspan(ref["min"], ref["max"], color="0.6", alpha=0.3, lw=0,
                   label=f"{row}: range")
      else:
        ax.axhline(ref["mean"], color="k", ls="--", lw=1, label=row)
    ax.set_xlabel("training iteration")
    ax.set_ylabel(label)
    ax.set_title(f"{label} ({results['preset']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(plot_dir, f"metric_{key.replace('/', '_')}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
  for variant in results["summary"]:
    for run in runs:
      src = os.path.join(run.directory, "traversal.png")
      if run.variant == variant and is_done(run, args) and os.path.exists(src):
        dst = os.path.join(plot_dir, f"traversal_{variant}.png")
        shutil.copyfile(src, dst)
        written.append(dst)
        break
  return written


def write_outputs(args, runs: list[Run], baseline_stats: dict | None = None) -> dict:
  results = aggregate(args, runs, baseline_stats)
  plots = write_plots(args, results, runs, os.path.join(args.workdir, "plots"))
  results["plots"] = [os.path.relpath(p, args.workdir) for p in plots]
  with open(os.path.join(args.workdir, "results.json"), "w") as f:
    json.dump(results, f, indent=2, sort_keys=True)
  with open(os.path.join(args.workdir, "results.md"), "w") as f:
    f.write(results_markdown(results))
  return results


# ----------------------------------------------------------------------------- dry run


def time_iterations(cfg: TrainConfig, iterations: int = 3) -> tuple[float, float]:
  """(startup seconds, seconds per iteration) of training `cfg` on this machine.

  Startup is building the networks plus a 1-iteration warm-up (which traces the train loop, the
  fixed cost of every run); the per-iteration time is then timed over `iterations`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import data as data_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.distribute import get_strategy  # pylint: disable=g-import-not-at-top
  from oogan_tf.trainer import new_trainer  # pylint: disable=g-import-not-at-top
  t0 = time.perf_counter()
  strategy = get_strategy("default", 0)
  trainer = new_trainer(cfg, strategy)
  dcfg = cfg.data_config()
  iterator = iter(strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.build_dataset(dcfg, ctx, start_batch=0)))
  float(next(iter(trainer.train_loop(iterator, tf.constant(1, tf.int64)).values())))
  t1 = time.perf_counter()
  out = trainer.train_loop(iterator, tf.constant(iterations, tf.int64))
  float(next(iter(out.values())))  # waits for the loop to finish
  return t1 - t0, (time.perf_counter() - t1) / iterations


def print_plan(args, runs: list[Run], configs: dict) -> None:
  todo = [r for r in runs if not is_done(r, args)]
  startup, sec = 0.0, args.sec_per_iter
  source = "--sec_per_iter; per-run startup not included"
  if sec is None:
    startup, sec = time_iterations(configs[args.variants[0]])
    source = (f"timed: 3 iterations of {args.variants[0]} after a warm-up, on this machine; "
              f"startup incl. tracing {startup:.0f} s per run")
  n_evals = len(eval_steps(args.train_steps, args.num_evals))
  train_h = len(todo) * (startup + args.train_steps * sec) / 3600
  eval_h = len(todo) * n_evals * args.sec_per_eval / 3600
  print(f"experiment {args.experiment}, preset {args.preset}, {args.train_steps} iterations per "
        f"run, evaluated at iterations {eval_steps(args.train_steps, args.num_evals)}")
  print(f"metrics {args.metrics} (protocol {args.protocol}), sizes {json.dumps(args.eval_sizes)}"
        f", sizes_scale {args.eval_sizes_scale}")
  for run in runs:
    print(f"  {'skip (done)' if run not in todo else 'run        '}  {run.variant:15s} seed "
          f"{run.seed}  {run.directory}")
  print(f"{len(todo)} of {len(runs)} runs to do; {sec:.3f} s/iteration ({source})")
  print(f"estimate: training {train_h:.2f} h + evaluation {eval_h:.2f} h "
        f"({n_evals} evaluation(s) per run at --sec_per_eval={args.sec_per_eval:g} s) = "
        f"{train_h + eval_h:.2f} h")


# ----------------------------------------------------------------------------- main


# The tool's own FlagValues, not absl's global one: its names (--train_steps, --metrics, ...)
# are also training flags, and tests import this tool into processes that define those.
_FLAGS = flags.FlagValues()
_WORKDIR = flags.DEFINE_string("workdir", None, "Where runs, results and plots go. Required.",
                               flag_values=_FLAGS)
_SEEDS = flags.DEFINE_string("seeds", "0,1", "Comma-separated training seeds (>= 0).",
                             flag_values=_FLAGS)
for _define, _name, _default, _help in (
    (flags.DEFINE_string, "preset", "dsprites_cpu", "flags/<preset>.flags, or a flagfile path."),
    (flags.DEFINE_string, "variants", ",".join(VARIANTS),
     f"Comma-separated subset of {', '.join(VARIANTS)}."),
    (flags.DEFINE_integer, "train_steps", None, "Iterations per run (default: the preset's)."),
    (flags.DEFINE_string, "metrics", DEFAULT_METRICS, "Metrics of each evaluation."),
    (flags.DEFINE_string, "protocol", "gan_papers", "FactorVAE protocol."),
    (flags.DEFINE_string, "eval_sizes", json.dumps(DEFAULT_EVAL_SIZES),
     "JSON per-metric size overrides for evaluate_lib."),
    (flags.DEFINE_float, "eval_sizes_scale", 1.0, "Scale of every metric's sizes."),
    (flags.DEFINE_integer, "num_evals", 2,
     "Evaluations per run, evenly spaced, the last at --train_steps (>= 1)."),
    (flags.DEFINE_string, "baselines", ",".join(BASELINE_ROWS),
     "Reference rows beside the variants: untrained, oracle ('' = none)."),
    (flags.DEFINE_integer, "baseline_inits", 5,
     "Random initialisations of the untrained row (>= 1)."),
    (flags.DEFINE_bool, "dry_run", False, "Print the plan; train nothing."),
    (flags.DEFINE_bool, "report_only", False, "Rewrite results.json / results.md / plots from "
     "the finished runs; train and evaluate nothing."),
    (flags.DEFINE_float, "sec_per_iter", None, "Dry run: use this instead of timing iterations."),
    (flags.DEFINE_float, "sec_per_eval", 60.0,
     "Dry run: assumed seconds per evaluation (an assumption, not timed)."),
):
  _define(_name, _default, _help, flag_values=_FLAGS)
flags.DEFINE_enum("experiment", "ablation", EXPERIMENTS, "What to reproduce.", flag_values=_FLAGS)


def parse_args(argv):
  """The validated settings of this run (one attribute per flag; seeds, variants and baselines
  as lists, eval_sizes as a dict), or cli.fail()."""
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  if not _WORKDIR.value:
    cli.fail("--workdir is required: the directory of the runs, results and plots")
  args = types.SimpleNamespace(**_FLAGS.flag_values_dict())
  try:
    args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
  except ValueError:
    cli.fail(f"--seeds={_SEEDS.value} is not a comma-separated list of integers")
  args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
  bad = [v for v in args.variants if v not in VARIANTS]
  if bad or not args.variants:
    cli.fail(f"--variants: unknown {bad}; choose from {', '.join(VARIANTS)}")
  if not args.seeds or min(args.seeds) < 0:
    cli.fail("--seeds needs at least one integer >= 0")
  if args.num_evals < 1:
    cli.fail(f"--num_evals={args.num_evals} is not allowed; it must be >= 1")
  try:
    args.eval_sizes = json.loads(args.eval_sizes)
  except ValueError as e:
    cli.fail(f"--eval_sizes is not valid JSON ({e})")
  args.baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
  bad = [b for b in args.baselines if b not in BASELINE_ROWS]
  if bad:
    cli.fail(f"--baselines: unknown {bad}; choose from {', '.join(BASELINE_ROWS)}")
  if args.baseline_inits < 1:
    cli.fail(f"--baseline_inits={args.baseline_inits} is not allowed; it must be >= 1")
  args.metrics = ",".join(m.strip() for m in args.metrics.split(",") if m.strip())
  return args


def main(argv) -> int:
  args = parse_args(argv)
  try:
    preset = preset_path(args.preset)
    preset_cfg = make_config(preset, {})
  except ValueError as e:
    cli.fail(str(e))
  if args.train_steps is None:
    args.train_steps = preset_cfg.train_steps
  if args.train_steps < 1:
    cli.fail(f"--train_steps={args.train_steps} is not allowed; it must be >= 1")
  # Checkpoints are written every eval_steps[0] iterations, at loop boundaries only.
  interval, per_loop = args.train_steps // args.num_evals, preset_cfg.steps_per_loop
  if args.train_steps % args.num_evals or interval % per_loop:
    cli.fail(f"--train_steps={args.train_steps} must split into --num_evals={args.num_evals} "
             f"equal parts that are multiples of the preset's steps_per_loop={per_loop}")
  runs = plan_runs(args)
  try:
    configs = {v: make_config(preset, VARIANTS[v], train_steps=args.train_steps)
               for v in args.variants}
  except ValueError as e:
    cli.fail(str(e))
  if args.dry_run:
    print_plan(args, runs, configs)
    return 0
  os.makedirs(args.workdir, exist_ok=True)
  baseline_stats = compute_baselines(args, configs, evaluate_missing=not args.report_only)
  if args.report_only:
    results = write_outputs(args, runs, baseline_stats)
    _log(f"report: {len(results['runs'])} finished runs, not finished: "
         f"{', '.join(results['missing_runs']) or 'none'}")
    return 0
  t_start = time.time()
  for run in runs:
    if is_done(run, args):
      _log(f"skip {run.variant} seed {run.seed}: done ({run.done_path})")
      continue
    _log(f"start {run.variant} seed {run.seed} in {run.directory}")
    t0 = time.time()
    cfg = dataclasses.replace(configs[run.variant], seed=run.seed, model_dir=run.model_dir)
    try:
      execute(run, cfg, args)
    except StoppedError as e:
      _log(f"{e}; re-run the same command to resume")
      write_outputs(args, runs, baseline_stats)
      return 130
    _log(f"finished {run.variant} seed {run.seed} in {time.time() - t0:.0f} s")
    write_outputs(args, runs, baseline_stats)
  results = write_outputs(args, runs, baseline_stats)
  _log(f"all done in {time.time() - t_start:.0f} s; wrote {args.workdir}/results.json, "
       f"results.md and {len(results['plots'])} plots")
  return 0


def run(args: list[str]) -> int:
  """Runs the command line `tools/reproduce.py ARGS` (`args` without the program name): every
  flag from its default, then `args`; a bad flag is one `error:` line and exit status 2."""
  if config_flags.help_requested(["reproduce", *args]):
    print(f"{__doc__.strip()}\n\nflags:\n{_FLAGS.get_help()}")
    return 0
  _FLAGS.unparse_flags()
  try:
    rest = _FLAGS(["reproduce", *args])
  except flags.Error as e:
    cli.fail(f"{str(e).removeprefix('ERROR:: ')}; --help lists the flags")
  return main(rest)


if __name__ == "__main__":
  sys.exit(run(sys.argv[1:]))
