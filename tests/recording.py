"""A test helper: record what each of a trainer's three Adams is asked to apply."""

import tensorflow as tf


def record_applies(trainer) -> dict:
  """Patches trainer.opt_d / opt_g / opt_info so each apply() is recorded, then applied.

  Returns the dict that fills as the trainer steps: {optimiser attribute name: {id(variable):
  its gradient as a numpy array, or None}}, the last apply() of each optimiser.
  """
  applied = {}
  for name in ("opt_d", "opt_g", "opt_info"):
    opt = getattr(trainer, name)
    original_apply = opt.apply

    def recording_apply(grads, variables, _name=name, _apply=original_apply):
      applied[_name] = {id(v): (None if g is None else tf.convert_to_tensor(g).numpy())
                        for g, v in zip(grads, variables)}
      return _apply(grads, variables)

    opt.apply = recording_apply
  return applied
