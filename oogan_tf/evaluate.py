"""Entry point: python -m oogan_tf.evaluate (--export_dir=E | --model_dir=D | --baseline=B) ...

Runs disentanglement / model metrics on an export (see oogan_tf.evaluate_lib), or on a run's newest
checkpoint (EMA weights; exported to a temporary folder first), writes one JSON (default
E/eval.json, or D/eval/eval_<iteration>.json; an existing file is kept unless --overwrite), prints
a short table (value ± standard error) and optionally logs the scores to TensorBoard as
eval/<metric>/<key> at --step. With generator_factors it also writes the effect matrix as a heat
map beside the JSON (<output>_effect_matrix.png). --metrics=fid,kid scores image fidelity against
real images of the training dataset (any dataset) on InceptionV3 features; weights come from
--inception_weights or Keras' cache file and are never downloaded.

--baseline=untrained|oracle|noise scores a reference row (oogan_tf.baselines) for the architecture
of --export_dir's training config, or of the training flags given (--flagfile=flags/<preset>.flags
and any model flag); --output is then required.
"""

from __future__ import annotations

import os
import tempfile

from absl import flags

from oogan_tf import cli
from oogan_tf import config_flags
from oogan_tf import shared_flags
from oogan_tf import eval_report, evaluate_lib
from oogan_tf import export_format
from oogan_tf import run_dir
from oogan_tf.data.config import DatasetError
from oogan_tf.metrics import (FIDELITY_METRICS, METRIC_NAMES, PROTOCOLS, InceptionWeightsError,
                              resolve_inception_weights)

DEFAULT_METRICS = "factor_vae,beta_vae,mig,dci,sap,modularity,ortho"

shared_flags.define_locations({
    "export_dir": "Export directory (python -m oogan_tf.export).",
    "model_dir": "Run directory: evaluate its newest checkpoint (EMA G).",
    "checkpoint": "With --model_dir: this checkpoint instead of the newest."})
shared_flags.string("metrics", DEFAULT_METRICS, "Comma-separated metrics, from: "
                    f"{','.join(METRIC_NAMES)}.")
shared_flags.enum("protocol", "dlib", PROTOCOLS, "FactorVAE protocol: dlib (disentanglement_lib "
                  "defaults) or gan_papers (100 images per vote, 500 votes, no held-out votes).")
shared_flags.floating("sizes_scale", 1.0,
                      "Multiplies every metric's sample counts (quick runs).")
shared_flags.string("sizes", None, "JSON per-metric sample sizes applied after --sizes_scale, e.g. "
                    "'{\"factor_vae\": {\"num_train\": 800}, \"mig\": {\"num_train\": 4000}}'.")
shared_flags.integer("seed", 0, "Seed of every metric.")
shared_flags.integer("num_seeds", 1, "Run every representation metric with this many seeds "
                     "(--seed, --seed+1, ...); report the mean and the standard error over them.")
shared_flags.integer("encode_batch_size", 512, "Images per encode call.")
shared_flags.enum("baseline", None, ["untrained", "oracle", "noise"], "Score a reference row "
                  "instead of a model: random initial weights, a sprite-measuring oracle, or noise.")
shared_flags.integer("baseline_inits", 5, "--baseline=untrained: random initialisations "
                     "(seeds 0 .. N-1).")

shared_flags.string("data_dir", None, "Dataset directory (default: the training config's).")
shared_flags.string("vgg_weights", None, "Local VGG16 (include_top=False) weights file; needed "
                    "by perceptual_diversity.")
shared_flags.integer("pd_trials", None, "perceptual_diversity trials (default 1000 x "
                     "--sizes_scale).")
shared_flags.integer("pd_batch_size", None, "perceptual_diversity pairs per trial (default 100).")
shared_flags.string("output", None, "Result JSON (default <export_dir>/eval.json).")
shared_flags.boolean("overwrite", False, "Replace an existing --output file.")
shared_flags.string("summary_dir", None, "Also write eval/<metric>/<key> scalars here.")
shared_flags.integer("step", 0, "Step of the TensorBoard scalars.")
shared_flags.boolean("progress", True, "Progress lines on stderr for long metrics.")

# The training configuration of --baseline (architecture, data); --seed, --model_dir and
# --data_dir keep evaluate's meaning. With --model_dir, --standing_stats_batches and
# --encoder_recalibration_batches (when given) override the run's BatchNorm calibration.
config_flags.define_config_flags(skip=("seed", "model_dir", "data_dir"))

FLAGS = flags.FLAGS


def _given(name: str):
  """The flag's value if it was given on the command line (or a flagfile), else None."""
  return FLAGS[name].value if FLAGS[name].present else None


def _progress():
  if not FLAGS.progress:
    return None
  from oogan_tf.metrics import print_progress  # pylint: disable=g-import-not-at-top
  return print_progress()


