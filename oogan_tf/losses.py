"""Loss functions of OOGAN: pure functions of tensors, computed in float32.

Shapes: B = batch, C = c_dim. Every function casts its inputs to float32 so that losses stay
float32 under a mixed-precision policy.
"""

from __future__ import annotations

import math
from typing import Callable

import tensorflow as tf

_LOG_2PI = math.log(2.0 * math.pi)


def _f32(x) -> tf.Tensor:
  return tf.cast(x, tf.float32)


def d_hinge_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
  """mean(relu(1 - D(x))) + mean(relu(1 + D(G(c, z)))).

  Args:
    real_scores: [B] raw D scores of real images.
    fake_scores: [B'] raw D scores of generated images.
  Returns: scalar float32 >= 0.
  """
  return (tf.reduce_mean(tf.nn.relu(1.0 - _f32(real_scores))) +
          tf.reduce_mean(tf.nn.relu(1.0 + _f32(fake_scores))))


def g_hinge_loss(fake_scores: tf.Tensor) -> tf.Tensor:
  """-mean(D(G(c, z))). fake_scores: [B]. Returns a scalar float32."""
  return -tf.reduce_mean(_f32(fake_scores))


def d_nonsaturating_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
  """The original GAN's D loss on logits: mean(softplus(-D(x))) + mean(softplus(D(G(c, z)))),
  i.e. -log sigmoid(D(x)) - log(1 - sigmoid(D(G))) (InfoGAN, InfoGAN-CR).

  Args: real_scores [B], fake_scores [B'] raw D scores (logits). Returns: scalar float32 >= 0.
  """
  return (tf.reduce_mean(tf.nn.softplus(-_f32(real_scores))) +
          tf.reduce_mean(tf.nn.softplus(_f32(fake_scores))))


def g_nonsaturating_loss(fake_scores: tf.Tensor) -> tf.Tensor:
  """mean(softplus(-D(G(c, z)))) = -log sigmoid(D(G)): the non-saturating G loss.
  fake_scores: [B] logits. Returns a scalar float32 >= 0."""
  return tf.reduce_mean(tf.nn.softplus(-_f32(fake_scores)))


ADVERSARIAL_LOSSES = {"hinge": (d_hinge_loss, g_hinge_loss),
                      "nonsaturating": (d_nonsaturating_loss, g_nonsaturating_loss)}


def gradient_penalty(score_fn: Callable[[tf.Tensor], tf.Tensor], interpolates: tf.Tensor,
                     eps: float = 1e-12, norm_scale=1.0) -> tf.Tensor:
  """mean_b (norm_scale ||d sum_b' D(x_hat)_b' / d x_hat_b||_2 - 1)^2 over whole images.

  Args:
    score_fn: maps images [B, H, W, C] to scores [B]; called once on the batch (so BatchNorm in
      training mode couples the samples, as in the reference).
    interpolates: x_hat float [B, H, W, C], usually alpha * x + (1 - alpha) * G(c, z).
    eps: added under the square root so the gradient of the norm is finite at zero.
    norm_scale: float scalar multiplying each gradient norm. When D average-pools its input by
      k x k first, k turns the norm with respect to the full-size input into the norm with
      respect to the pooled image D works on (the StyleGAN trainer's phases below full size).
  Returns: scalar float32. Differentiable with respect to score_fn's variables.
  """
  interpolates = tf.convert_to_tensor(interpolates)
  with tf.GradientTape() as tape:
    tape.watch(interpolates)
    total = tf.reduce_sum(_f32(score_fn(interpolates)))
  grads = _f32(tape.gradient(total, interpolates))
  norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=tf.range(1, tf.rank(grads))) + eps)
  norms = norms * tf.cast(norm_scale, tf.float32)
  return tf.reduce_mean(tf.square(norms - 1.0))


def gaussian_nll(c: tf.Tensor, mu: tf.Tensor, log_sigma: tf.Tensor) -> tf.Tensor:
  """Mean over batch and dims of 1/2 [(c - mu)^2 exp(-2 log_sigma) + 2 log_sigma + log 2 pi].

  Args: c, mu, log_sigma: [B, C]. log_sigma is not clamped (as in the reference).
  Returns: scalar float32.
  """
  c, mu, log_sigma = _f32(c), _f32(mu), _f32(log_sigma)
  return tf.reduce_mean(0.5 * (tf.square(c - mu) * tf.exp(-2.0 * log_sigma) +
                               2.0 * log_sigma + _LOG_2PI))


