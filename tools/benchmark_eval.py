"""Evaluation throughput: render, encode and each disentanglement metric, with the projected wall
time of the full default protocol.

    python tools/benchmark_eval.py --export_dir=E [--sizes_scale=0.02] [--encode_batch_size=256]
        [--metrics=factor_vae,mig,dci,sap,beta_vae,modularity] [--output=bench_eval.json]

Prints one JSON line:
  render_images_per_sec, encode_images_per_sec: the ground truth's renderer and Q's `encode`
    signature, each timed alone on --num_images images (after one warm-up batch).
  metrics: per metric, elapsed_s, images_encoded and images_per_sec at --sizes_scale (the metric's
    own sampling, encoding, fitting and bootstrap included), and projected_full_s, the projected
    wall time at the metric's full default sizes: the images it would encode (images_encoded /
    sizes_scale) at the measured render + encode cost per image, plus the rest of elapsed_s
    (fitting, bootstrap) unscaled. projected_full_s_upper = elapsed_s / sizes_scale scales the
    rest too.
  projected_full_protocol_s (and _upper): their sums, one full evaluation.
The truth lies between the two projections: fitting costs grow with the sample sizes, bootstrap
costs partly do. The projections count every image a metric draws; the code cache of
`evaluate_export` encodes each dataset row once, so a whole evaluation costs less than their sum.

    python tools/benchmark_eval.py --export_dir=E --full [--sizes_scale=1] [--output=full.json]

runs the metrics once end to end (at their full default sizes unless --sizes_scale says less) through `evaluate_export` (as
`python -m oogan_tf.evaluate` does) and prints one JSON line with the measured wall time
(full_protocol_s), each metric's elapsed_s and scores, and the encoding summary (rows encoded
against codes looked up).
"""

from __future__ import annotations

import json
import os
import platform
import time

from absl import flags
import numpy as np

from oogan_tf import cli
from oogan_tf import export_format
from oogan_tf import shared_flags

FULL_PROTOCOL = ("factor_vae", "mig", "dci", "sap", "beta_vae", "modularity")

_EXPORT_DIR = shared_flags.string("export_dir", None, "Export directory to benchmark.")
_METRICS = shared_flags.string("metrics", ",".join(FULL_PROTOCOL), "Comma-separated metrics.")
_PROTOCOL = shared_flags.enum("protocol", "dlib", ["dlib", "gan_papers"], "FactorVAE protocol.")
_SCALE = shared_flags.floating("sizes_scale", None,
                               "Sample-size scale of the timed metric runs (default 0.02; 1 "
                               "with --full).")
_BATCH = shared_flags.integer("encode_batch_size", 512, "Images per encode call.")
_NUM_IMAGES = shared_flags.integer("num_images", 2048, "Images for the render and encode timings.")
_DATA_DIR = shared_flags.string("data_dir", None, "Dataset directory (default: the export's).")
_OUTPUT = shared_flags.string("output", None, "Also write the JSON line here.")
_FULL = shared_flags.boolean("full", False,
                             "Run the metrics once at full sizes and time them.")


def _timed(fn, *args):
  start = time.perf_counter()
  out = fn(*args)
  return out, time.perf_counter() - start