def _write_heatmap(result, output: str) -> None:
  gf = result["results"].get("generator_factors")
  if gf and gf.get("available", True) and "effect_matrix" in gf:
    from oogan_tf.metrics import generator_factors  # pylint: disable=g-import-not-at-top
    path = os.path.splitext(output)[0] + "_effect_matrix.png"
    generator_factors.save_effect_heatmap(gf, path)
    print(f"wrote {path}")


def _evaluate(export_dir: str, output: str):
  export_format.read_metadata(export_dir)
  sizes = evaluate_lib.parse_sizes(FLAGS.sizes)
  pd = {k: v for k, v in (("trials", FLAGS.pd_trials), ("batch_size", FLAGS.pd_batch_size))
        if v is not None}
  if pd:
    sizes["perceptual_diversity"] = pd
  result = evaluate_lib.evaluate_export(
      export_dir, FLAGS.metrics, seed=FLAGS.seed, protocol=FLAGS.protocol,
      sizes_scale=FLAGS.sizes_scale, sizes=sizes, batch_size=FLAGS.encode_batch_size,
      data_dir=FLAGS.data_dir, vgg_weights=FLAGS.vgg_weights, progress=_progress(),
      num_seeds=FLAGS.num_seeds, inception_weights=FLAGS.inception_weights)
  eval_report.write_results(result, output, overwrite=FLAGS.overwrite)
  return result


def _baseline_config():
  if FLAGS.export_dir:
    from oogan_tf.config import TrainConfig  # pylint: disable=g-import-not-at-top
    return TrainConfig.from_dict(export_format.read_metadata(FLAGS.export_dir)["config"])
  try:
    return config_flags.config_from_flags(FLAGS, seed=0, model_dir=None,
                                          data_dir=FLAGS.data_dir)
  except ValueError as e:
    raise evaluate_lib.EvaluationError(str(e)) from e


def _evaluate_baseline():
  from oogan_tf import baselines  # pylint: disable=g-import-not-at-top
  if FLAGS.model_dir:
    raise evaluate_lib.EvaluationError("--baseline takes the architecture from --export_dir or "
                                       "the training flags (--flagfile=...), not --model_dir")
  if not FLAGS.output:
    raise evaluate_lib.EvaluationError("--baseline needs --output=PATH for its result JSON")
  eval_report.check_output(FLAGS.output, FLAGS.overwrite)
  cfg = _baseline_config()
  result = baselines.evaluate_baseline(
      FLAGS.baseline, cfg, FLAGS.metrics, inits=FLAGS.baseline_inits, seed=FLAGS.seed,
      protocol=FLAGS.protocol, sizes_scale=FLAGS.sizes_scale,
      sizes=evaluate_lib.parse_sizes(FLAGS.sizes),
      batch_size=FLAGS.encode_batch_size, num_seeds=FLAGS.num_seeds, progress=_progress())
  eval_report.write_results(result, FLAGS.output, overwrite=FLAGS.overwrite)
  return result, FLAGS.output


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  try:
    # Fail fast, before loading or exporting anything.
    if set(evaluate_lib.parse_metrics(FLAGS.metrics)) & set(FIDELITY_METRICS):
      resolve_inception_weights(FLAGS.inception_weights)
    if FLAGS.baseline:
      result, output = _evaluate_baseline()
    elif bool(FLAGS.export_dir) == bool(FLAGS.model_dir):
      raise evaluate_lib.EvaluationError("give exactly one of --export_dir or --model_dir (or "
                                         "--baseline)")
    elif FLAGS.export_dir:
      output = FLAGS.output or eval_report.default_output(FLAGS.export_dir)
      eval_report.check_output(output, FLAGS.overwrite)
      result = _evaluate(FLAGS.export_dir, output)
    else:
      from oogan_tf import export_lib  # pylint: disable=g-import-not-at-top  (loads TensorFlow)
      with tempfile.TemporaryDirectory(prefix="oogan_tf_eval_") as tmp:
        export_dir = export_lib.export_from_checkpoint(
            FLAGS.model_dir, FLAGS.checkpoint, os.path.join(tmp, "export"),
            _given("standing_stats_batches"), _given("encoder_recalibration_batches"))
        iteration = export_format.read_metadata(export_dir)["iteration"]
        output = FLAGS.output or os.path.join(FLAGS.model_dir, "eval",
                                              f"eval_{iteration}.json")
        eval_report.check_output(output, FLAGS.overwrite)
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        result = _evaluate(export_dir, output)
  except (evaluate_lib.EvaluationError, export_format.NotAnExportError, FileNotFoundError,
          FileExistsError, DatasetError, InceptionWeightsError, run_dir.RunDirectoryError) as e:
    cli.fail(f"{e}")
  print(eval_report.format_table(result))
  print(f"wrote {output}")
  if FLAGS.baseline != "untrained":
    _write_heatmap(result, output)
  if FLAGS.summary_dir:
    eval_report.write_summaries(result, FLAGS.summary_dir, FLAGS.step)
    print(f"wrote eval/ scalars to {FLAGS.summary_dir} at step {FLAGS.step}")


if __name__ == "__main__":
  cli.run(main, __doc__)
