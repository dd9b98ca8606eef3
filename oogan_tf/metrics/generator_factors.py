"""The `generator_factors` metric: which generator code moves which measured sprite property.

Owns `compute_generator_factors` and `save_effect_heatmap`.  The metric looks at the generator
side only: images G(c, z) are measured with `oogan_tf.metrics.sprites` (position x, y, scale,
orientation as the doubled-angle 2-vector, shape class from a `ShapeClassifier` fitted on real
images), so no encoder or Q network is involved.  It reports

  coverage: how closely the generated x, y, scale and shape distributions match the real ones;
  c_variance_share: how much of each property's variance the code c causes, rather than z;
  effect_matrix: how far each code dimension moves each property (total variation of
    one-dimensional sweeps, in units of the real data's typical difference);
  score: one disentanglement number from the effect matrix (defined in
    `compute_generator_factors`), with the property-to-code `assignment` and a MIG-like
    `property_gap`;

each scalar with a bootstrap standard error.  Properties are only measured on images that hold
exactly one sprite; other images count as missing values (NaN) throughout.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
from scipy import optimize, stats

from oogan_tf.metrics import _utils
from oogan_tf.metrics import sprites

GenerateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

PROPERTY_NAMES = ("x", "y", "scale", "orientation", "shape")
COVERAGE_PROPERTIES = ("x", "y", "scale")
# dSprites shape classes 0, 1, 2 (dsprites_render.SHAPE_NAMES, not imported because
# oogan_tf.data loads TensorFlow and the metrics must not).
SHAPE_NAMES = ("square", "ellipse", "heart")
SQUARE = 0
# Properties measured by image moments whose values are not comparable across shapes (e.g. a
# heart's area differs from a square's at the same dSprites scale): their sweep differences
# count only between steps of the same predicted shape.
SHAPE_DEPENDENT = ("scale", "orientation")
MAX_CHUNK = 256
SE_METHOD = (
    "bootstrap standard deviation (ddof=1) over `bootstrap` resamples with replacement: "
    "effect_matrix, score, assignment purities and property_gap resample the sweep bases; "
    "coverage, shape_distribution and single_sprite_fraction resample the generated codes "
    "(each with its num_z images) and the real images; c_variance_share resamples the codes. "
    "Normalisers (real E|p - p'|) and the shape classifier are held fixed.")


def _finite_or_none(value: Any) -> Optional[float]:
  value = float(value)
  return value if np.isfinite(value) else None


def _nested_list(array: np.ndarray) -> List[List[Optional[float]]]:
  return [[_finite_or_none(v) for v in row] for row in np.asarray(array)]


def _generate_and_measure(generate_fn: GenerateFn, c: np.ndarray, z: np.ndarray,
                          image_size: int, progress: Optional[_utils.ProgressFn],
                          stage: str) -> Dict[str, np.ndarray]:
  """measure_sprites of generate_fn(c, z), called in chunks of MAX_CHUNK rows of c [N, C]."""
  n = c.shape[0]
  parts = []
  for start in range(0, n, MAX_CHUNK):
    cc, zz = c[start:start + MAX_CHUNK], z[start:start + MAX_CHUNK]
    images = np.asarray(generate_fn(cc, zz))
    m = cc.shape[0]
    if images.shape not in ((m, image_size, image_size, 1), (m, image_size, image_size)):
      raise ValueError(
          f"generate_fn must return images [{m}, {image_size}, {image_size}, 1] (the ground "
          f"truth's size) for {m} codes, got shape {images.shape}.")
    if not np.all(np.isfinite(images)):
      raise ValueError("generate_fn returned non-finite pixels (NaN or inf).")
    parts.append(sprites.measure_sprites(images))
    if progress is not None:
      progress(stage, min(start + MAX_CHUNK, n), n)
  return {k: np.concatenate([p[k] for p in parts]) for k in sprites.PROPERTY_KEYS}


def _classes(m: Dict[str, np.ndarray], classifier: sprites.ShapeClassifier) -> np.ndarray:
  """int64 [N] predicted shape class of each image; -1 unless it holds exactly one sprite."""
  return np.where(m["num_sprites"] == 1, classifier.predict(m), -1).astype(np.int64)


def _property_vectors(m: Dict[str, np.ndarray], classes: np.ndarray) -> Dict[str, np.ndarray]:
  """Per property, float64 [N, k] vectors whose Euclidean distance is the property's distance.

  x, y, scale: [N, 1]; orientation: (orient_cos, orient_sin) [N, 2]; shape: the one-hot of the
  predicted class (int [N], -1 for no single sprite) divided by sqrt(2), so that two
  different classes are at distance 1.  Rows are NaN where `classes` is -1, and orientation
  rows also where the class is square, whose rotation second moments cannot see (their
  orientation vector is pixelation noise around 0).
  """
  valid = classes >= 0
  out = {name: m[name][:, None] for name in COVERAGE_PROPERTIES}
  out["orientation"] = np.stack([m["orient_cos"], m["orient_sin"]], axis=1)
  out["shape"] = np.eye(len(SHAPE_NAMES))[np.maximum(classes, 0)] / np.sqrt(2.0)
  out = {k: np.where(valid[:, None], v, np.nan) for k, v in out.items()}
  out["orientation"][classes == SQUARE] = np.nan
  return out


def _mean_pair_distance(values: np.ndarray) -> float:
  """Mean Euclidean distance over distinct pairs of the finite rows of `values` [N, k]."""
  v = values[np.all(np.isfinite(values), axis=1)]
  n = v.shape[0]
  if n < 2:
    return float("nan")
  total = 0.0
  for start in range(0, n, MAX_CHUNK):
    d = v[start:start + MAX_CHUNK, None, :] - v[None, :, :]
    total += float(np.sqrt((d * d).sum(axis=2)).sum())
  return total / (n * (n - 1))


def _coverage(gen: Dict[str, np.ndarray], gen_single: np.ndarray, real: Dict[str, np.ndarray],
              real_classes: np.ndarray, gen_classes: np.ndarray,
              pair_distance: Dict[str, float]) -> Dict[str, Any]:
  """Coverage numbers of one (re)sample; arrays are rows of generated / real images."""
  out: Dict[str, Any] = {}
  for name in COVERAGE_PROPERTIES:
    g = gen[name][:, 0]
    g = g[np.isfinite(g)]
    r = real[name][:, 0]
    r = r[np.isfinite(r)]
    if g.size == 0 or r.size == 0:
      out[name] = np.nan
    else:
      w1 = stats.wasserstein_distance(g, r)
      out[name] = float(np.clip(1.0 - w1 / pair_distance[name], 0.0, 1.0))
  out["mean"] = float(np.mean([out[n] for n in COVERAGE_PROPERTIES]))
  out["single_sprite_fraction"] = float(np.mean(gen_single))

  def fractions(classes):
    classes = classes[classes >= 0]
    if classes.size == 0:
      return np.full(len(SHAPE_NAMES), np.nan)
    return np.bincount(classes, minlength=len(SHAPE_NAMES)) / classes.size

  out["shape_generated"] = fractions(gen_classes)
  out["shape_real"] = fractions(real_classes)
  return out


def _variance_share(values: np.ndarray) -> float:
  """Share of the variance of property vectors [I, J, k] (I codes, J noises) caused by c.

  Random-effects ANOVA per component, summed over components: between = Var_i(mean_j p)
  - mean_i Var_j(p) / n_i (clipped >= 0), within = mean_i Var_j(p), share = between /
  (between + within).  Codes with fewer than 2 valid images are dropped; NaN if fewer than 2
  codes remain; 0 for a property that does not vary at all.
  """
  valid = np.all(np.isfinite(values), axis=2)
  counts = valid.sum(axis=1)
  use = counts >= 2
  if use.sum() < 2:
    return float("nan")
  v = values[use]
  n = counts[use].astype(np.float64)
  means = np.nanmean(v, axis=1)
  within_each = np.nanvar(v, axis=1, ddof=1).sum(axis=1)
  between = max(float(np.var(means, axis=0, ddof=1).sum() - np.mean(within_each / n)), 0.0)
  within = float(np.mean(within_each))
  total = between + within
  return between / total if total > 0 else 0.0


def _sweep_variation(values: np.ndarray, classes: Optional[np.ndarray]) -> np.ndarray:
  """Total variation of sweeps [B, C, T, k] over their valid steps: float64 [B, C].

  Steps with a NaN row are skipped (the path joins the neighbouring valid steps); a sweep with
  fewer than 2 valid steps is NaN.  With `classes` (int [B, C, T] shape classes) given, a
  difference between consecutive valid steps of different classes counts as 0.
  """
  b, c = values.shape[:2]
  valid = np.all(np.isfinite(values), axis=3)
  out = np.full((b, c), np.nan)
  for i in range(b):
    for d in range(c):
      steps = values[i, d, valid[i, d]]
      if steps.shape[0] < 2:
        continue
      dist = np.sqrt((np.diff(steps, axis=0) ** 2).sum(axis=1))
      if classes is not None:
        kept = classes[i, d, valid[i, d]]
        dist = np.where(kept[1:] == kept[:-1], dist, 0.0)
      out[i, d] = dist.sum()
  return out


# The ground-truth factor behind each property, by dSprites factor name.
PROPERTY_FACTORS = {"x": "posX", "y": "posY", "scale": "scale", "orientation": "orientation",
                    "shape": "shape"}


def _real_effect_matrix(ground_truth: Any, classifier: sprites.ShapeClassifier,
                        pair_distance: Dict[str, float], num_bases: int, sweep_steps: int,
                        random_state: np.random.RandomState) -> Optional[np.ndarray]:
  """The effect matrix of the data itself: ground-truth factors swept like codes, [F, P].

  For num_bases random factor tuples and each factor f, f takes sweep_steps evenly spaced class
  indices with the others fixed; the images are measured and summarised exactly as a
  generator's sweeps (total variation in D_p units, nanmean over bases). Off the matching
  factor, E_real[f, p] is what measuring p picks up when something else moves (pixelation,
  a heart's centroid turning with it): the measurement's noise floor. None when the ground
  truth does not name the dSprites factors.
  """
  names = tuple(getattr(ground_truth, "factor_names", ()))
  if not all(f in names for f in PROPERTY_FACTORS.values()):
    return None
  sizes = np.asarray(ground_truth.factor_sizes)
  bases = ground_truth.sample_factors(num_bases, random_state)
  rows = []
  for f, size in enumerate(sizes):
    levels = np.round(np.linspace(0, size - 1, sweep_steps)).astype(np.int64)
    factors = np.repeat(np.asarray(bases)[:, None, :], sweep_steps, axis=1)
    factors[:, :, f] = levels[None, :]
    obs = ground_truth.sample_observations_from_factors(factors.reshape(-1, len(sizes)),
                                                        random_state)
    m = sprites.measure_sprites((np.asarray(obs, np.float64) + 1.0) / 2.0)
    classes = _classes(m, classifier)
    vectors = _property_vectors(m, classes)
    classes = classes.reshape(num_bases, 1, sweep_steps)
    rows.append([np.nanmean(_sweep_variation(
        vectors[name].reshape(num_bases, 1, sweep_steps, -1),
        classes if name in SHAPE_DEPENDENT else None)) / pair_distance[name]
                 for name in PROPERTY_NAMES])
  return np.asarray(rows, np.float64)


def _noise_floor(real_effect: Optional[np.ndarray], factor_names: Sequence[str]) -> np.ndarray:
  """Per property, the largest effect a non-matching ground-truth factor has on it: [P]."""
  if real_effect is None:
    return np.zeros(len(PROPERTY_NAMES))
  floor = []
  for p, name in enumerate(PROPERTY_NAMES):
    own = list(factor_names).index(PROPERTY_FACTORS[name])
    others = np.delete(real_effect[:, p], own)
    floor.append(float(np.nanmax(others)) if np.isfinite(others).any() else 0.0)
  return np.asarray(floor)


def _assignment_score(effect: np.ndarray) -> Dict[str, Any]:
  """score, assignment (property index -> code) and purities, gaps of an effect matrix [C, P].

  NaN entries (no valid sweep) count as 0.
  """
  e = np.nan_to_num(np.asarray(effect, np.float64), nan=0.0)
  num_codes, num_props = e.shape
  col = e.sum(axis=0, keepdims=True)
  row = e.sum(axis=1, keepdims=True)
  p_share = np.divide(e, col, out=np.zeros_like(e), where=col > 0)
  r_share = np.divide(e, row, out=np.zeros_like(e), where=row > 0)
  purity = p_share * r_share
  codes, props = optimize.linear_sum_assignment(purity, maximize=True)
  # A code that does not move its property at all is no assignment (e.g. an all-zero matrix).
  moved = purity[codes, props] > 0
  codes, props = codes[moved], props[moved]
  code_of = np.full(num_props, -1, dtype=np.int64)
  code_of[props] = codes
  purity_of = np.zeros(num_props)
  purity_of[props] = purity[codes, props]
  top = np.sort(e, axis=0)[::-1]
  top1 = top[0]
  top2 = top[1] if num_codes > 1 else np.zeros(num_props)
  gap = np.divide(top1 - top2, top1, out=np.zeros(num_props), where=top1 > 0)
  return {"score": float(purity_of.sum() / num_props), "code_of": code_of,
          "purity_of": purity_of, "purity": purity, "gap": gap}


def _se(samples: Sequence[float]) -> float:
  s = np.asarray(samples, np.float64)
  s = s[np.isfinite(s)]
  return float(np.std(s, ddof=1)) if s.size >= 2 else float("nan")


def compute_generator_factors(generate_fn: GenerateFn, c_dim: int, z_dim: int,
                              ground_truth: Any, random_state: np.random.RandomState, *,
                              num_samples: int = 512, num_bases: int = 32,
                              sweep_steps: int = 8, num_z: int = 8, bootstrap: int = 200,
                              num_real: int = 2048,
                              progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Measures which code dimension of a dSprites generator moves which sprite property.

  Properties P = PROPERTY_NAMES = (x, y, scale, orientation, shape), measured by
  `sprites.measure_sprites` on images with exactly one sprite (others are missing values).
  Distances between property values: |p - p'| for x, y, scale; the Euclidean distance of the
  doubled-angle vectors (orient_cos, orient_sin) for orientation; 1 if the predicted shape
  classes differ, else 0, for shape.  Second moments cannot see a square's rotation, so
  orientation is missing for images classified as squares.  D_p = E|p - p'| over pairs of
  distinct real images with p defined (for shape P(shape != shape')) is each property's unit.

  coverage: for x, y, scale, 1 - W1(generated, real) / D_p clipped to [0, 1], with W1 the
    Wasserstein-1 (earth mover's) distance of the one-dimensional distributions
    (scipy.stats.wasserstein_distance) over the num_samples images from c ~ U(0, 1)^C,
    z ~ N(0, I); 1.0 = identical distributions.  `mean` of the three,
    `single_sprite_fraction` of those images, `shape_distribution` = fractions of predicted
    shape classes among generated single-sprite images and among real images.
  c_variance_share: num_samples / num_z codes c, each with num_z noises z; per property the
    random-effects ANOVA share between / (between + within), between = Var_i(mean_j p) -
    mean_i Var_j(p) / n_i clipped >= 0, within = mean_i Var_j(p) (ddof 1; vector properties
    sum their component variances; shape uses its one-hot), i.e. the part of the total
    variance that c causes rather than z.  `mean` over the properties.
  effect_matrix E[d][p]: num_bases bases (c ~ U(0, 1)^C, z ~ N(0, I)); for each code d,
    c_d sweeps linspace(0, 1, sweep_steps) with everything else fixed; the total variation
    of p along the sweep (sum of distances between consecutive steps; steps where p is
    missing are skipped, joining their neighbours, and a sweep with fewer than two valid
    steps is NaN), averaged over bases with nanmean, divided by D_p.  Scale (the area
    proxy) and orientation (the moment anisotropy) are not comparable across shapes, so
    their differences between consecutive steps of different predicted shapes count as 0:
    a shape change alone moves only `shape`.  Finally each property's noise floor is
    subtracted (clipped at 0): the same sweeps on real images, with the ground-truth factors
    as codes (`real_effect_matrix` [F][P]), give how much measuring p moves when a factor
    other than p's moves (pixelation, a heart's centroid turning with it); `noise_floor`
    ([P], in property_names order) holds the largest such off-factor effect per property.  Without it, a perfectly factorised 32 px
    generator would score about 0.5.
  score: with P_share[d, p] = E[d, p] / sum_d E[d, p] (how much of p's movement comes from
    d) and R_share[d, p] = E[d, p] / sum_p E[d, p] (how much of d's effect goes to p), the
    one-to-one assignment a of properties to distinct codes maximising
    sum_p P_share[a(p), p] R_share[a(p), p] (scipy.optimize.linear_sum_assignment; with
    C < P only C properties are assigned and the rest count as 0); score = mean over
    properties of P_share[a(p), p] R_share[a(p), p] (`assignment_purity`), times
    `coverage.single_sprite_fraction`: a generator is scored only as far as it draws
    measurable sprites (an untrained G, whose few single-blob images would otherwise give a
    noisy purity, scores near 0).  In [0, 1]; 1 iff every image holds one sprite, every
    property is moved only by its own code and that code moves nothing else; one code moving
    everything scores ~1 / P^2.  NaN entries of E count as 0.
  assignment: [{"property", "code", "purity" = P_share R_share at the assigned cell,
    "purity_se"}], code -1 for a property left unassigned (C < P, or its code would not
    move it at all).
  property_gap: per property (top1 - top2) / top1 of E over codes (a MIG-like gap; 0 for a
    property nothing moves), and `mean`.

  Args:
    generate_fn: (c float32 [N, C] in [0, 1], z float32 [N, Z] standard normal) -> images
      float32 [N, S, S, 1] in [0, 1] (the export's `sample` signature); called with
      N <= MAX_CHUNK (256).
    c_dim: C >= 1.
    z_dim: Z >= 0.
    ground_truth: GroundTruthData at the generator's S (32 or 64): real reference images,
      whose factor 0 (shape) also fits the ShapeClassifier.
    random_state: np.random.RandomState; the result is deterministic given its state.
    num_samples: images for coverage and variance share, a multiple of num_z, >= 2 num_z.
    num_bases: sweep bases, >= 2.
    sweep_steps: values of c_d per sweep, >= 2.
    num_z: noises per code for the variance share, >= 2.
    bootstrap: resamples for the standard errors, >= 2.
    num_real: real reference images, >= 2.
    progress: optional hook `progress(stage, done, total)`.

  The generator makes num_samples + num_bases * C * sweep_steps images (2,048 at the
  defaults with C = 6).

  Returns:
    JSON-serialisable dict: score, assignment_purity, assignment, property_gap, effect_matrix ([C][P] floats),
    effect_matrix_se, noise_floor, real_effect_matrix, coverage, c_variance_share, with a sibling `<key>_se` for every scalar
    (see `se_method`), se_method, property_names, params (all sizes).  Values that are
    undefined (e.g. no generated image holds a single sprite) are None.
  """
  if not callable(generate_fn):
    raise ValueError(
        "generate_fn must be a callable (c [N, C], z [N, Z]) -> images [N, S, S, 1], got "
        f"{type(generate_fn).__name__}.")
  c_dim = _utils.check_int("c_dim", c_dim, 1)
  z_dim = _utils.check_int("z_dim", z_dim, 0)
  _utils.check_ground_truth(ground_truth)
  _utils.check_random_state(random_state)
  num_z = _utils.check_int("num_z", num_z, 2)
  num_samples = _utils.check_int("num_samples", num_samples, 2 * num_z)
  if num_samples % num_z:
    raise ValueError(f"num_samples ({num_samples}) must be a multiple of num_z ({num_z}).")
  num_bases = _utils.check_int("num_bases", num_bases, 2)
  sweep_steps = _utils.check_int("sweep_steps", sweep_steps, 2)
  bootstrap = _utils.check_int("bootstrap", bootstrap, 2)
  num_real = _utils.check_int("num_real", num_real, 2)
  image_size = int(ground_truth.observation_shape[0])
  if image_size not in sprites.SUPPORTED_SIZES:
    raise ValueError(f"ground_truth images must be {sprites.SUPPORTED_SIZES} px, got "
                     f"{ground_truth.observation_shape}.")
  num_codes = num_samples // num_z

  c_grid = random_state.uniform(size=(num_codes, c_dim)).astype(np.float32)
  z_grid = random_state.standard_normal((num_codes, num_z, z_dim)).astype(np.float32)
  real_factors, real_obs = ground_truth.sample(num_real, random_state)
  c_base = random_state.uniform(size=(num_bases, c_dim)).astype(np.float32)
  z_base = random_state.standard_normal((num_bases, z_dim)).astype(np.float32)

  real_m = sprites.measure_sprites((np.asarray(real_obs, np.float64) + 1.0) / 2.0)
  classifier = sprites.ShapeClassifier().fit(real_m, np.asarray(real_factors)[:, 0])
  if classifier.classes.tolist() != list(range(len(SHAPE_NAMES))):
    raise ValueError(
        f"the {num_real} real images hold shape classes {classifier.classes.tolist()}; all of "
        f"{list(range(len(SHAPE_NAMES)))} ({', '.join(SHAPE_NAMES)}) are needed, so increase "
        "num_real.")
  real_classes = _classes(real_m, classifier)
  real = _property_vectors(real_m, real_classes)
  pair_distance = {name: _mean_pair_distance(real[name]) for name in PROPERTY_NAMES}
  if not all(v > 0 for v in pair_distance.values()):
    raise ValueError(
        "the real reference images must hold single sprites whose properties vary (dSprites); "
        f"got mean pair distances {pair_distance}.")

  grid_m = _generate_and_measure(
      generate_fn, np.repeat(c_grid, num_z, axis=0), z_grid.reshape(num_samples, z_dim),
      image_size, progress, "generator_factors/samples")
  grid_single = grid_m["num_sprites"] == 1
  grid_classes = _classes(grid_m, classifier)
  grid = _property_vectors(grid_m, grid_classes)

  c_sweep = np.repeat(c_base[:, None, None, :], c_dim, axis=1).repeat(sweep_steps, axis=2)
  levels = np.linspace(0.0, 1.0, sweep_steps, dtype=np.float32)
  for d in range(c_dim):
    c_sweep[:, d, :, d] = levels
  z_sweep = np.broadcast_to(z_base[:, None, None, :],
                            (num_bases, c_dim, sweep_steps, z_dim))
  num_sweep = num_bases * c_dim * sweep_steps
  sweep_m = _generate_and_measure(
      generate_fn, c_sweep.reshape(num_sweep, c_dim), z_sweep.reshape(num_sweep, z_dim),
      image_size, progress, "generator_factors/sweeps")
  sweep_classes = _classes(sweep_m, classifier)
  sweep = _property_vectors(sweep_m, sweep_classes)
  sweep_classes = sweep_classes.reshape(num_bases, c_dim, sweep_steps)
  # variation[b, d, p]: total variation of property p along base b's sweep of code d, in D_p.
  variation = np.stack(
      [_sweep_variation(sweep[name].reshape(num_bases, c_dim, sweep_steps, -1),
                        sweep_classes if name in SHAPE_DEPENDENT else None)
       / pair_distance[name] for name in PROPERTY_NAMES], axis=2)

  real_effect = _real_effect_matrix(ground_truth, classifier, pair_distance, num_bases,
                                    sweep_steps, random_state)
  floor = _noise_floor(real_effect, getattr(ground_truth, "factor_names", ()))

  def effect_of(bases):
    # nanmean over bases, spelled out so that cells without any valid sweep stay NaN silently;
    # then the measurement's noise floor comes off each property (clipped at 0).
    counts = np.isfinite(variation[bases]).sum(axis=0)
    sums = np.nansum(variation[bases], axis=0)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return np.maximum(mean - floor[None, :], 0.0)

  def grid_numbers(codes, real_rows):
    rows = (codes[:, None] * num_z + np.arange(num_z)[None, :]).reshape(-1)
    cov = _coverage({k: v[rows] for k, v in grid.items()}, grid_single[rows],
                    {k: v[real_rows] for k, v in real.items()}, real_classes[real_rows],
                    grid_classes[rows], pair_distance)
    share = {name: _variance_share(grid[name][rows].reshape(codes.size, num_z, -1))
             for name in PROPERTY_NAMES}
    share["mean"] = float(np.mean([share[n] for n in PROPERTY_NAMES]))
    return cov, share

  effect = effect_of(np.arange(num_bases))
  fit = _assignment_score(effect)
  cov, share = grid_numbers(np.arange(num_codes), np.arange(num_real))

  boot_effect, boot_score, boot_purity_score, boot_purity, boot_gap = [], [], [], [], []
  boot_cov: Dict[str, List[float]] = {}
  boot_share: Dict[str, List[float]] = {}
  boot_shape_gen, boot_shape_real = [], []
  for _ in range(bootstrap):
    bases = random_state.randint(num_bases, size=num_bases)
    codes = random_state.randint(num_codes, size=num_codes)
    real_rows = random_state.randint(num_real, size=num_real)
    e = effect_of(bases)
    f = _assignment_score(e)
    boot_effect.append(e)
    boot_purity_score.append(f["score"])
    boot_purity.append(f["purity"])
    boot_gap.append(np.append(f["gap"], f["gap"].mean()))
    c_r, s_r = grid_numbers(codes, real_rows)
    boot_score.append(f["score"] * c_r["single_sprite_fraction"])
    for key in COVERAGE_PROPERTIES + ("mean", "single_sprite_fraction"):
      boot_cov.setdefault(key, []).append(c_r[key])
    boot_shape_gen.append(c_r["shape_generated"])
    boot_shape_real.append(c_r["shape_real"])
    for key, value in s_r.items():
      boot_share.setdefault(key, []).append(value)

  def with_se(values: Dict[str, float], boots: Dict[str, List[float]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in values.items():
      out[key] = _finite_or_none(value)
      out[f"{key}_se"] = _finite_or_none(_se(boots[key]))
    return out

  def shape_fractions(values, boots):
    boots = np.asarray(boots)
    return with_se(dict(zip(SHAPE_NAMES, values)),
                   {name: boots[:, k] for k, name in enumerate(SHAPE_NAMES)})

  coverage = with_se({k: cov[k] for k in boot_cov}, boot_cov)
  coverage["shape_distribution"] = {
      "generated": shape_fractions(cov["shape_generated"], boot_shape_gen),
      "real": shape_fractions(cov["shape_real"], boot_shape_real)}

  boot_purity = np.asarray(boot_purity)
  assignment = []
  for p, name in enumerate(PROPERTY_NAMES):
    d = int(fit["code_of"][p])
    assignment.append({
        "property": name, "code": d, "purity": float(fit["purity_of"][p]),
        "purity_se": _finite_or_none(_se(boot_purity[:, d, p])) if d >= 0 else 0.0})

  boot_gap = np.asarray(boot_gap)
  gap_names = PROPERTY_NAMES + ("mean",)
  property_gap = with_se(
      dict(zip(gap_names, np.append(fit["gap"], fit["gap"].mean()))),
      {name: boot_gap[:, i] for i, name in enumerate(gap_names)})

  boot_effect = np.asarray(boot_effect)
  effect_se = np.array([[_se(boot_effect[:, d, p]) for p in range(len(PROPERTY_NAMES))]
                        for d in range(c_dim)])
  return {
      "score": fit["score"] * cov["single_sprite_fraction"],
      "score_se": _finite_or_none(_se(boot_score)),
      "assignment_purity": fit["score"],
      "assignment_purity_se": _finite_or_none(_se(boot_purity_score)),
      "assignment": assignment,
      "property_gap": property_gap,
      "effect_matrix": _nested_list(effect),
      "effect_matrix_se": _nested_list(effect_se),
      "noise_floor": [float(v) for v in floor],
      "real_effect_matrix": None if real_effect is None else _nested_list(real_effect),
      "coverage": coverage,
      "c_variance_share": with_se(share, boot_share),
      "se_method": SE_METHOD,
      "property_names": list(PROPERTY_NAMES),
      "params": {
          "c_dim": c_dim, "z_dim": z_dim, "image_size": image_size,
          "num_samples": num_samples, "num_codes": num_codes, "num_z": num_z,
          "num_bases": num_bases, "sweep_steps": sweep_steps, "num_real": num_real,
          "bootstrap": bootstrap, "num_generated": num_samples + num_sweep},
  }


def save_effect_heatmap(result: Dict[str, Any], path: str, title: Optional[str] = None) -> None:
  """Writes the effect matrix of a `compute_generator_factors` result as a PNG heat map.

  Rows are the code dimensions c0..c{C-1}, columns the properties; each cell shows its value
  (blank for None), assigned cells are outlined, and the title gives the score +- its se.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import patches  # pylint: disable=g-import-not-at-top
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  effect = np.array([[np.nan if v is None else v for v in row]
                     for row in result["effect_matrix"]], dtype=np.float64)
  names = result["property_names"]
  num_codes = effect.shape[0]
  fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2.0, 0.5 * num_codes + 1.6))
  try:
    image = ax.imshow(effect, cmap="viridis", aspect="auto", vmin=0.0)
    finite = effect[np.isfinite(effect)]
    middle = 0.5 * finite.max() if finite.size else 0.0
    for d in range(num_codes):
      for p in range(len(names)):
        if np.isfinite(effect[d, p]):
          ax.text(p, d, f"{effect[d, p]:.2f}", ha="center", va="center", fontsize=8,
                  color="black" if effect[d, p] > middle else "white")
    for entry in result["assignment"]:
      if entry["code"] >= 0:
        ax.add_patch(patches.Rectangle(
            (names.index(entry["property"]) - 0.5, entry["code"] - 0.5), 1.0, 1.0,
            fill=False, edgecolor="red", linewidth=2.0))
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(num_codes), [f"c{d}" for d in range(num_codes)])
    ax.set_xlabel("property")
    ax.set_ylabel("code dimension")
    fig.colorbar(image, ax=ax, label="effect (total variation / real E|p - p'|, - noise floor)")
    se = result.get("score_se")
    score = f"score {result['score']:.3f}" + (f" ± {se:.3f}" if se is not None else "")
    ax.set_title(score if title is None else f"{title}\n{score}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
  finally:
    plt.close(fig)
