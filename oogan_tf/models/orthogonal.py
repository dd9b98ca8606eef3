"""Orthogonal regularisation of the Q head, stepped explicitly by the trainer.

In the released code each orthogonal layer owns a private Adam (betas 0.5 / 0.99, eps 1e-8; lr 1e-5
for the depthwise conv, 1e-4 for the spatial read-out; the paper's extra 3x3 orthogonal conv gets
the conv rate) and, inside every training-mode forward of D,
takes one step on the mean squared cosine of its kernels before computing its output. Here the step
is an explicit `step()` that the trainer calls right before each training-mode D call, which gives
the same sequence of updates without hiding optimiser steps inside `call`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from oogan_tf import losses
from oogan_tf.models import layers as oogan_layers
from oogan_tf.models import stylegan_layers
from oogan_tf.models.adam import Adam

CONV_LR = 1e-5
READOUT_LR = 1e-4


def _regularised_variable(layer: keras.layers.Layer) -> tf.Variable:
  # The conv's bias is in the reference's private optimiser too, but the loss gives it no gradient
  # and PyTorch's Adam skips parameters without a gradient, so only the kernel can move.
  if isinstance(layer, (oogan_layers.OrthogonalDepthwiseConv2D, oogan_layers.OrthogonalConv2D,
                        stylegan_layers.GroupedOrthogonalConv)):
    return layer.kernel
  if isinstance(layer, oogan_layers.SpatialReadout):
    return layer.transform
  raise TypeError(f"{type(layer).__name__} is not an orthogonally regularised layer")


class OrthogonalRegularizer:
  """One private Adam per orthogonal layer and an explicit `step()`.

  Args:
    orthogonal_layers: built OrthogonalDepthwiseConv2D / SpatialReadout layers (D.orthogonal_layers).
    enabled: False turns orthogonal regularisation off (ablation): `step()` then only reports the
      current losses.
    conv_lr, readout_lr: private learning rates.
  """

  def __init__(self, orthogonal_layers, *, enabled: bool = True, conv_lr: float = CONV_LR,
               readout_lr: float = READOUT_LR):
    self.layers = list(orthogonal_layers)
    self.enabled = bool(enabled)
    self.variables = [_regularised_variable(layer) for layer in self.layers]
    self.optimizers = [
        Adam(readout_lr if isinstance(layer, oogan_layers.SpatialReadout) else conv_lr)
        for layer in self.layers
    ]
    for opt, var in zip(self.optimizers, self.variables):
      opt.build([var])

  @property
  def names(self) -> list[str]:
    return [layer.name for layer in self.layers]

  def current_losses(self) -> list[tf.Tensor]:
    """The orthogonality loss (float32 scalar) of each layer, without updating anything."""
    return [losses.orthogonality_loss(layer.orthogonal_rows()) for layer in self.layers]

  def step(self, loss_divisor: float = 1.0) -> list[tf.Tensor]:
    """One private Adam step per layer on its orthogonality loss.

    Args:
      loss_divisor: the loss is divided by this before differentiation; pass the number of
        replicas in sync when gradients are summed across replicas.
    Returns: each layer's loss before its step (float32 scalars).
    """
    return self.step_with_gradients(loss_divisor)[0]

  def step_with_gradients(self, loss_divisor: float = 1.0
                          ) -> tuple[list[tf.Tensor], list[tf.Tensor | None]]:
    """`step()`, also returning the gradient each private step used (None when disabled).

    The gradients are those of the scaled loss at the weights before the step, i.e. what the
    released code leaves in each regularised parameter's `.grad` after its forward.
    """
    values, grads = [], []
    for layer, var, opt in zip(self.layers, self.variables, self.optimizers):
      with tf.GradientTape() as tape:
        loss = losses.orthogonality_loss(layer.orthogonal_rows())
        scaled = loss / loss_divisor
      grad = None
      if self.enabled:
        grad = tape.gradient(scaled, var)
        opt.apply([grad], [var])
      values.append(loss)
      grads.append(grad)
    return values, grads
