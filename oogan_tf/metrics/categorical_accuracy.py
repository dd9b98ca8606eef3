"""Unsupervised accuracy of a categorical code against class labels (the paper's Figure 15 setup).

The categorical code was never told which category is which digit, so a category is scored
through the best one-to-one assignment of categories to classes: the assignment that maximises
the number of images whose predicted category maps to their label (the Hungarian algorithm on the
K x L count matrix), as clustering accuracy is scored for InfoGAN's MNIST code. Categories left
without a class (K > L), and classes left without a category (K < L), count as errors.

Chance: a code that ignores the image reaches the largest class frequency (one category on every
image, assigned to the largest class), about 0.10 on digits.

The standard error is a bootstrap over images: resample the (prediction, label) pairs with
replacement and redo the assignment each time.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np
from scipy import optimize

# num_samples: every digit of scikit-learn's digits, the first 10,000 of MNIST's training set.
DEFAULTS = dict(num_samples=10000, batch_size=256, bootstrap=200)


def count_matrix(predicted: np.ndarray, labels: np.ndarray, num_categories: int,
                 num_classes: int) -> np.ndarray:
  """int64 [K, L]: entry (k, l) counts the images predicted k with label l."""
  counts = np.zeros((num_categories, num_classes), np.int64)
  np.add.at(counts, (np.asarray(predicted, np.int64), np.asarray(labels, np.int64)), 1)
  return counts


def best_assignment(counts: np.ndarray) -> tuple[float, Dict[int, int]]:
  """(accuracy in [0, 1], {category: class}) of the one-to-one assignment that maximises the
  correctly labelled images, for counts int [K, L] (count_matrix)."""
  rows, cols = optimize.linear_sum_assignment(counts, maximize=True)
  total = counts.sum()
  accuracy = float(counts[rows, cols].sum() / total) if total else 0.0
  return accuracy, {int(k): int(l) for k, l in zip(rows, cols)}


def unsupervised_accuracy(predicted: np.ndarray, labels: np.ndarray, num_categories: int,
                          num_classes: int, bootstrap: int = 0,
                          seed: int = 0) -> Dict[str, Any]:
  """Best one-to-one accuracy of predicted categories against labels.

  Args:
    predicted: int [N], categories in [0, num_categories).
    labels: int [N], classes in [0, num_classes).
    bootstrap: resamples for the standard error (0: no standard error).
    seed: seed of the bootstrap's RandomState.
  Returns: {"accuracy", "accuracy_se" (None without bootstrap), "chance" (largest class
    frequency), "assignment" [[category, class], ...], "categories_used" (distinct predictions),
    "num_samples", "se_method"}.
  Raises: ValueError for mismatched lengths, no samples, or values out of range.
  """
  predicted = np.asarray(predicted, np.int64).reshape(-1)
  labels = np.asarray(labels, np.int64).reshape(-1)
  if len(predicted) != len(labels) or not len(labels):
    raise ValueError(f"need as many predictions as labels (> 0); got {len(predicted)} "
                     f"predictions and {len(labels)} labels")
  for name, values, bound in (("predicted", predicted, num_categories),
                              ("labels", labels, num_classes)):
    if values.min() < 0 or values.max() >= bound:
      raise ValueError(f"{name} must be in [0, {bound}); got [{values.min()}, {values.max()}]")
  accuracy, assignment = best_assignment(
      count_matrix(predicted, labels, num_categories, num_classes))
  se = None
  if bootstrap > 0:
    rs = np.random.RandomState(seed)
    draws = []
    for _ in range(bootstrap):
      idx = rs.randint(0, len(labels), len(labels))
      draws.append(best_assignment(
          count_matrix(predicted[idx], labels[idx], num_categories, num_classes))[0])
    se = float(np.std(draws, ddof=1))
  chance = float(np.bincount(labels, minlength=num_classes).max() / len(labels))
  return {"accuracy": accuracy, "accuracy_se": se, "chance": chance,
          # A list of [category, class] pairs, not numbers under names: it is a diagnostic,
          # and the tables average every named number over untrained inits.
          "assignment": [[k, assignment[k]] for k in sorted(assignment)],
          "categories_used": int(len(np.unique(predicted))), "num_samples": int(len(labels)),
          "se_method": f"bootstrap over images ({bootstrap} resamples, assignment refitted)"
                       if bootstrap else "none"}


def compute_categorical_accuracy(category_fn: Callable[[np.ndarray], np.ndarray],
                                 images: np.ndarray, labels: np.ndarray, num_categories: int,
                                 num_classes: int, batch_size: int = 256, bootstrap: int = 200,
                                 seed: int = 0,
                                 progress: Optional[Callable[[str, int, int], None]] = None
                                 ) -> Dict[str, Any]:
  """Encodes labelled images and scores the predicted categories (unsupervised_accuracy).

  Args:
    category_fn: images float32 [n, S, S, ch] in [-1, 1] -> category probabilities [n, K].
    images: float32 [N, S, S, ch] in [-1, 1]; labels: int [N] in [0, num_classes).
  Returns: unsupervised_accuracy's dict plus "category_histogram" (images per category).
  """
  predicted = []
  for start in range(0, len(images), batch_size):
    probabilities = np.asarray(category_fn(images[start:start + batch_size]))
    predicted.append(np.argmax(probabilities, axis=-1))
    if progress:
      progress("categorical_accuracy", min(start + batch_size, len(images)), len(images))
  predicted = np.concatenate(predicted)
  result = unsupervised_accuracy(predicted, labels, num_categories, num_classes,
                                 bootstrap=bootstrap, seed=seed)
  result["category_histogram"] = np.bincount(predicted, minlength=num_categories).tolist()
  return result
