"""ModelCentrality (Lin et al., "InfoGAN-CR and ModelCentrality", ICML 2020): choosing one of
several trained models of the same data without labels.

Every model has a generator G(c, z) and an encoder Q (image -> predicted codes c). Model j's
generator serves as a ground-truth dataset whose factors are its latent codes c (each code cut
into `levels` classes; the noise z is a nuisance, drawn afresh per image): `GeneratorGroundTruth`.
Model i's encoder is scored on it with the FactorVAE score (metrics.factor_vae, run by
metrics.evaluation.evaluate_representation, not re-implemented here):

    S[i, j] = FactorVAE score of encoder i on generator j            (`pairwise_scores`)
    centrality(i) = mean over j != i of (S[i, j] + S[j, i]) / 2       (`centrality`)

and the most central model is the one chosen (`ranking`). The diagonal S[i, i] is a model's
self-consistency: reported, but left out of the centrality, since a model that disentangles in a
way of its own agrees with itself as well as one that disentangles the data's factors. The
paper's argument is that well-disentangled models agree with each other (they find the same
factors, up to a permutation of the codes, which the FactorVAE score ignores), while each badly
disentangled one is entangled in its own way. Nothing here reads labels or a model's evaluation
results.

No TensorFlow here: generators and encoders are plain functions (oogan_tf.export_adapters makes
them of an export; the entry point is python -m oogan_tf.model_centrality).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np

from oogan_tf.data.ground_truth import GroundTruthBase
from oogan_tf.export_format import CODE_RANGE
from oogan_tf.metrics import _utils
from oogan_tf.metrics import evaluation
from oogan_tf.metrics import factor_vae

# generate(c float32 [N, C], z float32 [N, Z]) -> images float32 [N, S, S, ch] in [-1, 1].
GenerateFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
# on_score(i, j, result): result is evaluate_representation's factor_vae entry of S[i, j].
ScoreHook = Callable[[int, int, Dict[str, Any]], None]

DEFAULT_LEVELS = 10
DEFAULT_PROTOCOL = "gan_papers"  # the paper's FactorVAE protocol
SCORE_KEY = "eval_accuracy"  # factor_vae's reported score (gan_papers: on the training votes)


class GeneratorGroundTruth(GroundTruthBase):
  """A generator as a ground-truth dataset: factor k is code c_k, quantised to `levels` classes.

  Class m of a factor stands for the code value at the centre of bin m of `levels` equal bins of
  `code_range`: low + (m + 0.5) * (high - low) / levels. Observations are generate(c, z) with
  z ~ N(0, I) [N, z_dim] drawn from the random state the metric passes in (one draw of
  standard_normal per call), so a seed fixes every image.

  Because z is drawn per observation, independently of the factors (`iid_nuisance`), the metrics
  may defer their draws and render thousands of images per call (_utils.deferrable); `generate`
  is then called in chunks of `batch_size`.

  Args:
    generate: c float32 [N, c_dim] in code_range, z float32 [N, z_dim] -> images float32
      [N, *observation_shape] in [-1, 1].
    c_dim: codes (factors), >= 1.
    z_dim: noise dimensions, >= 0.
    observation_shape: (S, S, ch) of the images.
    levels: classes per factor, >= 2.
    code_range: (low, high), low < high: the range the generator's codes are drawn from in
      training (export_format.CODE_RANGE for an oogan_tf export; its metadata records it).
    batch_size: images per generate call, >= 1.
  """

  # Nuisance z is i.i.d. and independent of the factors: deferring draws keeps the scores'
  # distribution (not the exact images of one call per batch); see _utils.deferrable.
  iid_nuisance = True

  def __init__(self, generate: GenerateFn, c_dim: int, z_dim: int,
               observation_shape: Sequence[int], *, levels: int = DEFAULT_LEVELS,
               code_range: Sequence[float] = CODE_RANGE, batch_size: int = 512):
    if not callable(generate):
      raise ValueError(f"generate must be callable (c, z) -> images, got "
                       f"{type(generate).__name__}.")
    self._generate = generate
    self.c_dim = _utils.check_int("c_dim", c_dim, 1)
    self.z_dim = _utils.check_int("z_dim", z_dim, 0)
    self.levels = _utils.check_int("levels", levels, 2)
    self.batch_size = _utils.check_int("batch_size", batch_size, 1)
    shape = tuple(observation_shape)
    if len(shape) != 3 or not all(isinstance(s, numbers.Integral) and s >= 1 for s in shape):
      raise ValueError(f"observation_shape must be (S, S, ch) of ints >= 1, got "
                       f"{observation_shape!r}.")
    self.observation_shape = tuple(int(s) for s in shape)
    if len(code_range) != 2:
      raise ValueError(f"code_range must be (low, high), got {code_range!r}.")
    low = _utils.check_float("code_range[0]", code_range[0])
    high = _utils.check_float("code_range[1]", code_range[1])
    if not low < high:
      raise ValueError(f"code_range must have low < high, got {code_range!r}.")
    self.code_range = (low, high)
    self.factor_sizes = (self.levels,) * self.c_dim
    self.factor_names = tuple(f"c{k}" for k in range(self.c_dim))
    self.num_factors = self.c_dim

  def code_values(self, factors: np.ndarray) -> np.ndarray:
    """The codes float32 [N, c_dim] of factor classes int [N, c_dim] in [0, levels)."""
    f = np.asarray(factors)
    if f.ndim != 2 or f.shape[1] != self.c_dim:
      raise ValueError(f"factors must have shape [N, {self.c_dim}], got {f.shape}.")
    if f.size and (f.min() < 0 or f.max() >= self.levels):
      raise ValueError(f"factor classes must be in [0, {self.levels}), got values in "
                       f"[{f.min()}, {f.max()}].")
    low, high = self.code_range
    return (low + (f.astype(np.float64) + 0.5) * ((high - low) / self.levels)).astype(np.float32)

  def sample_observations_from_factors(self, factors: np.ndarray,
                                       random_state: np.random.RandomState) -> np.ndarray:
    """Images float32 [N, *observation_shape] in [-1, 1] of factor classes int [N, c_dim]."""
    c = self.code_values(factors)
    n = c.shape[0]
    z = random_state.standard_normal((n, self.z_dim)).astype(np.float32)
    out = np.empty((n,) + self.observation_shape, np.float32)
    for start in range(0, n, self.batch_size):
      stop = min(start + self.batch_size, n)
      images = np.asarray(self._generate(c[start:stop], z[start:stop]))
      if images.shape != (stop - start,) + self.observation_shape:
        raise ValueError(f"generate returned images of shape {images.shape} for {stop - start} "
                         f"codes; expected [{stop - start}, "
                         f"{', '.join(map(str, self.observation_shape))}].")
      out[start:stop] = images
    return out


def factor_vae_params(protocol: str = DEFAULT_PROTOCOL,
                      sizes: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """The FactorVAE sizes S is computed with: the protocol's defaults with `sizes` in their place
  (factor_vae.resolve_params; e.g. {"num_train": 100}). ValueError naming an unknown or bad
  parameter or protocol. Cheap: callers validate with it before loading any model."""
  sizes = dict(sizes or {})
  if protocol not in factor_vae.PROTOCOLS:
    raise ValueError(f"protocol must be one of {factor_vae.PROTOCOLS}, got {protocol!r}.")
  valid = sorted(factor_vae.DEFAULTS[protocol])
  unknown = sorted(set(sizes) - set(valid))
  if unknown:
    raise ValueError(f"unknown FactorVAE parameter(s) {', '.join(map(repr, unknown))}; "
                     f"valid: {', '.join(valid)}.")
  return factor_vae.resolve_params(protocol, **sizes)


def pairwise_scores(generators: Sequence[Any], encoders: Sequence[_utils.RepresentationFn], *,
                    seed: int = 0, protocol: str = DEFAULT_PROTOCOL,
                    sizes: Optional[Mapping[str, Any]] = None, bootstrap: Optional[int] = None,
                    on_score: Optional[ScoreHook] = None,
                    progress: Optional[_utils.ProgressFn] = None) -> np.ndarray:
  """S[i, j]: the FactorVAE score of encoder i on generator j, diagonal included.

  Args:
    generators: N ground truths, model j's generator as a dataset (a GeneratorGroundTruth, or
      any GroundTruthData: observations float32 [n, H, W, ch] in [-1, 1]).
    encoders: N functions, images float32 [n, H, W, ch] in [-1, 1] -> codes [n, D] (model i's
      Q, e.g. its c_mean); encoder i must accept every generator's images.
    seed: every pair gets a fresh RandomState(seed), >= 0.
    protocol: FactorVAE protocol, "gan_papers" (the paper's, default) or "dlib".
    sizes: FactorVAE parameter overrides (factor_vae_params).
    bootstrap: replicates of each score's standard error (evaluate_representation's default
      when None; 0 for none).
    on_score: called as on_score(i, j, result) after each pair, result being
      evaluate_representation's factor_vae entry ("eval_accuracy", "eval_accuracy_se",
      "num_active_dims", "params", "elapsed_s", ...).
    progress: the metric's progress hook, progress(stage, done, total).

  Returns:
    float64 [N, N] in [0, 1].

  Raises:
    ValueError: N differs between generators and encoders or is 0; bad protocol or sizes; a
      generator or encoder that does not fit (the metric's message).
  """
  n = len(generators)
  if n == 0 or len(encoders) != n:
    raise ValueError(f"need one encoder per generator (N >= 1), got {n} generators and "
                     f"{len(encoders)} encoders.")
  params = factor_vae_params(protocol, sizes)
  seed = _utils.check_int("seed", seed, 0)
  scores = np.zeros((n, n), np.float64)
  # Generator-major, and the same seed for every pair: all encoders are scored on exactly the
  # same codes, noise and votes of generator j (common random numbers), so differences along a
  # column are the encoders', not the draws'.
  for j in range(n):
    for i in range(n):
      result = evaluation.evaluate_representation(
          generators[j], encoders[i], ["factor_vae"], seed=seed, protocol=protocol,
          sizes={"factor_vae": params}, bootstrap=bootstrap, progress=progress)["factor_vae"]
      scores[i, j] = result[SCORE_KEY]
      if on_score is not None:
        on_score(i, j, result)
  return scores


def _check_scores(scores: Any) -> np.ndarray:
  s = np.asarray(scores, np.float64)
  if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 2:
    raise ValueError(f"scores must be a square [N, N] matrix with N >= 2, got shape {s.shape}.")
  if not np.all(np.isfinite(s)):
    raise ValueError("scores must be finite.")
  return s


def centrality(scores: Any) -> np.ndarray:
  """Centrality float64 [N] of each model: mean over j != i of (S[i, j] + S[j, i]) / 2.

  scores: S float [N, N], N >= 2 (S[i, j]: encoder i on generator j); its diagonal is ignored.
  In [0, 1] when S is.
  """
  s = _check_scores(scores)
  n = s.shape[0]
  symmetric = (s + s.T) / 2.0
  return (symmetric.sum(axis=1) - np.diag(symmetric)) / (n - 1)


def ranking(centralities: Any) -> np.ndarray:
  """Model indices int64 [N], most central first (ties: the lower index first); the first is
  the model ModelCentrality selects."""
  c = np.asarray(centralities, np.float64)
  if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)):
    raise ValueError(f"centralities must be a finite 1-D array, got shape {c.shape}.")
  return np.argsort(-c, kind="stable").astype(np.int64)


def summary(scores: Any) -> Dict[str, Any]:
  """What a report shows of S [N, N]: {"centrality" [N], "ranking" [N] (best first),
  "selected" (index), "self_consistency" [N] (S[i, i]), "as_encoder" [N] (row means over
  j != i), "as_generator" [N] (column means over j != i)}, as lists of floats / ints."""
  s = _check_scores(scores)
  n = s.shape[0]
  off = ~np.eye(n, dtype=bool)
  c = centrality(s)
  order = ranking(c)
  return {"centrality": [float(v) for v in c], "ranking": [int(i) for i in order],
          "selected": int(order[0]), "self_consistency": [float(v) for v in np.diag(s)],
          "as_encoder": [float(v) for v in np.where(off, s, 0.0).sum(1) / (n - 1)],
          "as_generator": [float(v) for v in np.where(off, s, 0.0).sum(0) / (n - 1)]}
