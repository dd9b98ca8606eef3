"""Does G encode sprite presence/size by the distance of c from the cube's centre, and position by
its direction? Samples c ~ U(0,1)^C (and codes near the centre), measures the sprite in each image."""
import json, sys
import numpy as np
import tensorflow as tf

export_dir, out = sys.argv[1], sys.argv[2]
m = tf.saved_model.load(export_dir)
rs = np.random.RandomState(0)
meta = m.signatures["sample"].structured_input_signature[1]
C = meta["c"].shape[1]; Z = meta["z"].shape[1]

def measure(c):
  z = rs.standard_normal((len(c), Z)).astype(np.float32)
  x = m.signatures["sample"](c=tf.constant(c, tf.float32), z=tf.constant(z))["images"].numpy()[..., 0]
  mask = x > 0.5
  area = mask.sum(axis=(1, 2)).astype(float)
  ys, xs = np.mgrid[0:x.shape[1], 0:x.shape[2]]
  with np.errstate(invalid="ignore", divide="ignore"):
    cx = (mask * xs).sum(axis=(1, 2)) / area
    cy = (mask * ys).sum(axis=(1, 2)) / area
  return area, cx, cy

def r2(features, target):
  ok = np.isfinite(target)
  X = np.c_[features[ok], np.ones(ok.sum())]
  coef, *_ = np.linalg.lstsq(X, target[ok], rcond=None)
  res = target[ok] - X @ coef
  return float(1 - res.var() / target[ok].var())

n = 4000
c = rs.uniform(size=(n, C)).astype(np.float32)
area, cx, cy = measure(c)
d = c - 0.5
radius = np.linalg.norm(d, axis=1)
unit = d / radius[:, None]
bins = np.quantile(radius, [0, 0.1, 0.5, 0.9, 1.0])
result = {
  "n": n, "c_dim": C,
  "empty_fraction": float((area == 0).mean()),
  "corr_area_radius": float(np.corrcoef(area, radius)[0, 1]),
  "empty_fraction_by_radius_decile": {
      "inner_10pct": float((area[radius <= bins[1]] == 0).mean()),
      "outer_10pct": float((area[radius >= bins[3]] == 0).mean())},
  "mean_area_by_radius": {"inner_10pct": float(area[radius <= bins[1]].mean()),
                          "outer_10pct": float(area[radius >= bins[3]].mean())},
  "r2_x_from_c": r2(c, cx), "r2_x_from_direction": r2(unit, cx),
  "r2_y_from_c": r2(c, cy), "r2_y_from_direction": r2(unit, cy),
  "r2_area_from_c": r2(c, area), "r2_area_from_radius": r2(np.c_[radius, radius ** 2], area),
}
# Codes in the reference traversal's base box U(0.2, 0.6)^C.
box = rs.uniform(0.2, 0.6, size=(1000, C)).astype(np.float32)
a_box, _, _ = measure(box)
result["empty_fraction_base_box_0.2_0.6"] = float((a_box == 0).mean())
json.dump(result, open(out, "w"), indent=1)
print(json.dumps(result, indent=1))
# Which codes carry position: least-squares weights of x and y on c (pixels per unit of c).
ok = np.isfinite(cx)
X = np.c_[c[ok], np.ones(ok.sum())]
wx = np.linalg.lstsq(X, cx[ok], rcond=None)[0][:-1]
wy = np.linalg.lstsq(X, cy[ok], rcond=None)[0][:-1]
extra = {"x_weights_px_per_unit_c": [round(float(v), 2) for v in wx],
         "y_weights_px_per_unit_c": [round(float(v), 2) for v in wy]}
result.update(extra)
json.dump(result, open(out, "w"), indent=1)
print(json.dumps(extra))
