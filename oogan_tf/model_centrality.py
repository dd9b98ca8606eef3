"""Entry point: python -m oogan_tf.model_centrality --export_dirs=E1,E2,E3[,...] ...

Chooses one of several exports of runs on the same data without labels: ModelCentrality (Lin et
al., ICML 2020; oogan_tf.metrics.model_centrality). Every export's generator is a ground truth
whose factors are its codes c (--levels classes each, over the export's code range; z drawn per
image), every export's encoder Q is scored on every generator with the FactorVAE score
(--protocol, --sizes), giving S[i, j] = encoder i on generator j; the centrality of export i is
the mean over j != i of (S[i, j] + S[j, i]) / 2, and the most central export is selected.

Prints one line per pair, then S and the ranking as tables, and writes one JSON (--output): S,
its standard errors, the centralities, the ranking, the selected export, the settings, the seed
and the wall time. Nothing but the exports' SavedModels and metadata is read: no dataset, labels
or evaluation results (an eval.json beside an export is ignored).
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np
from absl import flags

from oogan_tf import cli
from oogan_tf import eval_report
from oogan_tf import evaluate_lib
from oogan_tf import export_format
from oogan_tf import shared_flags
from oogan_tf.eval_report import EvaluationError
from oogan_tf.metrics import PROTOCOLS
from oogan_tf.metrics import model_centrality as centrality_lib

FORMAT = "oogan_tf.model_centrality/1"
DEFAULT_OUTPUT = "model_centrality.json"
MIN_EXPORTS = 3
# What every export must share: the encoders read each other's images, and the codes are the
# factors of every generator.
SHARED_FIELDS = ("c_dim", "image_size", "channels")
_SHARED_TEXT = "c_dim, image_size and channels"
# What the JSON records of each export's metadata.
MODEL_FIELDS = ("iteration", "c_dim", "z_dim", "cat_dim", "image_size", "channels")

shared_flags.string("export_dirs", None, "Comma-separated export directories (python -m "
                    f"oogan_tf.export), at least {MIN_EXPORTS}, all with the same "
                    f"{_SHARED_TEXT}.")
shared_flags.string("output", DEFAULT_OUTPUT, "Result JSON; an existing file is kept unless --overwrite.")
shared_flags.boolean("overwrite", False, "Replace an existing --output file.")
shared_flags.integer("levels", centrality_lib.DEFAULT_LEVELS,
                     "Classes of each code as a factor (bin centres of the code range), >= 2.")
shared_flags.enum("protocol", centrality_lib.DEFAULT_PROTOCOL, PROTOCOLS,
                  "FactorVAE protocol: gan_papers (the paper's: 100 images per vote, 500 votes, "
                  "73,728 images for the variances) or dlib.")
shared_flags.string("sizes", None, "JSON FactorVAE sizes, as evaluate's --sizes, e.g. "
                    "'{\"factor_vae\": {\"num_train\": 100, \"num_variance_estimate\": 5000}}'.")
shared_flags.integer("seed", 0, "Seed of every pair's draws (codes, noise, votes).")
shared_flags.integer("batch_size", 512, "Images per generate and per encode call.")

FLAGS = flags.FLAGS


# ----------------------------------------------------------------------------- validation


def parse_export_dirs(text: str | None) -> List[str]:
  """--export_dirs -> the directories, in order; EvaluationError unless >= MIN_EXPORTS distinct."""
  dirs = [d.strip() for d in (text or "").split(",") if d.strip()]
  if not dirs:
    raise EvaluationError(f"--export_dirs is required: at least {MIN_EXPORTS} comma-separated "
                          "export directories (python -m oogan_tf.export)")
  if len(dirs) < MIN_EXPORTS:
    raise EvaluationError(
        f"--export_dirs={text} names {len(dirs)} export(s); ModelCentrality needs at least "
        f"{MIN_EXPORTS} (with 2, both get the same centrality), comma-separated")
  seen = set()
  for d in dirs:
    key = os.path.realpath(d)
    if key in seen:
      raise EvaluationError(f"--export_dirs={text} names {d} more than once; list each export "
                            "once (a copy would vote for itself)")
    seen.add(key)
  return dirs


def parse_sizes(text: str | None, protocol: str) -> Dict[str, Any]:
  """--sizes -> the FactorVAE parameters S is computed with; EvaluationError naming --sizes."""
  sizes = evaluate_lib.parse_sizes(text)
  other = sorted(set(sizes) - {"factor_vae"})
  if other:
    raise EvaluationError(f"--sizes={text!r} has metric(s) {', '.join(other)}; ModelCentrality "
                          "runs only factor_vae: --sizes='{\"factor_vae\": {...}}'")
  try:
    return centrality_lib.factor_vae_params(protocol, sizes.get("factor_vae"))
  except ValueError as e:
    raise EvaluationError(f"--sizes={text!r}: {e}") from None


def read_exports(export_dirs: Sequence[str]) -> List[Dict[str, Any]]:
  """The metadata of every export; EvaluationError / NotAnExportError naming --export_dirs when
  one is not an export or they differ in SHARED_FIELDS."""
  metadatas = [export_format.read_metadata(d, flag="--export_dirs") for d in export_dirs]

  def shared(m):
    return ", ".join(f"{k}={m.get(k)}" for k in SHARED_FIELDS)

  for d, m in zip(export_dirs[1:], metadatas[1:]):
    if any(m.get(k) != metadatas[0].get(k) for k in SHARED_FIELDS):
      raise EvaluationError(
          f"--export_dirs={d} has {shared(m)}, but {export_dirs[0]} has {shared(metadatas[0])}; "
          f"all exports must share {_SHARED_TEXT}")
  return metadatas


# ----------------------------------------------------------------------------- the models


def load_models(export_dirs: Sequence[str], metadatas: Sequence[Mapping[str, Any]], *,
                levels: int, batch_size: int, seed: int) -> Tuple[list, list, list]:
  """(generators as GeneratorGroundTruth, encoders, the loaded SavedModels) of the exports.

  Images go from generator to encoder at the export's own shape [S, S, ch] in [-1, 1]
  (make_generator without RGB tiling). An export with a categorical code draws each image's
  category from a stream of `seed`, as make_sampler does.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import export_adapters  # pylint: disable=g-import-not-at-top
  generators, encoders, loaded_models = [], [], []
  for export_dir, m in zip(export_dirs, metadatas):
    loaded = tf.saved_model.load(export_dir)
    size, channels = int(m["image_size"]), int(m["channels"])
    encoders.append(export_adapters.make_encoder(loaded, m, batch_size)[0])
    generate = export_adapters.make_generator(loaded, channels, int(m.get("cat_dim", 0)),
                                              rgb=False, seed=seed)
    generators.append(centrality_lib.GeneratorGroundTruth(
        generate, int(m["c_dim"]), int(m["z_dim"]), (size, size, channels), levels=levels,
        code_range=m.get("code_range", export_format.CODE_RANGE), batch_size=batch_size))
    # The signatures' variables belong to the loaded object: keep it alive.
    loaded_models.append(loaded)
  return generators, encoders, loaded_models


