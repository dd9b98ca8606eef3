"""Reference rows for every results table: the floor (untrained), the ceiling (oracle) and noise.

A score means something only next to what no learning gets and what the task allows:

* `untrained`: the same architecture with random initial weights (seeds 0 .. inits-1, as a run
  with that --seed starts), exported with the same BatchNorm calibration as a trained run and
  scored by the same code. Reported per init and as mean, min and max over inits.
* `oracle`: a representation that measures the sprite in the image (metrics.sprites: centroid,
  size, second-moment orientation, shape descriptors), and for `generator_factors` the dSprites
  renderer driven directly by one code per factor.
* `noise`: codes that are Gaussian noise independent of the image, and for `generator_factors`
  a "generator" that returns random real images whatever its code.

Model metrics that need a trained network (ortho, perceptual_diversity, fid, kid) and tc (needs
Gaussian codes) are reported unavailable for oracle and noise.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from oogan_tf import eval_report, evaluate_lib
from oogan_tf.config import TrainConfig
from oogan_tf.data import dsprites_render
from oogan_tf.metrics import sprites

BASELINES = ("untrained", "oracle", "noise")
DEFAULT_INITS = 5
# The oracle generator's code -> factor map (codes beyond the fifth are ignored).
ORACLE_CODE_FACTORS = ("posX", "posY", "scale", "orientation", "shape")


def renderer_sampler(image_size: int):
  """The dSprites renderer driven by c: sample(c [N, C >= 5] in [0, 1], z) -> [N, S, S, 1].

  c0 -> posX, c1 -> posY, c2 -> scale (0.5 .. 1), c3 -> orientation (0 .. 2 pi), c4 -> shape
  (three equal bins); z and further codes are ignored. Images in {0, 1}.
  """
  def sample(c, z):
    del z
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    if c.shape[1] < len(ORACLE_CODE_FACTORS):
      raise ValueError(f"the oracle generator needs c_dim >= {len(ORACLE_CODE_FACTORS)}, "
                       f"got {c.shape[1]}")
    images = dsprites_render.render_shapes(
        shapes=np.minimum((c[:, 4] * 3).astype(np.int64), 2), scales=0.5 + 0.5 * c[:, 2],
        angles=2.0 * np.pi * c[:, 3], cx=16.0 + 32.0 * c[:, 0], cy=16.0 + 32.0 * c[:, 1])
    return dsprites_render.resize_binary(images, image_size)[..., None].astype(np.float32)

  return sample


def real_image_sampler(ground_truth: Any, seed: int):
  """sample(c, z) -> random real images [N, S, S, 1] in {0, 1}, whatever c and z are."""
  rs = np.random.RandomState(seed)

  def sample(c, z):
    del z
    _, obs = ground_truth.sample(len(c), rs)
    return (np.asarray(obs, np.float32) + 1.0) / 2.0

  return sample


def noise_representation(c_dim: int, seed: int):
  """representation(observations [N, ...]) -> float64 [N, c_dim] standard normal, image-blind."""
  rs = np.random.RandomState(seed)
  return lambda obs: rs.normal(size=(len(obs), c_dim))


def _unavailable(names: Sequence[str], results: Dict[str, Any], reason: str) -> None:
  for name in names:
    if name in ("ortho", "perceptual_diversity", "fid", "kid"):
      results[name] = {"available": False, "reason": reason}


def untrained_export(cfg: TrainConfig, seed: int, export_dir: str) -> str:
  """Exports cfg's networks at their random initialisation for `seed` (iteration 0).

  Initialised as Trainer initialises a run with --seed=seed: keras.utils.set_random_seed(seed),
  then G, EMA G (a copy of G) and D; exported with cfg's BatchNorm calibration.
  """
  import keras  # pylint: disable=g-import-not-at-top
  from oogan_tf import export_lib  # pylint: disable=g-import-not-at-top
  from oogan_tf.models import build_networks, copy_non_trainable  # pylint: disable=g-import-not-at-top
  cfg = dataclasses.replace(cfg, seed=int(seed))
  keras.utils.set_random_seed(cfg.seed)
  generator, ema, discriminator = build_networks(cfg.model)
  for target, source in zip(ema.variables, generator.variables):
    target.assign(source)
  copy_non_trainable(generator, ema)
  return export_lib.export_calibrated(ema, discriminator, cfg, 0, export_dir)


def summarise_inits(per_init: List[Mapping[str, Any]]) -> Dict[str, Any]:
  """Per metric, every numeric score over the inits: its mean, and `<key>_se` (std / sqrt(n)),
  `<key>_min`, `<key>_max`, `<key>_values` beside it (inside the same nested dict)."""
  summary: Dict[str, Any] = {}
  n = len(per_init)
  for metric in per_init[0]["results"]:
    entries = [r["results"][metric] for r in per_init]
    if entries[0].get("available") is False:
      summary[metric] = dict(entries[0])
      continue
    out: Dict[str, Any] = {"se_method": f"over {n} random initialisations: std / sqrt({n}); "
                                        "_min / _max give the range"}
    flat = [eval_report.scalar_scores({"results": {metric: e}}) for e in entries]
    for name in flat[0]:
      if name.endswith("_se") or "_se/" in name:
        continue
      arr = np.asarray([f[name] for f in flat if name in f], np.float64)
      parts = name.split("/")[1:]
      node = out
      for part in parts[:-1]:
        node = node.setdefault(part, {})
      key = parts[-1]
      node[key] = float(arr.mean())
      node[f"{key}_se"] = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else None
      node[f"{key}_min"], node[f"{key}_max"] = float(arr.min()), float(arr.max())
      node[f"{key}_values"] = [float(v) for v in arr]
    summary[metric] = out
  return summary


def evaluate_baseline(baseline: str, cfg: TrainConfig, metrics: Any, *, inits: int = DEFAULT_INITS,
                      seed: int = 0, protocol: str = "dlib", sizes_scale: float = 1.0,
                      sizes: Optional[Mapping[str, Mapping[str, Any]]] = None,
                      batch_size: int = 64, num_seeds: int = 1, progress=None,
                      ground_truth: Any = None, workdir: Optional[str] = None) -> Dict[str, Any]:
  """Scores one baseline for the architecture and data of `cfg`; returns the evaluation JSON.

  Args:
    baseline: one of BASELINES.
    cfg: the training configuration whose architecture (untrained), image size, c_dim and data
      the baseline takes.
    metrics: as evaluate_lib.evaluate_export; seed, protocol, sizes_scale, sizes, batch_size,
      num_seeds, progress likewise.
    inits: untrained only: the number of random initialisations (seeds 0 .. inits-1).
    ground_truth: a GroundTruthData to use instead of the config's dataset (tests).
    workdir: untrained only: where the exports go (default: a temporary directory, removed).
  Returns: the evaluate_export layout plus "baseline" and, for untrained, "inits" (one full
    result per initialisation); "results" holds the summary (summarise_inits) for untrained.
  Raises: evaluate_lib.EvaluationError for a bad baseline name, metric or option.
  """
  t0 = time.time()
  if baseline not in BASELINES:
    raise evaluate_lib.EvaluationError(f"--baseline={baseline!r} is not allowed; choose one of "
                                       f"{', '.join(BASELINES)}")
  names = evaluate_lib.parse_metrics(metrics)
  if not isinstance(inits, int) or inits < 1:
    raise evaluate_lib.EvaluationError(f"--baseline_inits={inits!r} must be an integer >= 1")
  common = dict(seed=seed, protocol=protocol, sizes_scale=sizes_scale, sizes=sizes,
                num_seeds=num_seeds, progress=progress)
  if baseline == "untrained":
    with tempfile.TemporaryDirectory(prefix="oogan_tf_untrained_") as tmp:
      root = workdir or tmp
      per_init = []
      for i in range(inits):
        export_dir = untrained_export(cfg, i, os.path.join(root, f"init{i}"))
        per_init.append(evaluate_lib.evaluate_export(
            export_dir, names, batch_size=batch_size, ground_truth=ground_truth, **common))
    doc = dict(per_init[0])
    doc.update(results=summarise_inits(per_init), inits=per_init, elapsed_s=time.time() - t0,
               baseline=baseline, export_dir=None)
    return doc

  metadata = {"image_size": cfg.model.image_size, "channels": cfg.model.channels,
              "c_dim": cfg.model.c_dim, "z_dim": cfg.model.z_dim, "config": cfg.to_dict()}
  dataset = {"name": cfg.dataset, "image_size": cfg.model.image_size,
             "channels": cfg.model.channels, "data_dir": cfg.data_dir, "source": None}
  if ground_truth is None:
    ground_truth, dataset["source"] = evaluate_lib.load_ground_truth(metadata, cfg.data_dir)
  if baseline == "oracle":
    functions = dict(representation_fn=sprites.oracle_representation,
                     sampler=renderer_sampler(cfg.model.image_size))
    c_dim = max(cfg.model.c_dim, len(ORACLE_CODE_FACTORS))
  else:
    functions = dict(representation_fn=noise_representation(cfg.model.c_dim, seed),
                     sampler=real_image_sampler(ground_truth, seed))
    c_dim = cfg.model.c_dim
  results = evaluate_lib.score_functions(names, ground_truth, c_dim=c_dim,
                                         z_dim=cfg.model.z_dim, **functions, **common)
  _unavailable(names, results, f"the {baseline} baseline has no network")
  return eval_report.result_document(
      names, results, metadata=metadata, protocol=protocol, seed=seed, sizes_scale=sizes_scale,
      sizes=sizes or {}, num_seeds=num_seeds, dataset=dataset, elapsed_s=time.time() - t0,
      baseline=baseline, export_dir=None)
