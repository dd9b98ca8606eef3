"""A tiny fake ground-truth dataset for metric tests (observations = the factors themselves).

`EncodedFactorsGroundTruth` implements the GroundTruthData interface; its observation of
factor vector f is a float32 `[1, F, 1]` image whose pixel k is f_k rescaled to [-1, 1], so
`identity_representation` recovers the factors exactly (up to an affine map per factor).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from oogan_tf.data.ground_truth import GroundTruthBase


class EncodedFactorsGroundTruth(GroundTruthBase):
  """Fake GroundTruthData whose observations encode the factor values directly."""

  def __init__(self, factor_sizes: Sequence[int] = (3, 4, 5, 6),
               factor_names: Optional[Sequence[str]] = None):
    sizes = tuple(int(s) for s in factor_sizes)
    if not sizes or min(sizes) < 1:
      raise ValueError(
          f"factor_sizes must be a non-empty sequence of ints >= 1, got {factor_sizes!r}.")
    self.factor_sizes: Tuple[int, ...] = sizes
    self.factor_names: Tuple[str, ...] = tuple(
        factor_names if factor_names is not None else (f"factor_{i}" for i in range(len(sizes))))
    if len(self.factor_names) != len(sizes):
      raise ValueError("factor_names and factor_sizes must have the same length.")
    self.num_factors = len(sizes)
    self.observation_shape = (1, len(sizes), 1)
    self.num_observations = int(np.prod(sizes))

  # Observations are a function of the factors: metrics may batch their draws (CodeCache too).
  deterministic_observations = True

  def observation_index(self, factors: np.ndarray) -> np.ndarray:
    """Row-major index of each factor combination int [N, F]: int64 [N]."""
    return np.ravel_multi_index(np.asarray(factors, np.int64).T, self.factor_sizes).astype(np.int64)

  def sample_observations_from_factors(self, factors: np.ndarray,
                                       random_state: np.random.RandomState) -> np.ndarray:
    del random_state  # deterministic rendering
    f = np.asarray(factors, dtype=np.float32)
    denom = np.maximum(np.asarray(self.factor_sizes, np.float32) - 1.0, 1.0)
    x = 2.0 * f / denom - 1.0
    return x.reshape(f.shape[0], 1, self.num_factors, 1).astype(np.float32)


def identity_representation(observations: np.ndarray) -> np.ndarray:
  """Flattens `[N, 1, F, 1]` observations to codes `[N, F]` (the perfect representation)."""
  x = np.asarray(observations, dtype=np.float32)
  return x.reshape(x.shape[0], -1)
