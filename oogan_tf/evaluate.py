"""Entry point: python -m oogan_tf.evaluate (--export_dir=E | --model_dir=D) [--metrics=...]

Runs disentanglement / model metrics on an export (see oogan_tf.evaluate_lib), or on a run's newest
checkpoint (EMA weights; exported to a temporary folder first), writes one JSON (default
E/eval.json, or D/eval/eval_<iteration>.json; an existing file is kept unless --overwrite), prints
a short table and optionally logs the scores to TensorBoard as eval/<metric>/<key> at --step.
"""

from __future__ import annotations

import os
import sys
import tempfile

from absl import app
from absl import flags

from oogan_tf import evaluate_lib
from oogan_tf import export_lib
from oogan_tf.metrics import METRIC_NAMES, PROTOCOLS

DEFAULT_METRICS = "factor_vae,beta_vae,mig,dci,sap,modularity,ortho"

flags.DEFINE_string("export_dir", None, "Export directory (python -m oogan_tf.export).")
flags.DEFINE_string("model_dir", None, "Run directory: evaluate its newest checkpoint (EMA G).")
flags.DEFINE_string("checkpoint", None, "With --model_dir: this checkpoint instead of the newest.")
flags.DEFINE_string("metrics", DEFAULT_METRICS, "Comma-separated metrics, from: "
                    f"{','.join(METRIC_NAMES)}.")
flags.DEFINE_enum("protocol", "dlib", PROTOCOLS, "FactorVAE protocol: dlib (disentanglement_lib "
                  "defaults) or gan_papers (100 images per vote, 500 votes, no held-out votes).")
flags.DEFINE_float("sizes_scale", 1.0, "Multiplies every metric's sample counts (quick runs).")
flags.DEFINE_integer("seed", 0, "Seed of every metric.")
flags.DEFINE_integer("batch_size", 64, "Images per encode call.")
flags.DEFINE_string("data_dir", None, "Dataset directory (default: the training config's).")
flags.DEFINE_string("vgg_weights", None, "Local VGG16 (include_top=False) weights file; needed "
                    "by perceptual_diversity.")
flags.DEFINE_integer("pd_trials", None, "perceptual_diversity trials (default 1000 x "
                     "--sizes_scale).")
flags.DEFINE_integer("pd_batch_size", None, "perceptual_diversity pairs per trial (default 100).")
flags.DEFINE_string("output", None, "Result JSON (default <export_dir>/eval.json).")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output file.")
flags.DEFINE_string("summary_dir", None, "Also write eval/<metric>/<key> scalars here.")
flags.DEFINE_integer("step", 0, "Step of the TensorBoard scalars.")
flags.DEFINE_bool("progress", True, "Progress lines on stderr for long metrics.")

FLAGS = flags.FLAGS


def _evaluate(export_dir: str, output: str):
  evaluate_lib.read_metadata(export_dir)
  sizes = {}
  pd = {k: v for k, v in (("trials", FLAGS.pd_trials), ("batch_size", FLAGS.pd_batch_size))
        if v is not None}
  if pd:
    sizes["perceptual_diversity"] = pd
  progress = None
  if FLAGS.progress:
    from oogan_tf.metrics import print_progress  # pylint: disable=g-import-not-at-top
    progress = print_progress()
  result = evaluate_lib.evaluate_export(
      export_dir, FLAGS.metrics, seed=FLAGS.seed, protocol=FLAGS.protocol,
      sizes_scale=FLAGS.sizes_scale, sizes=sizes, batch_size=FLAGS.batch_size,
      data_dir=FLAGS.data_dir, vgg_weights=FLAGS.vgg_weights, progress=progress)
  evaluate_lib.write_results(result, output, overwrite=FLAGS.overwrite)
  return result


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments {argv[1:]}")
  try:
    if bool(FLAGS.export_dir) == bool(FLAGS.model_dir):
      raise evaluate_lib.EvaluationError("give exactly one of --export_dir or --model_dir")
    evaluate_lib.parse_metrics(FLAGS.metrics)  # fail fast, before loading anything
    if FLAGS.export_dir:
      output = FLAGS.output or evaluate_lib.default_output(FLAGS.export_dir)
      evaluate_lib.check_output(output, FLAGS.overwrite)
      result = _evaluate(FLAGS.export_dir, output)
    else:
      with tempfile.TemporaryDirectory(prefix="oogan_tf_eval_") as tmp:
        export_dir = export_lib.export_from_checkpoint(FLAGS.model_dir, FLAGS.checkpoint,
                                                       os.path.join(tmp, "export"))
        iteration = evaluate_lib.read_metadata(export_dir)["iteration"]
        output = FLAGS.output or os.path.join(FLAGS.model_dir, "eval",
                                              f"eval_{iteration}.json")
        evaluate_lib.check_output(output, FLAGS.overwrite)
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        result = _evaluate(export_dir, output)
  except (evaluate_lib.EvaluationError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")
  print(evaluate_lib.format_table(result))
  print(f"wrote {output}")
  if FLAGS.summary_dir:
    evaluate_lib.write_summaries(result, FLAGS.summary_dir, FLAGS.step)
    print(f"wrote eval/ scalars to {FLAGS.summary_dir} at step {FLAGS.step}")


if __name__ == "__main__":
  app.run(main)
