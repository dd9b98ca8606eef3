"""Shapes, ranges and parameter counts of G and D against the reference (reference-notes 7)."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.models import Discriminator, Generator, ModelConfig, count_params, split_q

# (config, reference G count incl. unused tensors, unused tensors (const, instance attention),
#  D total, trunk, real/fake, Q head) from reference-notes section 7.
REFERENCE_COUNTS = [
    (dict(image_size=32, g_type="infogan", c_dim=6, z_dim=10, channels=1),
     1_026_177, (0, 0), 1_288_345, 74_240, 890_369, 323_736),
    (dict(image_size=64, c_dim=6, z_dim=10, channels=1),
     2_296_240, (8_192, 16_384), 2_768_537, 369_920, 1_779_969, 618_648),
    (dict(image_size=64, c_dim=10, z_dim=50, channels=3),
     2_395_502, (8_192, 16_384), 2_787_369, 370_048, 1_779_969, 637_352),
    (dict(image_size=128, c_dim=16, z_dim=100, channels=3),
     7_545_369, (8_192, 32_768), 11_159_489, 1_551_232, 7_098_881, 2_509_376),
    (dict(image_size=256, c_dim=16, z_dim=100, channels=3),
     12_406_297, (16_384, 32_768), 23_108_033, 3_912_064, 14_178_305, 5_017_664),
]


COUNT_CASES = [(row, const_on) for row in REFERENCE_COUNTS for const_on in (True, False)
               if row[0].get("g_type") != "infogan" or const_on]  # InfoGAN G has no constant


@pytest.mark.parametrize("row,learned_constant", COUNT_CASES,
                         ids=lambda v: str(v[0]) if isinstance(v, tuple) else str(v))
def test_parameter_counts_match_reference(row, learned_constant):
  kw, g_ref, (const, inst_att), d_ref, trunk, rf, qh = row
  cfg = ModelConfig(learned_constant=learned_constant, **kw)
  g = Generator(cfg).build_for(batch_size=1)  # the 256 px models' forward passes dominate
  d = Discriminator(cfg).build_for(batch_size=1)
  expected_g = g_ref - inst_att - (0 if learned_constant else const)
  assert count_params(g.trainable_variables) == expected_g
  assert count_params(d.trainable_variables) == d_ref
  assert count_params(d.trunk.trainable_variables) == trunk
  assert count_params(d.real_fake_head.trainable_variables) == rf
  assert count_params(d.q_head.trainable_variables) == qh


def test_infogan_q_head_count():
  cfg = ModelConfig(image_size=64, c_dim=6, z_dim=10, q_type="infogan")
  d = Discriminator(cfg).build_for()
  assert count_params(d.q_head.trainable_variables) == 620_592


def test_mlp_input_block_shapes_and_parameter_count():
  # InfoGAN-CR's input: [c, z] -> Dense(128) -> BN -> 4x4 x F4 map -> BN -> UpBlock to 8x8 x F8.
  cfg = ModelConfig(image_size=32, c_dim=5, z_dim=5, g_type="mlp", ngf=16, ndf=16)
  g = Generator(cfg).build_for()
  f4, f8 = 16 * 4, 16 * 4  # G_MULTIPLIERS[32] starts (4, 4)
  block = g.input_block
  assert tuple(block.hidden.kernel.shape) == (10, 128)
  assert tuple(block.init.kernel.shape) == (4, 4, 128, f4)
  up = 9 * f4 * f8 + f8 + 2 * f8  # 3x3 conv with bias + BN
  expected = (10 * 128 + 128) + 2 * 128 + (16 * 128 * f4 + f4) + 2 * f4 + up
  assert count_params(block.trainable_variables) == expected
  c = tf.random.stateless_uniform((4, 5), (1, 2))
  z = tf.random.stateless_normal((4, 5), (3, 4))
  out = block((c, z), training=True)
  assert out.shape == (4, 8, 8, f8)
  assert g((c, z), training=True).shape == (4, 32, 32, 1)


def test_trunk_heads_variables_are_disjoint_and_complete():
  cfg = ModelConfig(image_size=32, c_dim=3, z_dim=4, ngf=8, ndf=8)
  d = Discriminator(cfg).build_for()
  parts = [d.trunk.trainable_variables, d.real_fake_head.trainable_variables,
           d.q_head.trainable_variables]
  ids = [{id(v) for v in p} for p in parts]
  assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
  assert set().union(*ids) == {id(v) for v in d.trainable_variables}
  assert {v.name for v in d.q_head.trainable_variables} >= {"kernel", "transform"}


SHAPE_GRID = list(itertools.product([32, 64, 128, 256], [1, 3], ["oogan", "infogan"],
                                    ["oogan", "infogan"]))


@pytest.mark.parametrize("size,channels,g_type,q_type", SHAPE_GRID)
def test_output_shapes_and_range(size, channels, g_type, q_type):
  # Tiny widths keep this fast; the layer structure is the same as at ngf = ndf = 64.
  cfg = ModelConfig(image_size=size, channels=channels, c_dim=3, z_dim=4, g_type=g_type,
                    q_type=q_type, ngf=2, ndf=2, probabilistic_q=(q_type == "oogan"))
  g = Generator(cfg)
  d = Discriminator(cfg)
  rng = np.random.default_rng(0)
  c = tf.constant(rng.uniform(size=(3, 3)), tf.float32)
  z = tf.constant(rng.normal(size=(3, 4)), tf.float32)
  x = g((c, z), training=True)
  assert x.shape == (3, size, size, channels) and x.dtype == tf.float32
  assert float(tf.reduce_max(tf.abs(x))) <= 1.0
  score, q = d(x, training=True)
  assert score.shape == (3,) and score.dtype == tf.float32
  assert q.shape == (3, cfg.q_outputs) and q.dtype == tf.float32
  mu, log_sigma = split_q(q, cfg.c_dim, cfg.probabilistic_q)
  assert mu.shape == (3, 3)
  assert (log_sigma is None) == (not cfg.probabilistic_q)


def test_learned_constant_changes_output_only_when_enabled():
  cfg = ModelConfig(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4, learned_constant=True)
  g = Generator(cfg).build_for()
  c = tf.random.uniform((4, 3))
  z = tf.random.normal((4, 4))
  before = g((c, z), training=False)
  g.input_block.constant.assign(g.input_block.constant + 1.0)
  after = g((c, z), training=False)
  assert float(tf.reduce_max(tf.abs(after - before))) > 1e-4
  off = Generator(ModelConfig(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4,
                              learned_constant=False)).build_for()
  assert not any("learned_constant" in v.path for v in off.trainable_variables)


def test_spectral_norm_all_adds_no_parameters_but_sn_layers():
  kw = dict(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4)
  ref = Generator(ModelConfig(**kw)).build_for()
  every = Generator(ModelConfig(spectral_norm="all", **kw)).build_for()
  assert count_params(ref.trainable_variables) == count_params(every.trainable_variables)
  sn_ref = [v for v in ref.non_trainable_variables if "sn_u" in v.path]
  sn_all = [v for v in every.non_trainable_variables if "sn_u" in v.path]
  assert len(sn_ref) == 1 and len(sn_all) > 5
  # "discriminator": every D conv as "all", G as "reference".
  sn_paths = lambda m: sorted(v.path.split("/", 1)[1] for v in m.non_trainable_variables
                              if "sn_u" in v.path)  # without the model's own (numbered) name
  g_d = Generator(ModelConfig(spectral_norm="discriminator", **kw)).build_for()
  assert sn_paths(g_d) == sn_paths(ref)
  d_all = Discriminator(ModelConfig(spectral_norm="all", **kw)).build_for()
  d_d = Discriminator(ModelConfig(spectral_norm="discriminator", **kw)).build_for()
  d_ref = Discriminator(ModelConfig(**kw)).build_for()
  assert sn_paths(d_d) == sn_paths(d_all) and len(sn_paths(d_d)) > len(sn_paths(d_ref))


@pytest.mark.parametrize("q_type", ["oogan", "infogan"])
def test_d_without_batch_norm(q_type):
  from oogan_tf.calibration import batch_norm_layers  # pylint: disable=g-import-not-at-top
  kw = dict(image_size=32, c_dim=3, z_dim=4, ngf=4, ndf=4, q_type=q_type)
  with_bn = Discriminator(ModelConfig(**kw)).build_for()
  without = Discriminator(ModelConfig(d_batch_norm=False, **kw)).build_for()
  assert batch_norm_layers(with_bn) and not batch_norm_layers(without)
  # Each DownBlock loses exactly its BatchNorm's gamma and beta (2 x out channels).
  bn_params = sum(int(np.prod(v.shape)) for layer in batch_norm_layers(with_bn)
                  for v in layer.trainable_variables)
  assert (count_params(with_bn.trainable_variables) - count_params(without.trainable_variables)
          == bn_params > 0)
  x = tf.random.stateless_uniform((2, 32, 32, 1), (1, 2), -1.0, 1.0)
  scores, q = without(x, training=True)
  assert scores.shape == (2,) and q.shape == (2, 6)
  # Without BatchNorm, training and inference mode compute the same function.
  np.testing.assert_allclose(without(x, training=False)[1], q, rtol=1e-5, atol=1e-6)
  assert not np.allclose(with_bn(x, training=False)[1], with_bn(x, training=True)[1])


@pytest.mark.parametrize("kw,message", [
    (dict(image_size=48), "image_size=48"),
    (dict(channels=2), "channels=2"),
    (dict(c_dim=0), "c_dim=0"),
    (dict(z_dim=1), "z_dim=1"),
    (dict(g_type="stylegan"), "g_type='stylegan'"),
])
def test_invalid_config_names_field_value_and_allowed(kw, message):
  with pytest.raises(ValueError, match=message):
    ModelConfig(**kw)
