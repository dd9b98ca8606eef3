"""A categorical code for dSprites' shape: does Q's category pick up the shape class, and what do
FactorVAE and MIG say when the representation is Q's continuous means plus the category index?

For each export (trained with --cat_dim=K on dsprites): on 4,000 rendered images (seed 0) the
category argmax is matched to the shape labels (each category -> its most frequent shape;
accuracy, chance = largest class share), then FactorVAE (gan_papers, 800 votes, 10,000 variance
images) and MIG (4,000 points) are scored twice: on c_mean alone and on [c_mean, category index].
With --untrained_of=RUN_DIR, untrained exports of that run's configuration (one per --seeds
entry, exported like a trained one by baselines.untrained_export) are scored too: the floor.

    python cat_probe.py OUT.json NAME=EXPORT_DIR ... [--untrained_of=RUN_DIR --seeds=0,1,2]
"""
import json
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

from oogan_tf import baselines, evaluate_lib
from oogan_tf.config import TrainConfig
from oogan_tf.data import config as data_config, dsprites

SIZES = {"factor_vae": {"num_train": 800, "num_variance_estimate": 10000},
         "mig": {"num_train": 4000}}


def encoder(model, with_category):
  encode = model.signatures["encode"]

  def fn(obs):
    out = []
    for i in range(0, len(obs), 500):
      r = encode(images=tf.constant((obs[i:i + 500] + 1) * 0.5, tf.float32))
      parts = [r["c_mean"].numpy()]
      if with_category:
        parts.append(np.argmax(r["category_probabilities"].numpy(), 1)[:, None].astype(np.float32))
      out.append(np.concatenate(parts, 1))
    return np.concatenate(out)
  return fn


def probe(export_dir):
  model = tf.saved_model.load(export_dir)
  meta = json.load(open(f"{export_dir}/assets/oogan_metadata.json"))
  cfg = data_config.DataConfig(name="dsprites", image_size=meta["image_size"], channels=1)
  gt = dsprites.ground_truth(cfg)
  factors, images = gt.sample(4000, np.random.RandomState(0))
  cat = encoder(model, True)(images)[:, -1].astype(int)
  shape = factors[:, 0].astype(int)
  correct = sum(np.bincount(shape[cat == k]).max() for k in np.unique(cat))
  out = {"shape_accuracy": correct / len(shape),
         "chance": float(np.bincount(shape).max() / len(shape)),
         "category_histogram": np.bincount(cat, minlength=meta["cat_dim"]).tolist()}
  for name, with_cat in (("c_mean", False), ("c_mean+category", True)):
    res = evaluate_lib.score_functions(["factor_vae", "mig"], gt,
                                       representation_fn=encoder(model, with_cat),
                                       protocol="gan_papers", sizes=SIZES, seed=0)
    out[name] = {"factor_vae": res["factor_vae"]["eval_accuracy"],
                 "factor_vae_se": res["factor_vae"].get("eval_accuracy_se"),
                 "mig": res["mig"]["discrete_mig"], "mig_se": res["mig"].get("discrete_mig_se")}
  return out


if __name__ == "__main__":
  args = sys.argv[2:]
  targets = [a.split("=", 1) for a in args if not a.startswith("--")]
  opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--"))
  if "untrained_of" in opts:
    cfg = TrainConfig.from_dict(json.load(open(f"{opts['untrained_of']}/config.json")))
    tmp = tempfile.mkdtemp(prefix="untrained_cat_")
    for s in opts.get("seeds", "0").split(","):
      path = os.path.join(tmp, f"init{s}")
      baselines.untrained_export(cfg, int(s), path)
      targets.append((f"untrained{s}", path))
  result = {}
  for name, path in targets:
    result[name] = probe(path)
    print(name, json.dumps(result[name]), flush=True)
    json.dump(result, open(sys.argv[1], "w"), indent=1)
