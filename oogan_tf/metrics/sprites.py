"""Measuring dSprites-like sprites directly in images (numpy + scipy.ndimage only).

Owns `measure_sprites` (connected components and image moments of the largest sprite, in the
dSprites factor units), `shape_features` with the nearest-class-mean `ShapeClassifier`, and
`oracle_representation`, the hand-made "oracle" representation of results tables (what a
representation that measures the sprite directly scores on the ground-truth metrics).

Geometry follows `oogan_tf.data.dsprites_render`: coordinates are pixel centres in the 64-px
canvas frame (column x, row y pointing down), so a 32-px image, which keeps canvas pixels
0, 2, 4, ... (`resize_binary`), has its pixel j centred at 2 j + 0.5.  Positions map to the
dataset's range by pos = (centre - 16) / 32, which spans [0, 1] on dSprites.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Union

import numpy as np
from scipy import ndimage

CANVAS = 64
SUPPORTED_SIZES = (32, 64)
PROPERTY_KEYS = ("num_sprites", "x", "y", "scale", "orient_cos", "orient_sin", "elongation",
                 "compactness", "asymmetry")
ORACLE_FEATURES = ("x", "y", "scale", "orient_cos", "orient_sin", "log_elongation", "asymmetry")
# Images per ndimage.label call: bounds the int32 label array to 4 MB at 64 px.
_CHUNK = 256
# 8-connectivity inside each image, none across the batch axis, so one label call labels a
# whole chunk with globally unique labels.
_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE[1] = True


def _as_batch(images: np.ndarray) -> np.ndarray:
  """float [N, S, S] or [N, S, S, 1] -> float64 [N, S, S]; ValueError for other layouts."""
  x = np.asarray(images)
  if x.ndim == 4 and x.shape[-1] == 1:
    x = x[..., 0]
  if x.ndim != 3 or x.shape[1] != x.shape[2] or x.shape[1] not in SUPPORTED_SIZES:
    raise ValueError(
        f"images must be [N, S, S] or [N, S, S, 1] with S in {SUPPORTED_SIZES}, got shape "
        f"{np.asarray(images).shape}.")
  return x.astype(np.float64, copy=False)


def default_min_area(image_size: int) -> float:
  """Smallest sprite area in image pixels: 2 px at S = 32, scaled by (S / 32)^2."""
  return 2.0 * (image_size / 32.0) ** 2


def _measure_chunk(binary: np.ndarray, min_area: float, step: float) -> Dict[str, np.ndarray]:
  """Measurements of one chunk of bool images [n, S, S]; see `measure_sprites`."""
  n = binary.shape[0]
  labels, num_labels = ndimage.label(binary, structure=_STRUCTURE)
  image, row, col = np.nonzero(labels)
  label = labels[image, row, col]
  areas = np.bincount(label, minlength=num_labels + 1)
  image_of = np.zeros(num_labels + 1, dtype=np.int64)
  image_of[label] = image
  is_sprite = areas >= min_area
  is_sprite[0] = False
  num_sprites = np.bincount(image_of[is_sprite], minlength=n).astype(np.float64)

  # The largest sprite of each image: sort labels by (image, area) and keep each image's last.
  ids = np.flatnonzero(is_sprite)
  ids = ids[np.lexsort((areas[ids], image_of[ids]))]
  last = np.ones(ids.shape, dtype=bool)
  last[:-1] = image_of[ids][1:] != image_of[ids][:-1]
  best = np.full(n, -1, dtype=np.int64)
  best[image_of[ids[last]]] = ids[last]

  # Moments are sums over the pixels of each image's largest sprite, grouped by image.
  keep = label == best[image]
  image = image[keep]
  px = step * col[keep] + 0.5
  py = step * row[keep] + 0.5

  area = np.bincount(image, minlength=n).astype(np.float64)
  valid = area > 0
  safe_area = np.where(valid, area, 1.0)

  def mean(values):
    return np.bincount(image, weights=values, minlength=n) / safe_area

  mx, my = mean(px), mean(py)
  dx, dy = px - mx[image], py - my[image]
  # Each pixel stands for a step x step square of the canvas; adding its own variance
  # (step^2 / 12) makes the moments those of the covered area and keeps one-pixel sprites
  # non-singular.
  pixel_var = step * step / 12.0
  sxx = mean(dx * dx) + pixel_var
  syy = mean(dy * dy) + pixel_var
  sxy = mean(dx * dy)
  trace = sxx + syy
  half_gap = np.sqrt(0.25 * (sxx - syy) ** 2 + sxy ** 2)
  l1 = 0.5 * trace + half_gap
  l2 = 0.5 * trace - half_gap
  area_canvas = area * step * step

  # Whitened coordinates along the principal axes, for the third-order moments.
  theta = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
  cos, sin = np.cos(theta)[image], np.sin(theta)[image]
  u = (cos * dx + sin * dy) / np.sqrt(l1)[image]
  v = (cos * dy - sin * dx) / np.sqrt(l2)[image]
  m30, m21, m12, m03 = mean(u ** 3), mean(u * u * v), mean(u * v * v), mean(v ** 3)

  out = {
      "num_sprites": num_sprites,
      "x": (mx - 16.0) / 32.0,
      "y": (my - 16.0) / 32.0,
      "scale": np.sqrt(area_canvas) / CANVAS,
      "orient_cos": (sxx - syy) / trace,
      # The row axis points down; the minus sign makes angles counter-clockwise as displayed,
      # the renderer's convention.
      "orient_sin": -2.0 * sxy / trace,
      "elongation": l1 / l2,
      "compactness": area_canvas / (4.0 * np.pi * np.sqrt(l1 * l2)),
      "asymmetry": np.sqrt(m30 ** 2 + 3.0 * m21 ** 2 + 3.0 * m12 ** 2 + m03 ** 2),
  }
  for key in PROPERTY_KEYS[1:]:
    out[key] = np.where(valid, out[key], np.nan)
  return out


def measure_sprites(images: np.ndarray, threshold: float = 0.5,
                    min_area: Optional[float] = None) -> Dict[str, np.ndarray]:
  """Measures the sprites of each image: count, and the largest one's position, size and shape.

  Pixels > `threshold` are on; 8-connected components of on pixels with area >= `min_area`
  are sprites.  All properties below describe the largest sprite, in the dSprites frame
  (module docstring): coordinates are 64-px-canvas pixel centres, and the moments treat each
  pixel as the canvas square it stands for.

  Args:
    images: float `[N, S, S]` or `[N, S, S, 1]` in [0, 1], S in {32, 64}.
    threshold: on/off threshold in the images' units.
    min_area: smallest sprite area in image pixels (default 2 at S = 32, 8 at S = 64).

  Returns:
    dict of float64 `[N]` arrays:
      num_sprites: the number of sprites (0 for a blank image).
      x, y: centroid column / row mapped by (c - 16) / 32, so dSprites positions span [0, 1].
      scale: sqrt(area in canvas pixels) / 64; monotone in the dSprites scale within a shape
        (square 0.15..0.30, ellipse ~0.13..0.27, hearts smaller).
      orient_cos, orient_sin: anisotropy * (cos 2 theta, sin 2 theta), theta the major axis'
        angle counter-clockwise as displayed, anisotropy = (l1 - l2) / (l1 + l2) of the
        second-central-moment eigenvalues l1 >= l2.  Second moments cannot see a square's
        rotation: a square's moments are isotropic at every angle, so it gives ~(0, 0).
      elongation: l1 / l2 >= 1 (1 for squares, 3.16 for the dSprites ellipse).
      compactness: area / (4 pi sqrt(det Sigma)): 1 for any ellipse, 3 / pi for squares.
      asymmetry: Frobenius norm of the third-order central moment tensor of the whitened
        coordinates, sqrt(m30^2 + 3 m21^2 + 3 m12^2 + m03^2); 0 for point-symmetric sprites
        (squares, ellipses: pixelation leaves ~0.05 at 64 px, ~0.1 at 32 px), ~0.65 for
        hearts.
    Every property except num_sprites is NaN where num_sprites is 0.
  """
  x = _as_batch(images)
  size = x.shape[1]
  step = CANVAS / size
  min_area = default_min_area(size) if min_area is None else float(min_area)
  chunks = [_measure_chunk(x[i:i + _CHUNK] > threshold, min_area, step)
            for i in range(0, x.shape[0], _CHUNK)]
  if not chunks:
    return {key: np.zeros(0) for key in PROPERTY_KEYS}
  return {key: np.concatenate([c[key] for c in chunks]) for key in PROPERTY_KEYS}


def shape_features(measurements: Mapping[str, np.ndarray]) -> np.ndarray:
  """(log elongation, compactness, asymmetry) of `measure_sprites` output: float64 [N, 3].

  These are invariant to position, rotation and (up to pixelation) scale, so they describe
  the shape alone.  Rows are NaN where there is no sprite.
  """
  return np.stack([np.log(measurements["elongation"]), measurements["compactness"],
                   measurements["asymmetry"]], axis=1).astype(np.float64)


FeaturesLike = Union[Mapping[str, np.ndarray], np.ndarray]


def _features(features: FeaturesLike) -> np.ndarray:
  f = shape_features(features) if isinstance(features, Mapping) else np.asarray(
      features, np.float64)
  if f.ndim != 2 or f.shape[1] != 3:
    raise ValueError(
        "features must be a measure_sprites dict or a float [N, 3] array of shape_features, "
        f"got shape {f.shape}.")
  return f


class ShapeClassifier:
  """Nearest class mean in the standardised `shape_features` space (deterministic).

  Fitted on 1,500 rendered dSprites, it classifies fresh ones with accuracy 0.986 at 32 px
  and 1.000 at 64 px (chance 1/3); the errors are the smallest squares and hearts at 32 px.

  Attributes (after `fit`):
    classes: int64 [K] the shape labels seen in training, ascending.
    means: float64 [K, 3] class means of the standardised features.
    centre, spread: float64 [3] the standardisation (training mean and std).
  """

  def fit(self, features: FeaturesLike, shapes: np.ndarray) -> "ShapeClassifier":
    """Fits on features (measure_sprites dict or [N, 3]) and int shape labels [N].

    Rows with NaN features (no sprite) are ignored; at least one usable row is needed.
    """
    f = _features(features)
    shapes = np.asarray(shapes).astype(np.int64).reshape(-1)
    if shapes.shape[0] != f.shape[0]:
      raise ValueError(f"shapes has {shapes.shape[0]} labels for {f.shape[0]} feature rows.")
    ok = np.all(np.isfinite(f), axis=1)
    if not ok.any():
      raise ValueError("ShapeClassifier.fit needs at least one image with a sprite.")
    f, shapes = f[ok], shapes[ok]
    self.centre = f.mean(axis=0)
    spread = f.std(axis=0)
    self.spread = np.where(spread > 0, spread, 1.0)
    z = (f - self.centre) / self.spread
    self.classes = np.unique(shapes)
    self.means = np.stack([z[shapes == k].mean(axis=0) for k in self.classes])
    return self

  def predict(self, features: FeaturesLike) -> np.ndarray:
    """int64 [N] predicted shape labels; -1 where the features are NaN (no sprite)."""
    if not hasattr(self, "means"):
      raise ValueError("ShapeClassifier.predict called before fit.")
    f = _features(features)
    ok = np.all(np.isfinite(f), axis=1)
    z = (np.where(ok[:, None], f, 0.0) - self.centre) / self.spread
    d2 = ((z[:, None, :] - self.means[None, :, :]) ** 2).sum(axis=2)
    return np.where(ok, self.classes[np.argmin(d2, axis=1)], -1).astype(np.int64)


def oracle_representation(observations: np.ndarray) -> np.ndarray:
  """Hand-made sprite features: the "oracle" representation for the ground-truth metrics.

  Args:
    observations: float32 `[N, S, S, 1]` in [-1, 1] (the metrics' convention), S in {32, 64}.

  Returns:
    float64 `[N, 7]`, columns ORACLE_FEATURES: x, y, scale, orient_cos, orient_sin (see
    `measure_sprites`), log elongation (separates ellipses) and asymmetry (separates hearts).
    Blank images get zeros, so that the metrics' finiteness check holds.
  """
  m = measure_sprites((np.asarray(observations, np.float64) + 1.0) / 2.0)
  codes = np.stack([m["x"], m["y"], m["scale"], m["orient_cos"], m["orient_sin"],
                    np.log(m["elongation"]), m["asymmetry"]], axis=1)
  return np.nan_to_num(codes, nan=0.0)
