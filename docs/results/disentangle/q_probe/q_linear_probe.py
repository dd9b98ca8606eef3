"""Which factors does Q read off real dSprites, and into how many codes? For each export: the R^2
of a least-squares fit of each factor (shape index, scale, orientation, x, y) from all of Q's codes
and from each single code, on 4,000 rendered images (seed 0). The gap between the best and the
second-best single code per factor is what SAP (continuous) averages.

    python docs/results/disentangle/q_probe/q_linear_probe.py OUT.json NAME=EXPORT_DIR ...
"""
import json
import sys

import numpy as np
import tensorflow as tf

from oogan_tf.data import config as data_config, dsprites

FACTORS = ["shape", "scale", "orientation", "x", "y"]


def r2(features, target):
  x = np.c_[features, np.ones(len(features))]
  coef, *_ = np.linalg.lstsq(x, target, rcond=None)
  return float(1 - (target - x @ coef).var() / target.var())


def probe(export_dir, n=4000):
  model = tf.saved_model.load(export_dir)
  meta = json.load(open(f"{export_dir}/assets/oogan_metadata.json"))
  cfg = data_config.DataConfig(name="dsprites", image_size=meta["image_size"], channels=1)
  factors, images = dsprites.ground_truth(cfg).sample(n, np.random.RandomState(0))
  encode = model.signatures["encode"]
  codes = np.concatenate([
      encode(images=tf.constant((images[i:i + 500] + 1) * 0.5, tf.float32))["c_mean"].numpy()
      for i in range(0, n, 500)])
  out = {}
  for j, name in enumerate(FACTORS):
    target = factors[:, j].astype(float)
    single = sorted((r2(codes[:, [k]], target) for k in range(codes.shape[1])), reverse=True)
    out[name] = {"r2_all_codes": round(r2(codes, target), 3),
                 "r2_best_code": round(single[0], 3), "r2_second_code": round(single[1], 3)}
  return out


if __name__ == "__main__":
  result = {}
  for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    result[name] = probe(path)
    print(name, json.dumps(result[name]))
  json.dump(result, open(sys.argv[1], "w"), indent=1)
