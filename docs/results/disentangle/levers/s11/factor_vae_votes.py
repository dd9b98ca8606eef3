"""Diagnostic behind RESULTS.md's vote matrices (eleventh session), kept beside the results.

Runs the FactorVAE metric (gan_papers protocol, 800 votes, 10,000 images for the variances) on an
export and prints which code dimension each vote chose per fixed factor (rows: shape, scale,
orientation, x, y; columns: code dimensions), then the mean variance ratio of every dimension per
fixed factor (1 = the factor does not move that dimension on real images; near 0 = the dimension
reads that factor alone). Usage: python factor_vae_votes.py EXPORT_DIR
"""
import sys

import numpy as np

from oogan_tf import evaluate_lib
from oogan_tf.metrics import factor_vae

_ratios = []
_votes = {}
_vote_dim = factor_vae._vote_dim  # pylint: disable=protected-access
_collect = factor_vae._votes  # pylint: disable=protected-access


def _recording_vote_dim(codes, global_variances, active):
  _ratios.append(np.var(codes, axis=0, ddof=1) / global_variances)
  return _vote_dim(codes, global_variances, active)


def _recording_votes(*args, **kwargs):
  _votes["factor"], _votes["dim"] = _collect(*args, **kwargs)
  return _votes["factor"], _votes["dim"]


factor_vae._vote_dim = _recording_vote_dim  # pylint: disable=protected-access
factor_vae._votes = _recording_votes  # pylint: disable=protected-access
result = evaluate_lib.evaluate_export(
    sys.argv[1], "factor_vae", protocol="gan_papers",
    sizes={"factor_vae": {"num_train": 800, "num_variance_estimate": 10000}})
print("FactorVAE", result["results"]["factor_vae"]["eval_accuracy"])
factor, dim = _votes["factor"], _votes["dim"]
matrix = np.zeros((factor.max() + 1, dim.max() + 1), int)
np.add.at(matrix, (factor, dim), 1)
print("votes (fixed factor x chosen dimension)\n", matrix)
ratios = np.array(_ratios)
for k in range(matrix.shape[0]):
  print(k, np.round(ratios[factor == k].mean(0), 2))
