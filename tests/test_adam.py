"""The fused Adam: the textbook update (and Keras' Adam) step for step, skipped None gradients,
dynamic loss scaling, and its checkpointed state. (Its mirrored path is tested by
test_distribute: two replicas against one device.)"""

import numpy as np
import pytest
import tensorflow as tf
import keras

from oogan_tf.models import adam as adam_lib


def _textbook(w, grads, lr, b1, b2, eps):
  m = np.zeros_like(w)
  v = np.zeros_like(w)
  for t, g in enumerate(grads, start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
  return w


def test_steps_match_the_textbook_update_and_keras_adam():
  rs = np.random.RandomState(0)
  w0 = rs.normal(size=(3, 4)).astype(np.float32)
  grads = [rs.normal(size=(3, 4)).astype(np.float32) for _ in range(5)]
  ours = keras.Variable(w0)
  reference = keras.Variable(w0)
  opt = adam_lib.Adam(1e-2, 0.5, 0.99, 1e-8)
  opt.build([ours])
  keras_opt = keras.optimizers.Adam(1e-2, beta_1=0.5, beta_2=0.99, epsilon=1e-8)
  step = tf.function(lambda g: opt.apply([g], [ours]))
  for g in grads:
    step(tf.constant(g))
    keras_opt.apply([tf.constant(g)], [reference])
  expected = _textbook(w0.astype(np.float64), grads, 1e-2, 0.5, 0.99, 1e-8)
  np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)
  assert int(opt.iterations.numpy()) == 5


def test_a_variable_without_gradient_keeps_its_value_and_slots():
  a, b = tf.Variable([1.0, 2.0]), tf.Variable([3.0])
  opt = adam_lib.Adam(0.1)
  opt.build([a, b])
  opt.apply([tf.constant([1.0, -1.0]), None], [a, b])
  assert b.numpy().tolist() == [3.0]
  assert opt.momentums[1].numpy().tolist() == [0.0] and opt.velocities[1].numpy().tolist() == [0.0]
  assert not np.allclose(a.numpy(), [1.0, 2.0])
  # The learning rate is a variable: 0 freezes the next step without a retrace.
  opt.learning_rate.assign(0.0)
  before = a.numpy().copy()
  opt.apply([tf.constant([1.0, -1.0]), None], [a, b])
  np.testing.assert_array_equal(a.numpy(), before)


def test_loss_scaling_unscales_skips_non_finite_steps_and_grows(monkeypatch):
  monkeypatch.setattr(adam_lib, "LOSS_SCALE_GROWTH_STEPS", 3)
  w = tf.Variable([1.0])
  opt = adam_lib.Adam(0.1, loss_scaling=True)
  opt.build([w])
  plain_w = tf.Variable([1.0])
  plain = adam_lib.Adam(0.1)
  plain.build([plain_w])
  scale = adam_lib.INITIAL_LOSS_SCALE
  assert float(opt.scale_loss(tf.constant(2.0))) == 2.0 * scale
  opt.apply([tf.constant([0.5 * scale])], [w])  # a scaled gradient: unscaled to 0.5
  plain.apply([tf.constant([0.5])], [plain_w])
  np.testing.assert_allclose(w.numpy(), plain_w.numpy(), rtol=1e-6)
  before = w.numpy().copy()
  opt.apply([tf.constant([np.inf])], [w])  # skipped: nothing moves, the scale halves
  np.testing.assert_array_equal(w.numpy(), before)
  assert float(opt.dynamic_scale.numpy()) == scale / 2 and int(opt.iterations.numpy()) == 1
  for _ in range(3):  # three finite steps in a row double it again
    opt.apply([tf.constant([1.0])], [w])
  assert float(opt.dynamic_scale.numpy()) == scale and int(opt.step_counter.numpy()) == 0
  assert int(opt.iterations.numpy()) == 4


def test_checkpoint_round_trips_every_slot(tmp_path):
  w = tf.Variable([1.0, -1.0])
  opt = adam_lib.Adam(0.1, loss_scaling=True)
  opt.build([w])
  opt.apply([tf.constant([0.3, 0.7])], [w])
  path = tf.train.Checkpoint(opt=opt, w=w).save(str(tmp_path / "ckpt"))
  w2 = tf.Variable([0.0, 0.0])
  restored = adam_lib.Adam(0.5, loss_scaling=True)
  restored.build([w2])
  tf.train.Checkpoint(opt=restored, w=w2).restore(path).assert_consumed()
  assert len(restored.variables) == len(opt.variables) == 6
  for a, b in zip(opt.variables, restored.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_apply_refuses_a_variable_it_was_not_built_for():
  opt = adam_lib.Adam(0.1)
  opt.build([tf.Variable([1.0])])
  with pytest.raises(ValueError, match="not given to build"):
    opt.apply([tf.constant([1.0])], [tf.Variable([2.0])])


def test_restores_a_checkpoint_of_keras_adam(tmp_path):
  # Runs checkpointed before this optimiser replaced Keras' Adam must resume exactly.
  rs = np.random.RandomState(1)
  w0 = [rs.normal(size=(2, 3)).astype(np.float32), rs.normal(size=(3,)).astype(np.float32)]
  keras_vars = [keras.Variable(w) for w in w0]
  keras_opt = keras.optimizers.Adam(0.01, beta_1=0.5, beta_2=0.99, epsilon=1e-8)
  keras_opt.build(keras_vars)
  grads = [tf.constant(rs.normal(size=w.shape).astype(np.float32)) for w in w0]
  keras_opt.apply(grads, keras_vars)
  path = tf.train.Checkpoint(opt=keras_opt, w=keras_vars).save(str(tmp_path / "ckpt"))
  ours_vars = [keras.Variable(np.zeros_like(w)) for w in w0]
  ours = adam_lib.Adam(0.5)
  ours.build(ours_vars)
  tf.train.Checkpoint(opt=ours, w=ours_vars).restore(path).assert_existing_objects_matched()
  assert int(ours.iterations.numpy()) == 1
  assert float(ours.learning_rate.numpy()) == pytest.approx(0.01)
  for ours_slot, keras_slot in zip(ours.momentums + ours.velocities,
                                   keras_opt._momentums + keras_opt._velocities):  # pylint: disable=protected-access
    np.testing.assert_array_equal(ours_slot.numpy(), keras_slot.numpy())
  # The next step from the restored state is Keras' next step.
  ours.apply(grads, ours_vars)
  keras_opt.apply(grads, keras_vars)
  for a, b in zip(ours_vars, keras_vars):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
