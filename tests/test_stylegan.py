"""The StyleGAN-based OOGAN (issue 21 section 1): progressive schedule, networks at every phase
and alpha, fade-in continuity, the train loop crossing phases in one trace, exact resume in the
middle of a fade, the released-code bug switches, and exports at 32 and 128 px."""
import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import config_flags, presets, progressive, train_lib
from oogan_tf import export_lib
from oogan_tf.config import TrainConfig
from oogan_tf.models import build_networks, stylegan
from oogan_tf.models import stylegan_layers as sl
from oogan_tf.trainer import new_trainer

STYLEGAN_SMOKE = config_flags.config_from_args(
    [f"--flagfile={presets.preset_path('stylegan_smoke')}"])
TINY = STYLEGAN_SMOKE.model


def _progress(n, **kw):
  phase, alpha = progressive.progress_at(n, **kw)
  return int(phase), float(alpha)


def test_schedule_fades_each_phase_then_holds_the_last():
  kw = dict(num_phases=3, phase_steps=4, fade_steps=2)
  got = [_progress(n, **kw) for n in range(14)]
  assert got[:4] == [(0, 0.0), (0, 0.5), (0, 1.0), (0, 1.0)]
  assert got[4:8] == [(1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0)]
  assert got[8:10] == [(2, 0.0), (2, 0.5)]
  assert got[12:] == [(2, 1.0), (2, 1.0)]  # after the last phase: full resolution, alpha 1


def test_refade_switch_reproduces_the_released_final_phase_bug():
  kw = dict(num_phases=3, phase_steps=4, fade_steps=2, refade_final=True)
  assert [_progress(n, **kw) for n in (8, 9, 12, 13, 14)] == [
      (2, 0.0), (2, 0.5), (2, 0.0), (2, 0.5), (2, 1.0)]


def test_networks_give_full_size_outputs_at_every_phase_and_alpha():
  g, _, d = build_networks(TINY)
  c = tf.random.uniform((3, TINY.c_dim), seed=1)
  z = tf.random.normal((3, TINY.z_dim), seed=2)
  for phase in range(stylegan.num_phases(TINY)):
    res = stylegan.phase_resolution(TINY, phase)
    for alpha in (0.0, 0.5, 1.0):
      stylegan.set_progress(g, phase, alpha)
      stylegan.set_progress(d, phase, alpha)
      x = g((c, z), training=False)
      assert x.shape == (3, 32, 32, 1) and x.dtype == tf.float32
      # The phase's native resolution, nearest-upsampled: constant k x k blocks.
      k = 32 // res
      native = x[:, ::k, ::k, :]
      np.testing.assert_array_equal(x.numpy(), np.repeat(np.repeat(native, k, 1), k, 2))
      score, q = d(x)
      assert score.shape == (3,) and q.shape == (3, TINY.q_outputs)
      assert np.isfinite(score.numpy()).all() and np.isfinite(q.numpy()).all()


