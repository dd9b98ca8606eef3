"""A representation function that encodes each image of a finite dataset at most once.

The dSprites grid has 737,280 images, and the full disentanglement_lib protocol draws about
2.95 million (FactorVAE and BetaVAE repeat many), so most encodings repeat.  `CodeCache`
remembers the code of every dataset row it has encoded, keyed by the row's index, and encodes
only the rows it has not seen, in large batches.  The metrics reach it through
`_utils.represent_factors`; called on images it is the wrapped function unchanged.

Only for deterministic representations (a trained encoder in inference mode): a function that
draws noise per call would return the same code for a repeated image instead of a new draw.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from oogan_tf.metrics import _utils


class CodeCache:
  """Codes of a ground truth's observations, encoded once per dataset row.

  Args:
    ground_truth: deterministic GroundTruthData with `num_observations` (int) and
      `observation_index(factors int [N, F]) -> int64 [N]` in [0, num_observations).
    representation_fn: float32 images `[N, H, W, C]` in [-1, 1] -> codes `[N, D]`;
      deterministic.
    batch_size: rows rendered and encoded per call for rows not yet seen, >= 1.

  Attributes:
    stats: {"lookups": codes returned, "encoded": rows encoded} (ints).
  """

  def __init__(self, ground_truth: Any, representation_fn: _utils.RepresentationFn,
               batch_size: int = _utils.DEFERRED_IMAGES):
    if not supports(ground_truth):
      raise ValueError(
          f"CodeCache needs a deterministic ground truth with num_observations and "
          f"observation_index; {type(ground_truth).__name__} has not.")
    _utils.check_representation_fn(representation_fn)
    self._ground_truth = ground_truth
    self._fn = representation_fn
    self._batch_size = _utils.check_int("batch_size", batch_size)
    self._codes = None  # float64 [num_observations, D] once D is known
    self._known = np.zeros(int(ground_truth.num_observations), dtype=bool)
    self.stats: Dict[str, int] = {"lookups": 0, "encoded": 0}

  def __call__(self, observations: np.ndarray) -> np.ndarray:
    """Images in, codes out: the wrapped representation, uncached."""
    return self._fn(observations)

  def codes_of_factors(self, factors: np.ndarray) -> np.ndarray:
    """Codes float64 `[N, D]` of the observations of `factors` (int `[N, F]`)."""
    factors = np.asarray(factors)
    index = np.asarray(self._ground_truth.observation_index(factors), dtype=np.int64)
    unique, first = np.unique(index, return_index=True)
    new = ~self._known[unique]
    if new.any():
      self._encode(unique[new], factors[first[new]])
    self.stats["lookups"] += len(index)
    return self._codes[index]

  def _encode(self, rows: np.ndarray, factors: np.ndarray) -> None:
    # The ground truth is deterministic, so its random state is never drawn from.
    unused = np.random.RandomState(0)
    for start in range(0, len(rows), self._batch_size):
      part = factors[start:start + self._batch_size]
      obs = self._ground_truth.sample_observations_from_factors(part, unused)
      width = None if self._codes is None else self._codes.shape[1]
      codes = _utils.represent(self._fn, np.asarray(obs), width)
      if self._codes is None:
        self._codes = np.zeros((len(self._known), codes.shape[1]), dtype=np.float64)
      self._codes[rows[start:start + self._batch_size]] = codes
      self._known[rows[start:start + self._batch_size]] = True
      self.stats["encoded"] += len(part)


def supports(ground_truth: Any) -> bool:
  """Whether `ground_truth` can back a CodeCache (deterministic, with row indices)."""
  return (_utils.deterministic(ground_truth)
          and isinstance(getattr(ground_truth, "num_observations", None), int)
          and callable(getattr(ground_truth, "observation_index", None)))
