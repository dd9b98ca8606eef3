"""Image fidelity for any dataset: FID and KID on InceptionV3 pool features.

FID (Heusel et al. 2017): the Fréchet distance between Gaussian fits of the real and the
generated features, ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)).
KID (Bińkowski et al. 2018): the unbiased estimate of MMD^2 between the feature sets with the
cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

Features are `keras.applications.InceptionV3(include_top=False, pooling="avg")` outputs
(2048-D) of the images resized (bilinear) to 299x299; the images are already in [-1, 1], the
range Inception's preprocessing produces, and greyscale is repeated to 3 channels. The weights
come from a local file (`resolve_inception_weights`); nothing is downloaded. Every function that
needs features takes a `feature_fn`, so any network (a random one in tests) can stand in.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

import numpy as np

from oogan_tf.metrics import _utils

# feature_fn(images float32 [N, H, W, C] in [-1, 1], C in {1, 3}) -> features float [N, D].
FeatureFn = Callable[[np.ndarray], np.ndarray]

FIDELITY_METRICS = ("fid", "kid")
INCEPTION_SIZE = 299
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
# 10k images per side is the usual FID setting (its bias falls with the sample size); KID's
# 100 subsets of 1,000 follow Bińkowski et al.
DEFAULTS = dict(num_samples=10_000, batch_size=50, kid_subset_size=1000, kid_subsets=100)
# Imaginary parts of sqrtm(S_r S_g) up to this (relative to the largest eigenvalue) are
# round-off of a product of two PSD matrices, whose square root is real in exact arithmetic.
_IMAG_TOLERANCE = 1e-3


class InceptionWeightsError(ValueError):
  """No usable InceptionV3 weights file; the message says where one is looked for."""


def keras_cache_path() -> str:
  """Where Keras itself caches the InceptionV3 no-top weights ($KERAS_HOME or ~/.keras)."""
  home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
  return os.path.join(home, "models", INCEPTION_WEIGHTS_FILE)


def resolve_inception_weights(path: Optional[str]) -> str:
  """The InceptionV3 weights file to use: `path` if given, else Keras' cache file.

  Raises:
    InceptionWeightsError: `path` is not a file, or no path was given and the cache has none.
  """
  if path:
    if not os.path.isfile(path):
      raise InceptionWeightsError(
          f"--inception_weights={path!r} is not a file; give the local "
          f"{INCEPTION_WEIGHTS_FILE} (keras.applications.InceptionV3 include_top=False)")
    return path
  cached = keras_cache_path()
  if not os.path.isfile(cached):
    raise InceptionWeightsError(
        f"fid/kid need InceptionV3 weights: pass --inception_weights=PATH or place "
        f"{INCEPTION_WEIGHTS_FILE} in {os.path.dirname(cached)} (nothing is downloaded)")
  return cached


def inception_input(images: Any):
  """float32 [N, H, W, C] in [-1, 1], C in {1, 3} -> tf float32 [N, 299, 299, 3] in [-1, 1]."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  x = tf.convert_to_tensor(images, tf.float32)
  if x.shape[-1] == 1:
    x = tf.repeat(x, 3, axis=-1)
  # Bilinear interpolation stays within the range of its inputs.
  return tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")


def keras_feature_fn(model: Any) -> FeatureFn:
  """A FeatureFn running `model` (299x299x3 input, [N, D] output) on resized images."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.function(reduce_retracing=True)
  def features(x):
    return model(inception_input(x), training=False)

  return lambda images: features(np.asarray(images, np.float32)).numpy()


def inception_feature_fn(weights_path: str) -> FeatureFn:
  """The InceptionV3 pool-feature FeatureFn (2048-D float32) with weights from a local file.

  Raises:
    InceptionWeightsError: the file does not hold InceptionV3 include_top=False weights.
  """
  import keras  # pylint: disable=g-import-not-at-top
  model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None,
                                         input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
  try:
    model.load_weights(weights_path)
  except (ValueError, OSError) as e:
    raise InceptionWeightsError(
        f"--inception_weights={weights_path!r} cannot be loaded into "
        f"InceptionV3(include_top=False): {str(e).splitlines()[0]}") from None
  return keras_feature_fn(model)


def extract_features(batches: Iterable[np.ndarray], feature_fn: FeatureFn, num_samples: int,
                     progress: Optional[_utils.ProgressFn] = None,
                     stage: str = "features") -> np.ndarray:
  """Features of the first `num_samples` images of `batches` (float32 [b, H, W, C], [-1, 1]).

  Returns float64 [num_samples, D]. Raises ValueError when the batches run out early or hold
  images outside [-1, 1] (a [0, 1] or [0, 255] image would shift every feature).
  """
  out, done = [], 0
  for batch in batches:
    x = np.asarray(batch, np.float32)[:num_samples - done]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
      raise ValueError(f"{stage}: images must be [N, H, W, 1 or 3], got shape {x.shape}")
    if x.size and (x.min() < -1.001 or x.max() > 1.001):
      raise ValueError(f"{stage}: images must be in [-1, 1], got range "
                       f"[{x.min():.4g}, {x.max():.4g}]")
    out.append(np.asarray(feature_fn(x), np.float64))
    done += x.shape[0]
    if progress is not None:
      progress(stage, done, num_samples)
    if done >= num_samples:
      return np.concatenate(out, axis=0)
  raise ValueError(f"{stage}: only {done} images available, {num_samples} needed")


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)) for means [D], covs [D, D].

  Raises ValueError when sqrtm's imaginary part is more than round-off (not PSD inputs).
  """
  from scipy import linalg  # pylint: disable=g-import-not-at-top
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  with warnings.catch_warnings():
    warnings.simplefilter("error", linalg.LinAlgWarning)
    try:
      root = linalg.sqrtm(sigma1 @ sigma2)
      singular = not np.all(np.isfinite(root))
    except linalg.LinAlgWarning:
      singular = True
  if singular:
    # A singular product (fewer samples than dimensions, constant features) makes sqrtm
    # inaccurate; a tiny ridge moves the eigenvalues off zero and the trace by O(eps).
    eps = 1e-6 * max(np.trace(sigma1), np.trace(sigma2), 1e-12) / len(sigma1)
    ridge = eps * np.eye(len(sigma1))
    root = linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
  if np.iscomplexobj(root):
    scale = max(np.abs(root).max(), 1e-12)
    if np.abs(root.imag).max() > _IMAG_TOLERANCE * scale:
      raise ValueError(f"sqrtm(sigma1 sigma2) has a large imaginary part "
                       f"({np.abs(root.imag).max():.3g}); are both covariances PSD?")
    root = root.real
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(root))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
  """FID of two feature sets [N, D] and [M, D] (N, M >= 2), unbiased covariances."""
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  return frechet_distance(real.mean(0), np.cov(real, rowvar=False),
                          fake.mean(0), np.cov(fake, rowvar=False))


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """(x y^T / d + 1)^3 for x [N, d], y [M, d] -> [N, M]."""
  k = x @ y.T / x.shape[1] + 1.0
  return k * k * k  # a third of the time of k ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """The unbiased MMD^2 estimate (polynomial kernel) of samples x [m, d] and y [n, d]."""
  m, n = len(x), len(y)
  kxx, kyy = polynomial_kernel(x, x), polynomial_kernel(y, y)
  return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
               + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
               - 2.0 * polynomial_kernel(x, y).mean())