def test_alpha_zero_equals_the_lower_resolution_output_upsampled():
  g, _, _ = build_networks(TINY)
  c = tf.random.uniform((2, TINY.c_dim), seed=3)
  z = tf.random.normal((2, TINY.z_dim), seed=4)
  for phase in (1, 2):
    lower = g.forward(c, z, phase - 1, 1.0)
    low_res = stylegan.phase_resolution(TINY, phase - 1)
    native_lower = lower[:, ::32 // low_res, ::32 // low_res, :]
    up = tf.image.resize(native_lower, (2 * low_res, 2 * low_res), "bilinear")
    k = 32 // (2 * low_res)
    expected = np.repeat(np.repeat(up.numpy(), k, 1), k, 2)
    np.testing.assert_allclose(g.forward(c, z, phase, 0.0).numpy(), expected, atol=1e-5)


def test_discriminator_sees_native_resolution_output_exactly():
  # Average pooling undoes nearest upsampling, so D of G's S x S output equals D of the native one.
  _, _, d = build_networks(TINY)
  native = tf.random.normal((2, 16, 16, 1), seed=5)
  full = tf.repeat(tf.repeat(native, 2, axis=1), 2, axis=2)
  pooled = tf.nn.avg_pool2d(full, 2, 2, "VALID")
  np.testing.assert_allclose(pooled.numpy(), native.numpy(), atol=1e-6)
  s1, q1 = d.forward(full, 1, 0.5)
  padded = tf.repeat(tf.repeat(pooled, 2, axis=1), 2, axis=2)
  s2, q2 = d.forward(padded, 1, 0.5)
  np.testing.assert_allclose(s1.numpy(), s2.numpy(), atol=1e-5)
  np.testing.assert_allclose(q1.numpy(), q2.numpy(), atol=1e-5)


def test_grouped_orthogonal_conv_equals_a_grouped_conv():
  layer = sl.GroupedOrthogonalConv(4)
  x = tf.random.normal((2, 4, 4, 16), seed=6)
  y = layer(x)
  kernel = (layer.kernel * layer.scale).numpy()[:, :, :, 0]  # [4, 4, 16]
  expected = np.stack([(x.numpy()[:, :, :, 4 * g:4 * g + 4] * kernel[:, :, 4 * g:4 * g + 4]
                        ).sum(axis=(1, 2, 3)) for g in range(4)], axis=1)
  np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
  assert layer.orthogonal_rows().shape == (16, 16)  # one 4x4 kernel per input channel


def test_paper_sizes_give_512_orthogonal_rows_of_16():
  cfg = config_flags.config_from_args([f"--flagfile={presets.preset_path('celeba_stylegan')}"])
  layer = sl.GroupedOrthogonalConv(cfg.model.q_outputs)
  layer.build((None, 4, 4, 512))
  assert cfg.model.q_outputs == 32
  assert layer.orthogonal_rows().shape == (512, 16)


def test_block0_collapse_switch_reproduces_the_1x1_bug():
  cfg = dataclasses.replace(TINY, stylegan_block0_collapse=True)
  g, _, _ = build_networks(cfg)
  level0 = g.level0
  assert level0.conv2.kernel.shape[:2] == (4, 4) and level0.conv2.padding == "VALID"
  fixed, _, _ = build_networks(TINY)
  assert fixed.level0.conv2.kernel.shape[:2] == (3, 3)
  c = tf.random.uniform((2, cfg.c_dim), seed=7)
  assert g((c, tf.random.normal((2, cfg.z_dim))), training=False).shape == (2, 32, 32, 1)


@pytest.mark.parametrize("overrides, message", [
    ({"strategy": "mirrored"}, "--strategy=mirrored is not allowed with --g_type=stylegan"),
    ({"precision": "mixed_float16"}, "--precision=mixed_float16 is not allowed"),
    ({"jit_compile": True}, "--jit_compile=true is not allowed"),
    ({"info_trains_trunk": True}, "--info_trains_trunk=true is not allowed"),
    ({"info_update": "joint"}, "--info_update=joint is not allowed with --g_type=stylegan"),
    ({"d_lr_ratio": 2.0}, "--d_lr_ratio=2.0 is not allowed with --g_type=stylegan"),
    ({"info_noise": 0.5}, "--info_noise=0.5 is not allowed with --g_type=stylegan"),
    ({"gan_loss": "nonsaturating"},
     "--gan_loss=nonsaturating is not allowed with --g_type=stylegan"),
    ({"jacobian_ortho_weight": 0.5},
     "--jacobian_ortho_weight=0.5 is not allowed with --g_type=stylegan"),
    ({"lr_decay_start": 2, "train_steps": 4},
     "--lr_decay_start=2 is not allowed with --g_type=stylegan"),
    ({"fade_steps": 3, "phase_steps": 2}, "--fade_steps=3 is not allowed"),
])
def test_unsupported_settings_are_refused(overrides, message):
  with pytest.raises(ValueError, match=message):
    dataclasses.replace(STYLEGAN_SMOKE, **overrides)


def test_model_config_pairs_g_and_q_and_checks_the_groups():
  with pytest.raises(ValueError, match="g_type='stylegan' with q_type='oogan'"):
    dataclasses.replace(TINY, q_type="oogan")
  with pytest.raises(ValueError, match="multiple of the Q outputs"):
    dataclasses.replace(TINY, c_dim=5)  # 10 outputs do not divide 16 channels
  with pytest.raises(ValueError, match="image_size=256"):
    dataclasses.replace(TINY, image_size=256)


def _fixed_batches(cfg: TrainConfig, start: int = 0):
  images = tf.random.stateless_uniform((64, 32, 32, 1), [7, 7], -1.0, 1.0)
  data = tf.data.Dataset.from_tensor_slices(images).repeat().batch(cfg.batch_size)
  return iter(data.skip(start))


def _group_iterations(trainer) -> dict[str, int]:
  return {g.name: int(g.optimizer.iterations.numpy())
          for g in trainer.g_groups + trainer.d_groups}


def _state(trainer) -> list[tf.Variable]:
  """Every variable a checkpoint holds: networks, every group's Adam, the private Adam, step."""
  optimizers = [g.optimizer for g in trainer.g_groups + trainer.d_groups + [trainer.q_group]]
  return ([v for net in trainer.networks for v in net.variables] +
          [v for opt in optimizers + trainer.ortho.optimizers for v in opt.variables] +
          [trainer.step])


@pytest.mark.slow
def test_train_loop_crosses_phases_in_one_trace_and_resumes_mid_fade_exactly(tmp_path):
  # Without the gradient penalty each of the two traces takes ~10 s less; the penalty's phase
  # resolution has its own test below, and the smoke preset test trains with it.
  cfg = dataclasses.replace(STYLEGAN_SMOKE, phase_steps=4, fade_steps=2, gp_weight=0.0)
  straight = new_trainer(cfg)
  g = straight.generator
  level3_before = [v.numpy() for v in g.level_variables(3)]
  noise_maps_before = [v.numpy() for v in g.noise_map_variables()]
  it = _fixed_batches(cfg)
  out = straight.train_loop(it, tf.constant(5, tf.int64))  # phase 0 (4) + 1 iteration of phase 1
  assert float(out["progress/resolution"]) == 16.0 and float(out["progress/alpha"]) == 0.0
  assert int(g.progress.phase.numpy()) == 1 and float(g.progress.alpha.numpy()) == 0.5
  # The 32 px level has not taken part yet: unchanged, its Adam never stepped.
  for before, v in zip(level3_before, g.level_variables(3)):
    np.testing.assert_array_equal(before, v.numpy())
  iterations = _group_iterations(straight)
  assert iterations["level3"] == 0 and iterations["to_rgb3"] == 0 and iterations["block3"] == 0
  assert iterations["level2"] == 1 and iterations["mapping"] == 5
  # to_rgb0 / from_rgb0 take part only during phase 0's fade (iterations 0-1).
  assert iterations["to_rgb0"] == 2 and iterations["from_rgb0"] == 2
  assert any(not np.array_equal(b, v.numpy())
             for b, v in zip(noise_maps_before, g.noise_map_variables()))  # trained (fixed bug)
  ckpt_dir = str(tmp_path / "ckpt")
  path = straight.checkpoint().save(os.path.join(ckpt_dir, "ckpt"))
  at_5 = [v.numpy() for v in _state(straight)]
  straight.train_loop(it, tf.constant(2, tf.int64))  # iterations 5-6: mid-fade, then alpha 1
  at_7 = [v.numpy() for v in _state(straight)]

  # A fresh trainer restores every variable of iteration 5 (no training: no second trace).
  fresh = new_trainer(cfg)
  fresh.checkpoint().restore(path).assert_existing_objects_matched()
  assert fresh.iteration == 5 and float(fresh.generator.progress.alpha.numpy()) == 0.5
  for expected, v in zip(at_5, _state(fresh)):
    np.testing.assert_array_equal(expected, v.numpy())
  # Resuming from it reproduces iterations 5-6 exactly. The run is restored into the trainer
  # that already holds the traced loop, which saves a StyleGAN trace (~15 s); the restore
  # overwrites every variable the continuation changed, so anything it missed would show.
  resumed = straight
  resumed.checkpoint().restore(path).assert_existing_objects_matched()
  assert resumed.iteration == 5
  assert float(resumed.generator.progress.alpha.numpy()) == 0.5
  resumed.train_loop(_fixed_batches(cfg, start=5), tf.constant(2, tf.int64))
  assert resumed.train_loop.experimental_get_tracing_count() == 1
  assert resumed.iteration == 7
  for expected, v in zip(at_7, _state(resumed)):
    np.testing.assert_array_equal(expected, v.numpy())


def test_frozen_c_noise_switch_keeps_the_projections_out_of_every_optimiser():
  frozen = new_trainer(dataclasses.replace(STYLEGAN_SMOKE, stylegan_frozen_c_noise=True))
  ids = {id(v) for v in frozen.generator.noise_map_variables()}
  optimised = {id(v) for g in frozen.g_groups + frozen.d_groups + [frozen.q_group]
               for v in g.variables}
  assert ids and not ids & optimised
  fixed = new_trainer(STYLEGAN_SMOKE)
  optimised = {id(v) for g in fixed.g_groups for v in g.variables}
  assert {id(v) for v in fixed.generator.noise_map_variables()} <= optimised


def test_loss_gates_drop_large_terms_and_report_it():
  # One eager iteration with a huge NLL: the gated run (default) drops the NLL term from the info
  # loss and reports it, the ungated one keeps it.
  values = {}
  for gates in (False, True):
    cfg = dataclasses.replace(STYLEGAN_SMOKE, stylegan_loss_gates=gates, lambda_info=1.0)
    trainer = new_trainer(cfg)
    # log_sigma very negative makes the NLL large (>= 100) at the first iteration.
    trainer.discriminator.q_head.orth_conv.bias.assign(
        tf.concat([tf.zeros(cfg.model.c_dim), -20.0 * tf.ones(cfg.model.c_dim)], 0))
    out = trainer.replica_step(next(_fixed_batches(cfg)))
    values[gates] = {k: float(v) for k, v in out.items()}
  for gates, v in values.items():
    assert v["loss/info_reconstruction"] >= 100
    rec_in_info = abs(v["loss/info"] - v["loss/g_adv"] - v["loss/info_onehot"])
    assert (rec_in_info < 1e-3 * v["loss/info_reconstruction"]) == gates
    assert v["loss/info_nll_dropped"] == float(gates)
  assert STYLEGAN_SMOKE.stylegan_loss_gates  # the default keeps the released gates


@pytest.mark.slow
def test_smoke_preset_trains_through_two_phases_and_exports(tmp_path):
  model_dir = tmp_path / "run"
  result = train_lib.train(dataclasses.replace(STYLEGAN_SMOKE, model_dir=str(model_dir)))
  assert result["step"] == 6
  lines = [json.loads(x) for x in (model_dir / "stats.jsonl").read_text().splitlines()]
  seen = [(x["step"], x["progress/resolution"]) for x in lines if "progress/resolution" in x]
  assert seen == [(3, 16.0), (6, 32.0)]
  export = model_dir / "export" / "6"
  loaded = tf.saved_model.load(str(export))
  out = loaded.signatures["sample_from_seed"](seed=tf.constant(1, tf.int64),
                                              num=tf.constant(2))
  assert out["images"].shape == (2, 32, 32, 1)
  images = out["images"].numpy()
  assert images.min() >= 0.0 and images.max() <= 1.0
  enc = loaded.signatures["encode"](images=out["images"])
  assert enc["c_mean"].shape == (2, TINY.c_dim)
  trav = loaded.signatures["traverse"](seed=tf.constant(0, tf.int64), dim=tf.constant(1),
                                       steps=tf.constant(3), low=tf.constant(0.0),
                                       high=tf.constant(1.0))
  assert trav["images"].shape == (3, 32, 32, 1)


def test_export_at_128_px(tmp_path):
  celeba = config_flags.config_from_args(
      [f"--flagfile={presets.preset_path('celeba_stylegan')}"])
  cfg = dataclasses.replace(celeba, model=dataclasses.replace(
      TINY, image_size=128, channels=3, ngf=1, ndf=1, c_dim=2))
  g, _, d = build_networks(cfg.model)
  for net in (g, d):
    stylegan.set_progress(net, 1, 0.25)  # 16 px, fading in
  path = export_lib.write_export(g, d, cfg, 123, str(tmp_path / "export"))
  loaded = tf.saved_model.load(path)
  c = tf.random.uniform((2, 2), seed=8)
  z = tf.random.normal((2, cfg.model.z_dim), seed=9)
  images = loaded.signatures["sample"](c=c, z=z)["images"]
  assert images.shape == (2, 128, 128, 3)
  # The export keeps the phase it was written at: 16 px content in 8 x 8 blocks.
  expected = (np.clip(g((c, z), training=False).numpy(), -1, 1) + 1) / 2
  np.testing.assert_allclose(images.numpy(), expected, atol=1e-5)
  assert loaded.signatures["encode"](images=images)["c_mean"].shape == (2, 2)


def test_gradient_penalty_is_taken_at_the_phase_resolution():
  # D pools its 32 px input to 8 px: scaling the norm by the pooling factor 4 gives the penalty
  # of the gradient with respect to the 8 px image itself.
  from oogan_tf import losses  # pylint: disable=g-import-not-at-top
  w = tf.random.normal((1, 8, 8, 1), seed=10)
  native = tf.random.normal((3, 8, 8, 1), seed=11)
  full = tf.repeat(tf.repeat(native, 4, axis=1), 4, axis=2)
  pooled_score = lambda x: tf.reduce_sum(tf.nn.avg_pool2d(x, 4, 4, "VALID") * w, axis=[1, 2, 3])
  native_score = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])
  expected = losses.gradient_penalty(native_score, native)
  np.testing.assert_allclose(float(losses.gradient_penalty(pooled_score, full, norm_scale=4.0)),
                             float(expected), rtol=1e-5)
  assert abs(float(losses.gradient_penalty(pooled_score, full)) - float(expected)) > 1e-3