def benchmark(export_dir: str, metrics: list[str], *, protocol: str, sizes_scale: float,
              encode_batch_size: int, num_images: int, data_dir: str | None) -> dict:
  """The JSON document described in the module docstring."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import evaluate_lib, export_adapters  # pylint: disable=g-import-not-at-top
  from oogan_tf.metrics import evaluation  # pylint: disable=g-import-not-at-top

  metadata = export_format.read_metadata(export_dir)
  ground_truth, source = evaluate_lib.load_ground_truth(metadata, data_dir)
  loaded = tf.saved_model.load(export_dir)
  representation_fn, _ = export_adapters.make_encoder(loaded, metadata, encode_batch_size)

  rs = np.random.RandomState(0)
  factors = ground_truth.sample_factors(num_images, rs)
  ground_truth.sample_observations_from_factors(factors[:encode_batch_size], rs)  # warm-up
  images, render_s = _timed(ground_truth.sample_observations_from_factors, factors, rs)
  representation_fn(images[:encode_batch_size])  # warm-up: traces the signature
  _, encode_s = _timed(representation_fn, images)

  per_image_s = (render_s + encode_s) / num_images
  encoded = [0]

  def counting_fn(obs):
    encoded[0] += len(obs)
    return representation_fn(obs)

  per_metric = {}
  for name in metrics:
    encoded[0] = 0
    result, elapsed = _timed(lambda n=name: evaluation.evaluate_representation(
        ground_truth, counting_fn, [n], seed=0, protocol=protocol, sizes_scale=sizes_scale))
    # The images' share of elapsed_s, measured apart on other batch sizes, cannot exceed it.
    image_s = min(encoded[0] * per_image_s, elapsed)
    per_metric[name] = {"elapsed_s": elapsed, "images_encoded": encoded[0],
                        "images_per_sec": encoded[0] / elapsed if elapsed > 0 else None,
                        "projected_full_s": image_s / sizes_scale + max(elapsed - image_s, 0.0),
                        "projected_full_s_upper": elapsed / sizes_scale,
                        "params": result[name].get("params", {})}
  return {
      "export_dir": os.path.abspath(export_dir), "ground_truth": source,
      "image_size": int(metadata["image_size"]), "num_images": num_images,
      "encode_batch_size": encode_batch_size, "protocol": protocol, "sizes_scale": sizes_scale,
      "render_images_per_sec": num_images / render_s,
      "encode_images_per_sec": num_images / encode_s,
      "metrics": per_metric,
      "projected_full_protocol_s": sum(m["projected_full_s"] for m in per_metric.values()),
      "projected_full_protocol_s_upper": sum(m["projected_full_s_upper"]
                                             for m in per_metric.values()),
      "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                  "tensorflow": tf.__version__},
  }


def full_protocol(export_dir: str, metrics: list[str], *, protocol: str, sizes_scale: float,
                  encode_batch_size: int, data_dir: str | None) -> dict:
  """One end-to-end evaluation (full default sizes at sizes_scale 1), timed."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import eval_report, evaluate_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.metrics import _utils  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  result = evaluate_lib.evaluate_export(export_dir, metrics, protocol=protocol,
                                        sizes_scale=sizes_scale,
                                        batch_size=encode_batch_size, data_dir=data_dir,
                                        progress=_utils.print_progress())
  elapsed = time.perf_counter() - start
  scores = eval_report.scalar_scores(result)
  return {
      "export_dir": os.path.abspath(export_dir), "ground_truth": result["dataset"].get("source"),
      "image_size": int(result["metadata"]["image_size"]), "protocol": protocol,
      "encode_batch_size": encode_batch_size, "sizes_scale": sizes_scale,
      "full_protocol_s": elapsed,
      "metrics": {m: {"elapsed_s": result["results"][m]["elapsed_s"],
                      "scores": {k.split("/", 1)[1]: v for k, v in scores.items()
                                 if k.startswith(m + "/")},
                      "params": result["results"][m]["params"]} for m in metrics},
      "encoding": result["encoding"],
      "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                  "tensorflow": tf.__version__},
  }


def main(argv):
  del argv
  from oogan_tf import evaluate_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.metrics import evaluation  # pylint: disable=g-import-not-at-top
  if not _EXPORT_DIR.value or not os.path.isdir(_EXPORT_DIR.value):
    cli.fail(f"--export_dir={_EXPORT_DIR.value!r} is not an export directory "
             "(python -m oogan_tf.export writes one)")
  metrics = [m for m in _METRICS.value.split(",") if m]
  unknown = [m for m in metrics if m not in evaluation.REPRESENTATION_METRICS]
  if not metrics or unknown:
    cli.fail(f"--metrics={_METRICS.value!r} is not allowed; choose from "
             f"{', '.join(evaluation.REPRESENTATION_METRICS)}")
  scale = _SCALE.value if _SCALE.value is not None else (1.0 if _FULL.value else 0.02)
  if not 0 < scale <= 1:
    cli.fail(f"--sizes_scale={scale} is not allowed; it must be in (0, 1]")
  for flag in (_BATCH, _NUM_IMAGES):
    if flag.value < 1:
      cli.fail(f"--{flag.name}={flag.value} is not allowed; it must be >= 1")
  try:
    if _FULL.value:
      result = full_protocol(_EXPORT_DIR.value, metrics, protocol=_PROTOCOL.value,
                             sizes_scale=scale, encode_batch_size=_BATCH.value,
                             data_dir=_DATA_DIR.value)
    else:
      result = benchmark(_EXPORT_DIR.value, metrics, protocol=_PROTOCOL.value,
                         sizes_scale=scale, encode_batch_size=_BATCH.value,
                         num_images=_NUM_IMAGES.value, data_dir=_DATA_DIR.value)
  except (evaluate_lib.EvaluationError, export_format.NotAnExportError) as e:
    cli.fail(str(e))
  line = json.dumps(result)
  print(line)
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w", encoding="utf-8") as f:
      f.write(line + "\n")


if __name__ == "__main__":
  cli.run(main, __doc__)
