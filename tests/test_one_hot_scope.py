"""--one_hot_scope: which steps of a one-hot iteration see the schedule's one-hot codes.

Iteration 0 of the reference schedule is a dominant-dimension iteration: every sample's code k
(one k per batch) is exactly 1 and the rest lie in [0.2, 0.6]. With scope "all" every G forward
of that iteration gets those codes; with scope "info" the adversarial forward gets uniform codes
(no column all ones) and only the information loss's forward gets the dominant codes.
"""

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import config_flags, presets
from oogan_tf.config import TrainConfig
from oogan_tf.trainer import new_trainer
from recording import record_applies
from tiny import TINY_MODEL

_REAL = tf.random.stateless_uniform((8, 32, 32, 1), (5, 6), -1.0, 1.0)


def _g_codes_of_one_iteration(**kw):
  """The code batches (numpy [8, C]) G was called with during iteration 0, in call order, and
  the iteration's metrics."""
  trainer = new_trainer(TrainConfig(model=TINY_MODEL, batch_size=8, train_steps=1, **kw))
  generator = trainer.generator
  original_call = generator.call
  seen = []

  def recording_call(inputs, training=None):
    seen.append(tf.convert_to_tensor(inputs[0]).numpy())
    return original_call(inputs, training=training)

  generator.call = recording_call
  metrics = trainer.replica_step(_REAL)
  return seen, {k: float(v) for k, v in metrics.items()}


def _is_dominant(codes):
  return bool(np.any(np.all(codes == 1.0, axis=0)))


@pytest.mark.parametrize("info_update", ["separate", "joint"])
def test_scope_all_gives_every_forward_the_schedules_codes(info_update):
  seen, metrics = _g_codes_of_one_iteration(info_update=info_update)
  assert seen and all(_is_dominant(c) for c in seen)
  assert len(seen) == (2 if info_update == "separate" else 1)
  assert metrics["loss/info_onehot"] > 0


@pytest.mark.parametrize("info_update", ["separate", "joint"])
def test_scope_info_keeps_one_hot_codes_out_of_the_adversarial_forward(info_update):
  seen, metrics = _g_codes_of_one_iteration(info_update=info_update, one_hot_scope="info")
  assert len(seen) == 2
  adversarial, information = seen
  assert not _is_dominant(adversarial)
  assert adversarial.min() >= 0 and adversarial.max() < 1
  assert _is_dominant(information)
  # The one-hot cross-entropy is still trained, on the information forward's dominant codes.
  assert metrics["loss/info_onehot"] > 0


def test_scope_info_joint_trains_q_and_g_on_the_information_forward():
  trainer = new_trainer(TrainConfig(model=TINY_MODEL, batch_size=8, train_steps=1,
                                    info_update="joint", one_hot_scope="info"))
  applied = record_applies(trainer)
  trainer.replica_step(_REAL)
  q_grads = [applied["opt_d"][id(v)] for v in trainer.discriminator.q_head.trainable_variables]
  assert q_grads and all(g is not None and np.all(np.isfinite(g)) for g in q_grads)
  assert any(np.abs(g).max() > 0 for g in q_grads)
  g_grads = [g for g in (applied["opt_g"][id(v)] for v in trainer.g_variables) if g is not None]
  assert g_grads and all(np.all(np.isfinite(g)) for g in g_grads)


@pytest.mark.parametrize("args, message", [
    (["--dataset=dsprites", "--one_hot_scope=some"], "--one_hot_scope"),
    (["--dataset=dsprites", "--one_hot_scope=info", "--code_schedule=uniform"],
     "--code_schedule=uniform"),
    ([f"--flagfile={presets.preset_path('stylegan_smoke')}", "--one_hot_scope=info"],
     "--one_hot_scope=info is not allowed with --g_type=stylegan"),
])
def test_bad_scopes_are_refused_with_the_flag_named(args, message):
  with pytest.raises(Exception, match=message):
    config_flags.config_from_args(args)