def test_style_mixing_takes_the_second_style_from_the_crossover_level():
  g, _, _ = build_networks(TINY)
  c = tf.random.uniform((2, TINY.c_dim), seed=12)
  z, z2 = tf.random.normal((2, TINY.z_dim), seed=13), tf.random.normal((2, TINY.z_dim), seed=14)
  plain = g.forward(c, z, 2, 1.0).numpy()
  np.testing.assert_allclose(g.forward(c, z, 2, 1.0, mixing=(z2, tf.constant(4))).numpy(), plain)
  np.testing.assert_allclose(g.forward(c, z, 2, 1.0, mixing=(z2, tf.constant(0))).numpy(),
                             g.forward(c, z2, 2, 1.0).numpy(), atol=1e-6)
  mixed = g.forward(c, z, 2, 1.0, mixing=(z2, tf.constant(2))).numpy()
  assert not np.allclose(mixed, plain) and not np.allclose(mixed, g.forward(c, z2, 2, 1.0))
  assert new_trainer(STYLEGAN_SMOKE)._style_mixing(tf.constant([0, 1], tf.int64), 3) == ()
  mixing = dataclasses.replace(STYLEGAN_SMOKE, style_mixing=1.0)
  out = new_trainer(mixing).replica_step(next(_fixed_batches(mixing)))  # one eager iteration
  assert all(np.isfinite(float(v)) for v in out.values())
  with pytest.raises(ValueError, match="--style_mixing=1.5 is not allowed"):
    dataclasses.replace(STYLEGAN_SMOKE, style_mixing=1.5)


