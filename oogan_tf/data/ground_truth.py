"""The ground-truth interface the disentanglement metrics consume (disentanglement_lib's
GroundTruthData): factor classes, and observations rendered or looked up from them.

A subclass sets `factor_names`, `factor_sizes`, `num_factors`, `observation_shape` and implements
`sample_observations_from_factors`; `sample_factors` defaults to independent uniform classes
and `sample` draws factors, then their observations.
"""

from __future__ import annotations

import numpy as np


class GroundTruthBase:
  """Base of every ground-truth dataset (rendered dSprites, tfds splits, the metrics' test fake).

  Attributes (set by subclasses): factor_names tuple[str]; factor_sizes tuple[int] (classes
  per factor); num_factors int; observation_shape (H, W, C).
  """

  factor_sizes: tuple[int, ...] = ()

  def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
    """Independent uniform factor classes: int64 [num, F]."""
    return np.stack([random_state.randint(size, size=num) for size in self.factor_sizes],
                    axis=1).astype(np.int64)

  def sample_observations_from_factors(self, factors: np.ndarray,
                                       random_state: np.random.RandomState) -> np.ndarray:
    """Observations float32 [num, H, W, C] of factor classes int [num, F]."""
    raise NotImplementedError

  def sample(self, num: int, random_state: np.random.RandomState):
    """(factors int64 [num, F], observations float32 [num, H, W, C]): factors first, then their
    observations, both from random_state."""
    factors = self.sample_factors(num, random_state)
    return factors, self.sample_observations_from_factors(factors, random_state)