def l1_loss(c: tf.Tensor, c_hat: tf.Tensor) -> tf.Tensor:
  """mean |c_hat - c| over all elements (deterministic Q). c, c_hat: [B, C]. Scalar float32."""
  return tf.reduce_mean(tf.abs(_f32(c_hat) - _f32(c)))


def squared_loss(c: tf.Tensor, c_hat: tf.Tensor) -> tf.Tensor:
  """mean 1/2 (c_hat - c)^2 over all elements: a unit-variance Gaussian's NLL without its
  constant (a point-estimate Q, InfoGAN-CR's q_std=1). c, c_hat: [B, C]. Scalar float32."""
  return tf.reduce_mean(0.5 * tf.square(_f32(c_hat) - _f32(c)))


def code_reconstruction(c: tf.Tensor, mu: tf.Tensor, log_sigma: tf.Tensor | None,
                        point_loss: str = "l1") -> tf.Tensor:
  """Q's code reconstruction loss: the Gaussian NLL when Q predicts log_sigma [B, C], else the
  point-estimate loss `point_loss` ("l1" or "squared") of mu [B, C]. Scalar float32."""
  if log_sigma is not None:
    return gaussian_nll(c, mu, log_sigma)
  if point_loss == "squared":
    return squared_loss(c, mu)
  if point_loss == "l1":
    return l1_loss(c, mu)
  raise ValueError(f"point_loss={point_loss!r} is not allowed; use 'l1' or 'squared'")


def one_hot_cross_entropy(logits: tf.Tensor, target: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
  """weight * mean_b CE(softmax(logits_b), target_b).

  Args:
    logits: [B, C], Q's first C outputs (mu for a probabilistic Q).
    target: int [B] in [0, C) or -1 where the sample has no one-hot target.
    weight: scalar regime weight (0.2 dominant, 0.8 one-hot, 0 uniform in the reference).
  Returns: scalar float32; 0 when no sample has a target.
  """
  target = tf.cast(target, tf.int32)
  has_target = target >= 0
  ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(target, 0),
                                                      logits=_f32(logits))
  ce = tf.where(has_target, ce, 0.0)
  count = tf.reduce_sum(tf.cast(has_target, tf.float32))
  return _f32(weight) * tf.math.divide_no_nan(tf.reduce_sum(ce), count)


def categorical_cross_entropy(logits: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
  """mean_b CE(softmax(logits_b), category_b): Q's prediction of the categorical code.

  Args: logits [B, K]; category int [B] in [0, K).
  Returns: scalar float32 >= 0.
  """
  return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(category, tf.int32), logits=_f32(logits)))


def orthogonality_loss(rows: tf.Tensor) -> tf.Tensor:
  """Mean squared cosine similarity over all n x n row pairs, diagonal included.

  Args: rows: [n, d] kernels, one per row (e.g. n = C' depthwise 4x4 kernels, d = 16).
  Returns: scalar float32 in [max(1/n, 1/d)-ish, 1]: 1/n for orthonormal rows (the diagonal
  floor), 1 for identical rows. Rows are normalised without epsilon, as in the reference.
  """
  rows = _f32(rows)
  unit = rows / tf.norm(rows, axis=1, keepdims=True)
  cos = tf.matmul(unit, unit, transpose_b=True)
  return tf.reduce_mean(tf.square(cos))


def jacobian_orthogonality(columns: tf.Tensor) -> tf.Tensor:
  """Mean squared cosine between the image changes of different codes (an OroJaR-style term).

  Args: columns: [b, C, P] float, for each of b samples the change of G's P output values when
    each of its C codes alone moves (finite-difference Jacobian columns).
  Returns: scalar float32 in [0, 1]: mean over samples and ordered pairs i != j of
  cos^2(column_i, column_j); 0 when every code changes pixels orthogonal to every other code's
  change. Cosines, not OroJaR's raw inner products, so that the term cannot be lowered by making
  the codes' effects smaller, which the information loss needs large. A column of zeros has
  cosine 0 with every other (the epsilon keeps its gradient finite).
  """
  columns = _f32(columns)
  gram = tf.matmul(columns, columns, transpose_b=True)
  sq_norms = tf.linalg.diag_part(gram)
  cos2 = tf.square(gram) / (sq_norms[:, :, None] * sq_norms[:, None, :] + 1e-12)
  num_codes = tf.shape(columns)[1]
  off_diagonal = 1.0 - tf.eye(num_codes)
  pairs = tf.cast(tf.shape(columns)[0] * num_codes * (num_codes - 1), tf.float32)
  return tf.reduce_sum(cos2 * off_diagonal) / tf.maximum(pairs, 1.0)