def test_start_size_sets_the_first_phase():
  cfg = dataclasses.replace(TINY, stylegan_start_size=16)
  assert stylegan.num_phases(cfg) == 2 and stylegan.phase_resolution(cfg, 0) == 16
  g, _, d = build_networks(cfg)
  x = g((tf.random.uniform((2, cfg.c_dim)), tf.random.normal((2, cfg.z_dim))), training=False)
  np.testing.assert_array_equal(x.numpy(), np.repeat(np.repeat(x.numpy()[:, ::2, ::2], 2, 1), 2, 2))
  assert d(x)[1].shape == (2, cfg.q_outputs)
  with pytest.raises(ValueError, match="stylegan_start_size=64"):
    dataclasses.replace(TINY, stylegan_start_size=64)


def test_initialisation_differs_per_weight_and_follows_the_seed():
  import keras  # pylint: disable=g-import-not-at-top
  keras.utils.set_random_seed(0)
  g, _, d = build_networks(TINY)
  # Same-shaped weights of different layers start different (no shared initializer seed).
  np.testing.assert_raises(AssertionError, np.testing.assert_array_equal,
                           g.level1.conv2.kernel.numpy(), g.level2.conv2.kernel.numpy())
  np.testing.assert_raises(AssertionError, np.testing.assert_array_equal,
                           d.block1.conv2.kernel.numpy(), d.block2.conv2.kernel.numpy())
  keras.utils.set_random_seed(0)
  again = build_networks(TINY).generator
  np.testing.assert_array_equal(g.level1.conv2.kernel.numpy(), again.level1.conv2.kernel.numpy())
  keras.utils.set_random_seed(1)
  other = build_networks(TINY).generator
  assert not np.array_equal(g.level1.conv2.kernel.numpy(), other.level1.conv2.kernel.numpy())