# ----------------------------------------------------------------------------- report


def labels(export_dirs: Sequence[str]) -> List[str]:
  """Short names of the exports: their paths below the deepest folder they all share."""
  paths = [os.path.abspath(d) for d in export_dirs]
  common = os.path.commonpath(paths)
  return [os.path.relpath(p, common) if p != common else os.path.basename(p) for p in paths]


def result_document(export_dirs: Sequence[str], metadatas: Sequence[Mapping[str, Any]],
                    scores: np.ndarray, standard_errors: np.ndarray, *, levels: int,
                    protocol: str, params: Mapping[str, Any], bootstrap: Any, batch_size: int,
                    seed: int, elapsed_s: float) -> Dict[str, Any]:
  """The JSON document (format FORMAT) of one ModelCentrality run."""
  s = centrality_lib.summary(scores)
  paths = [os.path.abspath(d) for d in export_dirs]
  ranking = [{"rank": r + 1, "index": i, "export_dir": paths[i],
              "centrality": s["centrality"][i], "self_consistency": s["self_consistency"][i]}
             for r, i in enumerate(s["ranking"])]
  se = [[None if not np.isfinite(v) else float(v) for v in row] for row in standard_errors]
  return {
      "format": FORMAT,
      "method": ("ModelCentrality (Lin et al., ICML 2020): S[i][j] = FactorVAE score of export "
                 "i's encoder on export j's generator (its codes as factors); centrality[i] = "
                 "mean over j != i of (S[i][j] + S[j][i]) / 2; the most central is selected"),
      "exports": paths,
      "S": [[float(v) for v in row] for row in scores],
      "S_se": se,
      "centrality": s["centrality"],
      "self_consistency": s["self_consistency"],
      "as_encoder": s["as_encoder"],
      "as_generator": s["as_generator"],
      "ranking": ranking,
      "selected": {"index": s["selected"], "export_dir": paths[s["selected"]],
                   "centrality": s["centrality"][s["selected"]]},
      "settings": {"levels": int(levels), "protocol": protocol, "factor_vae": dict(params),
                   "bootstrap": bootstrap, "batch_size": int(batch_size),
                   "code_range": [list(map(float, m.get("code_range", export_format.CODE_RANGE)))
                                  for m in metadatas]},
      "seed": int(seed),
      "models": [dict({k: m.get(k) for k in MODEL_FIELDS}, export_dir=p)
                 for p, m in zip(paths, metadatas)],
      "versions": eval_report.package_versions(),
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
      "elapsed_s": float(elapsed_s),
  }


