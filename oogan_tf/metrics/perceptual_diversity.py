"""Perceptual diversity (OOGAN paper Algorithm 2; reference-notes section 10).

Per trial: z ~ N(0, I)^[B, Z], c ~ U(lo, hi)^[B, C]; per sample a ~ U{0..C-1},
b = (a + U{1..C-1}) mod C (so b != a); c1 = c with c_a = lo, c_b = hi; c2 = c with c_a = hi,
c_b = lo (z and the other dims shared).  Score = mean |VGG(G(c1, z)) - VGG(G(c2, z))| over
batch, channels and space, with VGG16's whole conv stack (after pool5) as the feature
network.  Images go into VGG as generated, in [-1, 1]: no ImageNet normalisation, no resize.
Report mean and std (ddof 0) over the trials.

The VGG16 weights must come from a local file (ImageNet no-top weights or a user's
fine-tuned file).  Nothing is downloaded, and there is no random-weights fallback.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from oogan_tf.metrics import _utils

GenerateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _missing_weights_error(detail: str) -> ValueError:
  return ValueError(
      "perceptual_diversity needs a local VGG16 weights file (vgg_weights=PATH: ImageNet "
      "'..._notop.h5' or a fine-tuned '*.weights.h5' compatible with "
      "keras.applications.VGG16(include_top=False)); nothing is downloaded and no "
      f"random-weights score is computed. {detail}")


def build_vgg16_features(weights_path: Union[str, os.PathLike], image_shape: Tuple[int, int]):
  """Builds keras VGG16 (include_top=False, weights=None) for `[H, W, 3]` and loads weights.

  Args:
    weights_path: existing local weights file.
    image_shape: (H, W), each >= 32.

  Returns:
    a keras.Model mapping float32 `[B, H, W, 3]` to pool5 features `[B, H/32, W/32, 512]`.
  """
  if weights_path is None:
    raise _missing_weights_error("Got vgg_weights=None.")
  path = os.fspath(weights_path)
  if not os.path.isfile(path):
    raise _missing_weights_error(f"File not found: {path!r}.")
  h, w = image_shape
  if h < 32 or w < 32:
    raise ValueError(f"VGG16 needs images of at least 32x32, got {h}x{w}.")
  import keras  # deferred: the other metrics do not need TensorFlow.

  model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(h, w, 3))
  model.load_weights(path)
  return model


def _check_images(images: Any, batch: int) -> np.ndarray:
  x = np.asarray(images)
  if x.ndim != 4 or x.shape[0] != batch or x.shape[-1] != 3:
    raise ValueError(
        f"generate must return float images [B, H, W, 3] with B = {batch}, got shape {x.shape}.")
  x = x.astype(np.float32)
  if not np.all(np.isfinite(x)):
    raise ValueError("generate returned non-finite pixel values.")
  if x.min() < -1.001 or x.max() > 1.001:
    raise ValueError(
        f"generate must return images in [-1, 1], got range [{x.min():.4g}, {x.max():.4g}].")
  return x


def compute_perceptual_diversity(generate: GenerateFn, c_dim: int, z_dim: int,
                                 vgg_weights: Union[str, os.PathLike, None], *,
                                 trials: int = 1000, batch_size: int = 100,
                                 code_range: Sequence[float] = (-1.0, 1.0), seed: int = 0,
                                 feature_model: Any = None,
                                 progress: Optional[_utils.ProgressFn] = None) -> Dict[str, Any]:
  """Computes the perceptual-diversity metric.

  Args:
    generate: `generate(c, z)` with c float32 `[B, c_dim]`, z float32 `[B, z_dim]` ->
      images float32 `[B, H, W, 3]` in [-1, 1], H, W >= 32.  Run G in inference mode
      (EMA weights, BN running statistics) as the paper's script does.
    c_dim: number of continuous codes C >= 2.
    z_dim: noise size Z >= 0.
    vgg_weights: path of a local VGG16 weights file (required; see module docstring).
    trials: number of trials (paper 1,000), >= 1.
    batch_size: pairs per trial (paper 100), >= 1.
    code_range: (lo, hi) with lo < hi; c ~ U(lo, hi) and the swapped extremes are lo / hi
      (paper script (-1, 1); OOGAN trains on U(0, 1)).
    seed: seed of the np.random.RandomState for z, c, a and b.
    feature_model: optional prebuilt feature keras.Model (then vgg_weights is not read);
      for reuse across calls.
    progress: optional hook `progress(stage, done, total)`.

  Returns:
    dict: `mean`, `std` (floats, over trials), `trials`, `batch_size`, `num_pairs`
    (floats), `code_range_low`, `code_range_high` (floats).

  Raises:
    ValueError: bad arguments, or no / missing weights file.
  """
  if not callable(generate):
    raise ValueError(
        f"generate must be a callable (c, z) -> images, got {type(generate).__name__}.")
  c_dim = _utils.check_int("c_dim", c_dim, 2)
  z_dim = _utils.check_int("z_dim", z_dim, 0)
  trials = _utils.check_int("trials", trials, 1)
  batch_size = _utils.check_int("batch_size", batch_size, 1)
  try:
    lo, hi = (float(v) for v in code_range)
  except (TypeError, ValueError):
    raise ValueError(f"code_range must be a pair (low, high), got {code_range!r}.") from None
  if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
    raise ValueError(f"code_range must be finite with low < high, got {code_range!r}.")
  if feature_model is None:
    if vgg_weights is None:
      raise _missing_weights_error("Got vgg_weights=None.")
    if not os.path.isfile(os.fspath(vgg_weights)):
      raise _missing_weights_error(f"File not found: {os.fspath(vgg_weights)!r}.")

  rs = np.random.RandomState(_utils.check_int("seed", seed, 0))
  rows = np.arange(batch_size)
  scores = []
  for t in range(trials):
    z = rs.randn(batch_size, z_dim).astype(np.float32)
    c = rs.uniform(lo, hi, size=(batch_size, c_dim)).astype(np.float32)
    a = rs.randint(c_dim, size=batch_size)
    b = (a + rs.randint(1, c_dim, size=batch_size)) % c_dim
    c1, c2 = c.copy(), c.copy()
    c1[rows, a], c1[rows, b] = lo, hi
    c2[rows, a], c2[rows, b] = hi, lo
    x1 = _check_images(generate(c1, z), batch_size)
    x2 = _check_images(generate(c2, z), batch_size)
    if x1.shape != x2.shape:
      raise ValueError(f"generate returned shapes {x1.shape} and {x2.shape} in one trial.")
    if feature_model is None:
      feature_model = build_vgg16_features(vgg_weights, x1.shape[1:3])
    feats = np.asarray(feature_model(np.concatenate([x1, x2], axis=0), training=False))
    scores.append(float(np.mean(np.abs(feats[:batch_size] - feats[batch_size:]))))
    if progress is not None:
      progress("perceptual_diversity", t + 1, trials)
  scores = np.asarray(scores)
  return {
      "mean": float(scores.mean()), "std": float(scores.std()), "trials": float(trials),
      "batch_size": float(batch_size), "num_pairs": float(trials * batch_size),
      "code_range_low": lo, "code_range_high": hi,
  }
