"""The paper's Q head (Table 3), the sigmoid output and the dsprites_paper preset."""

import numpy as np
import tensorflow as tf

from oogan_tf.config import TrainConfig
from oogan_tf.models import Discriminator, Generator, ModelConfig
from oogan_tf.models import layers
from oogan_tf.trainer import new_trainer


def test_table_3_parameter_shapes():
  # 64 px, ndf 64: the trunk (the two shared blocks) ends at 16x16 with 256 channels.
  cfg = ModelConfig(image_size=64, c_dim=6, z_dim=10, q_type="paper", probabilistic_q=True)
  d = Discriminator(cfg).build_for()
  q = d.q_head
  assert [type(l).__name__ for l in d.orthogonal_layers] == [
      "OrthogonalConv2D", "OrthogonalDepthwiseConv2D", "SpatialReadout"]
  assert tuple(q.orth_filters.kernel.shape) == (3, 3, 256, 12)  # 3x3 conv, ch C' = 2C
  assert tuple(q.orth_filters.bias.shape) == (12,)
  assert tuple(q.orth_conv.kernel.shape) == (4, 4, 12, 1)  # 4x4 depthwise, stride 2
  assert tuple(q.readout.transform.shape) == (2, 2, 12)  # grouped linear over 2x2
  assert len(q.trainable_variables) == 5  # no BatchNorm, no DownBlock in the paper's Q
  score, out = d(tf.zeros((3, 64, 64, 1)), training=True)
  assert score.shape == (3,) and out.shape == (3, 12)
  rows = [l.orthogonal_rows().shape for l in d.orthogonal_layers]
  assert [tuple(r) for r in rows] == [(12, 9 * 256), (12, 16), (12, 4)]


def test_sigmoid_output_is_two_sigmoid_minus_one():
  kw = dict(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4)
  tanh = Generator(ModelConfig(**kw), name="g").build_for()
  sigmoid = Generator(ModelConfig(g_output="sigmoid", **kw), name="g").build_for()
  for a, b in zip(sigmoid.variables, tanh.variables):
    a.assign(b)
  inputs = (tf.random.uniform((4, 3)), tf.random.normal((4, 4)))
  # Same weights, so the same pre-activation x: tanh(x) and s = 2 sigmoid(x) - 1 = tanh(x / 2),
  # so tanh(x) = 2s / (1 + s^2) (the double-angle formula; well conditioned even where tanh
  # saturates, unlike recovering x with arctanh).
  x_t = tanh(inputs, training=False).numpy()
  x_s = sigmoid(inputs, training=False).numpy()
  np.testing.assert_allclose(x_t, 2 * x_s / (1 + x_s**2), atol=1e-5)


def test_paper_q_trains_one_iteration_and_is_regularised():
  model = ModelConfig(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4, q_type="paper",
                      spectral_norm="all", upsample="bilinear", g_output="sigmoid")
  trainer = new_trainer(TrainConfig(model=model, batch_size=8, gp_weight=0.0, train_steps=1))
  before = [l.orthogonal_rows().numpy() for l in trainer.ortho.layers]
  real = tf.random.stateless_uniform((8, 32, 32, 1), (3, 4), -1.0, 1.0)
  out = trainer.replica_step(real)
  assert np.isfinite(float(out["loss/d_total"])) and float(out["loss/gradient_penalty"]) == 0.0
  assert len(trainer.ortho.names) == 3
  for layer, rows in zip(trainer.ortho.layers, before):
    assert not np.allclose(layer.orthogonal_rows().numpy(), rows), layer.name
  assert isinstance(trainer.ortho.layers[0], layers.OrthogonalConv2D)