def format_table(doc: Mapping[str, Any]) -> str:
  """S (rows: encoders, columns: generators) and the ranking, as text."""
  names = labels(doc["exports"])
  n = len(names)
  lines = [f"S[i, j]: FactorVAE score ({doc['settings']['protocol']}) of encoder i on "
           f"generator j; the diagonal is self-consistency, not part of the centrality",
           "enc \\ gen " + "".join(f"{'#' + str(j):>9}" for j in range(n))]
  for i, row in enumerate(doc["S"]):
    lines.append(f"{'#' + str(i):<10}" + "".join(f"{v:9.4f}" for v in row))
  lines += ["", "centrality: mean of (S[i, j] + S[j, i]) / 2 over j != i; self: S[i, i]; as enc / "
            "as gen: mean of row / column i over j != i",
            f"{'rank':<5}{'#':>3}{'centrality':>12}{'self':>8}{'as enc':>8}{'as gen':>8}  "
            "export"]
  for entry in doc["ranking"]:
    i = entry["index"]
    lines.append(f"{entry['rank']:<5}{i:>3}{doc['centrality'][i]:12.4f}"
                 f"{doc['self_consistency'][i]:8.4f}{doc['as_encoder'][i]:8.4f}"
                 f"{doc['as_generator'][i]:8.4f}  {names[i]}")
  selected = doc["selected"]
  lines += ["", f"selected: #{selected['index']} {selected['export_dir']} "
            f"(centrality {selected['centrality']:.4f})"]
  return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main(argv):
  t0 = time.time()
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  for name, minimum in (("levels", 2), ("batch_size", 1)):
    if FLAGS[name].value < minimum:
      cli.fail(f"--{name}={FLAGS[name].value} is not allowed; it must be an integer >= {minimum}")
  cli.check_ranges(FLAGS, {"seed": (0, 2**32 - 1)})  # numpy's RandomState seeds
  if not FLAGS.output:
    cli.fail("--output is empty; pass the path of the result JSON")
  try:
    export_dirs = parse_export_dirs(FLAGS.export_dirs)
    params = parse_sizes(FLAGS.sizes, FLAGS.protocol)
    eval_report.check_output(FLAGS.output, FLAGS.overwrite)
    metadatas = read_exports(export_dirs)
  except (EvaluationError, export_format.NotAnExportError) as e:
    cli.fail(str(e))

  names = labels(export_dirs)
  n = len(export_dirs)
  print(f"loading {n} exports: " + ", ".join(f"#{i} {name}" for i, name in enumerate(names)),
        flush=True)
  generators, encoders, _loaded = load_models(export_dirs, metadatas, levels=FLAGS.levels,
                                              batch_size=FLAGS.batch_size, seed=FLAGS.seed)
  print(f"scoring {n} x {n} pairs: FactorVAE ({FLAGS.protocol}: "
        + ", ".join(f"{k}={v}" for k, v in params.items()) + f"), {FLAGS.levels} levels per code",
        flush=True)
  standard_errors = np.full((n, n), np.nan)
  used = {}  # what the metric ran with, as it reports it

  def on_score(i, j, result):
    se = result.get(centrality_lib.SCORE_KEY + "_se")
    standard_errors[i, j] = np.nan if se is None else se
    used["bootstrap"] = result["params"]["bootstrap"]
    done = j * n + i + 1
    se_text = "" if se is None else f" ± {se:.4f}"
    print(f"[{done}/{n * n}] encoder #{i} on generator #{j}: "
          f"{result[centrality_lib.SCORE_KEY]:.4f}{se_text} ({result['elapsed_s']:.1f} s)",
          flush=True)

  try:
    scores = centrality_lib.pairwise_scores(generators, encoders, seed=FLAGS.seed,
                                            protocol=FLAGS.protocol, sizes=params,
                                            on_score=on_score)
  except ValueError as e:  # an export whose networks do not fit its metadata
    cli.fail(str(e))
  doc = result_document(export_dirs, metadatas, scores, standard_errors, levels=FLAGS.levels,
                        protocol=FLAGS.protocol, params=params,
                        bootstrap=used.get("bootstrap"), batch_size=FLAGS.batch_size,
                        seed=FLAGS.seed, elapsed_s=time.time() - t0)
  try:
    eval_report.write_results(doc, FLAGS.output, overwrite=FLAGS.overwrite)
  except EvaluationError as e:  # the file appeared while the scores were computed
    cli.fail(str(e))
  print(format_table(doc))
  print(f"wrote {FLAGS.output} ({doc['elapsed_s']:.1f} s)")


if __name__ == "__main__":
  cli.run(main, __doc__)
