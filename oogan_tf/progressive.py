"""The progressive-growing schedule of the StyleGAN-based OOGAN: phase and fade-in alpha per
iteration (reference-notes section 12).

Phase p (resolution 8 * 2^p) covers iterations [p * phase_steps, (p + 1) * phase_steps); within
it alpha = min(1, t / fade_steps) for the phase's t-th iteration, so the new level fades in over
the first fade_steps iterations (the reference: 100,000-iteration phases, 50,000 of fade). The
last phase (the model's full resolution) runs on at alpha 1 for as long as training lasts. With
refade_final, the released code's bug: its iteration counter restarts every phase_steps even
after the last phase, so the top resolution fades in again and again.
"""

from __future__ import annotations

import tensorflow as tf


def progress_at(iteration, num_phases: int, phase_steps: int, fade_steps: int,
                refade_final: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
  """(phase int32 [] in [0, num_phases), alpha float32 [] in [0, 1]) at `iteration` (int scalar,
  Python or tensor; works inside tf.function). fade_steps 0 means no fade (alpha 1)."""
  n = tf.cast(iteration, tf.int64)
  raw = n // phase_steps
  phase = tf.minimum(raw, num_phases - 1)
  t = n - (raw if refade_final else phase) * phase_steps
  if fade_steps:
    alpha = tf.minimum(1.0, tf.cast(t, tf.float32) / float(fade_steps))
  else:
    alpha = tf.constant(1.0)
  return tf.cast(phase, tf.int32), alpha