def kid_from_features(real: np.ndarray, fake: np.ndarray, subset_size: int = 1000,
                      num_subsets: int = 100, seed: int = 0) -> Dict[str, float]:
  """KID: the mean of mmd2_unbiased over `num_subsets` random subset pairs.

  Each subset holds m = min(subset_size, N // 2, M // 2) features drawn without replacement
  (every subset size gives an unbiased estimate; at most half of each set keeps at least two
  disjoint subsets). Overlapping subsets carry about as much information as the
  min(N, M) // m disjoint ones, so kid_se = std over subsets / sqrt(min(N, M) // m).

  Returns {"kid", "kid_se", "kid_std" (over subsets), "subset_size", "num_subsets"} (floats).
  """
  real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
  m = min(_utils.check_int("subset_size", subset_size, 2), len(real) // 2, len(fake) // 2)
  if m < 2:
    raise ValueError(f"KID needs at least 4 real and 4 generated images, got {len(real)} and "
                     f"{len(fake)}")
  num_subsets = _utils.check_int("num_subsets", num_subsets, 1)
  rs = np.random.RandomState(_utils.check_int("seed", seed, 0))
  values = np.asarray([
      mmd2_unbiased(real[rs.choice(len(real), m, replace=False)],
                    fake[rs.choice(len(fake), m, replace=False)])
      for _ in range(num_subsets)])
  disjoint = min(len(real), len(fake)) // m
  return {"kid": float(values.mean()), "kid_se": float(values.std() / np.sqrt(disjoint)),
          "kid_std": float(values.std()), "subset_size": float(m),
          "num_subsets": float(num_subsets)}


def compute_fidelity(names: Sequence[str], real_batches: Iterable[np.ndarray],
                     fake_batches: Iterable[np.ndarray], feature_fn: FeatureFn, *,
                     num_samples: int = DEFAULTS["num_samples"],
                     kid_subset_size: int = DEFAULTS["kid_subset_size"],
                     kid_subsets: int = DEFAULTS["kid_subsets"], seed: int = 0,
                     progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Dict[str, Any]]:
  """FID and / or KID of generated against real images.

  Args:
    names: a subset of FIDELITY_METRICS.
    real_batches, fake_batches: iterables of float32 [b, H, W, C] images in [-1, 1]
      (C in {1, 3}); the first `num_samples` images of each are used.
    feature_fn: see FeatureFn (inception_feature_fn, or any stand-in).
    num_samples: images per side, >= 4.
    kid_subset_size, kid_subsets, seed: see kid_from_features.
    progress: optional hook progress(stage, done, total).

  Returns:
    {"fid": {"fid", "fid_se" (None: no cheap standard error), "num_real", "num_fake",
    "feature_dim"}, "kid": kid_from_features(...) plus the same counts}, for the names asked.
  """
  unknown = [n for n in names if n not in FIDELITY_METRICS]
  if unknown:
    raise ValueError(f"unknown fidelity metric(s) {unknown}; valid: {FIDELITY_METRICS}")
  num_samples = _utils.check_int("num_samples", num_samples, 4)
  real = extract_features(real_batches, feature_fn, num_samples, progress, "fid/kid real")
  fake = extract_features(fake_batches, feature_fn, num_samples, progress, "fid/kid generated")
  counts = {"num_real": float(len(real)), "num_fake": float(len(fake)),
            "feature_dim": float(real.shape[1])}
  results: Dict[str, Dict[str, Any]] = {}
  if "fid" in names:
    results["fid"] = {"fid": fid_from_features(real, fake), "fid_se": None,
                      "se_method": "none (FID is biased in the sample size; compare at equal "
                                   "num_samples, or use KID)", **counts}
  if "kid" in names:
    results["kid"] = dict(kid_from_features(real, fake, kid_subset_size, kid_subsets, seed),
                          se_method="std over subsets / sqrt(number of disjoint subsets)",
                          **counts)
  return results
