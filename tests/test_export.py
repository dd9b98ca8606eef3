"""SavedModel export: signatures, determinism, in-graph validation, metadata, CLI and tools."""

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import in_process
from oogan_tf import calibration, export_lib
from tiny import SMOKE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")


@pytest.fixture(scope="module")
def run(smoke_run, tmp_path_factory):
  """A copy of the session's smoke run (4 iterations, conftest.py) and its export, written by the
  library from the newest checkpoint: (config, export directory, loaded export)."""
  model_dir = tmp_path_factory.mktemp("export") / "run"
  shutil.copytree(smoke_run, model_dir)
  cfg = dataclasses.replace(SMOKE, model_dir=str(model_dir), export_at_end=False)
  export_dir = export_lib.export_from_checkpoint(cfg.model_dir)
  return cfg, export_dir, tf.saved_model.load(export_dir)


def _seed_call(model, seed, num):
  return model.signatures["sample_from_seed"](seed=tf.constant(seed, tf.int64),
                                              num=tf.constant(num, tf.int32))


def test_default_location_metadata_and_signatures(run):
  cfg, export_dir, model = run
  assert export_dir == os.path.join(cfg.model_dir, "export", "4")
  assert set(model.signatures) == {"serving_default", "sample", "sample_from_seed", "traverse",
                                   "encode"}
  with open(os.path.join(export_dir, "assets", "oogan_metadata.json")) as f:
    meta = json.load(f)
  assert (meta["image_size"], meta["channels"], meta["c_dim"], meta["z_dim"]) == (32, 1, 3, 4)
  assert meta["code_range"] == [0.0, 1.0] and meta["iteration"] == 4
  assert meta["config"]["batch_size"] == 8


def test_sample_signatures_agree_and_are_deterministic(run):
  _, _, model = run
  out = _seed_call(model, 7, 5)
  images = out["images"].numpy()
  assert images.shape == (5, 32, 32, 1) and images.dtype == np.float32
  assert images.min() >= 0.0 and images.max() <= 1.0
  assert out["c"].shape == (5, 3) and out["z"].shape == (5, 4)
  again = _seed_call(model, 7, 5)["images"].numpy()
  np.testing.assert_array_equal(images, again)
  assert not np.allclose(images, _seed_call(model, 8, 5)["images"].numpy())
  direct = model.signatures["serving_default"](c=out["c"], z=out["z"])["images"].numpy()
  np.testing.assert_allclose(direct, images, atol=1e-6)
  # Inference-mode BatchNorm: one image does not depend on the rest of its batch.
  single = model.signatures["sample"](c=out["c"][:1], z=out["z"][:1])["images"].numpy()
  np.testing.assert_allclose(single[0], images[0], atol=1e-5)


def test_traverse_sweeps_one_dimension(run):
  _, _, model = run
  out = model.signatures["traverse"](seed=tf.constant(3, tf.int64), dim=tf.constant(1),
                                     steps=tf.constant(6), low=tf.constant(0.0),
                                     high=tf.constant(1.0))["images"].numpy()
  assert out.shape == (6, 32, 32, 1)
  assert np.abs(out[0] - out[-1]).max() > 0  # the code moves the image
  base = _seed_call(model, 3, 1)
  c = np.repeat(base["c"].numpy(), 6, axis=0)
  c[:, 1] = np.linspace(0, 1, 6)
  expected = model.signatures["sample"](c=tf.constant(c), z=tf.repeat(base["z"], 6, axis=0))
  np.testing.assert_allclose(out, expected["images"].numpy(), atol=1e-5)


def test_encode_returns_mean_and_log_sigma(run):
  _, _, model = run
  images = _seed_call(model, 1, 4)["images"]
  out = model.signatures["encode"](images=images)
  assert set(out) == {"c_mean", "c_log_sigma"}
  assert out["c_mean"].shape == (4, 3) and out["c_log_sigma"].shape == (4, 3)



def test_object_graph_holds_variables_and_q_kernels_by_path_not_layers(run):
  cfg, export_dir, model = run
  # pylint: disable=import-outside-toplevel
  from oogan_tf import export_adapters, export_format
  from oogan_tf.models import build_networks, checkpoint_of
  assert not hasattr(model, "generator") and not hasattr(model, "discriminator")
  networks = build_networks(cfg.model)
  assert len(model.generator_variables) == len(networks.ema_generator.variables)
  assert len(model.discriminator_variables) == len(networks.discriminator.variables)
  paths = ["discriminator/q_head/orth_conv/kernel", "discriminator/q_head/readout/transform"]
  assert sorted(getattr(model, export_format.ORTHOGONAL_KERNELS)) == paths
  kernels = export_adapters.find_orthogonal_kernels(model)
  assert [kernels[p].shape for p in paths] == [(4, 4, 6, 1), (4, 4, 6)]
  # They are the trained variables: the checkpoint's values.
  checkpoint_of(tf.Variable(0, dtype=tf.int64), networks).restore(
      tf.train.latest_checkpoint(os.path.join(cfg.model_dir, "ckpt"))).expect_partial()
  q = networks.discriminator.q_head
  np.testing.assert_array_equal(kernels[paths[0]], q.orth_conv.kernel.numpy())
  np.testing.assert_array_equal(kernels[paths[1]], q.readout.transform.numpy())
  # An export written before the attribute existed holds the layers; they are walked.
  old = tf.saved_model.load(os.path.join(REPO, "docs/results/models/dsprites_cpu_study_oogan_s2"))
  assert not hasattr(old, export_format.ORTHOGONAL_KERNELS)
  old_kernels = export_adapters.find_orthogonal_kernels(old)
  assert sorted(old_kernels) == paths
  assert [old_kernels[p].ndim for p in paths] == [4, 3]


@pytest.mark.parametrize("call,message", [
    (lambda m: m.signatures["sample"](c=tf.zeros((2, 5)), z=tf.zeros((2, 4))),
     "input `c` must have shape [batch, 3]"),
    (lambda m: m.signatures["sample"](c=tf.zeros((2, 3)), z=tf.zeros((2, 9))),
     "input `z` must have shape [batch, 4]"),
    (lambda m: m.signatures["traverse"](seed=tf.constant(0, tf.int64), dim=tf.constant(3),
                                        steps=tf.constant(4), low=tf.constant(0.0),
                                        high=tf.constant(1.0)),
     "input `dim` must be in [0, 3)"),
    (lambda m: m.signatures["traverse"](seed=tf.constant(0, tf.int64), dim=tf.constant(0),
                                        steps=tf.constant(1), low=tf.constant(0.0),
                                        high=tf.constant(1.0)),
     "input `steps` must be >= 2"),
    (lambda m: _seed_call(m, 0, 0), "input `num` must be >= 1"),
])
def test_invalid_inputs_name_the_input(run, call, message):
  _, _, model = run
  with pytest.raises(tf.errors.InvalidArgumentError) as info:
    call(model)
  assert message in info.value.message


def _closure(ops, step):
  seen, todo = set(), list(ops)
  while todo:
    op = todo.pop()
    if op not in seen:
      seen.add(op)
      todo.extend(step(op))
  return seen


@pytest.mark.parametrize("name", ["sample", "sample_from_seed", "traverse"])
def test_every_op_using_an_input_waits_for_the_input_checks(run, tmp_path, name):
  # An unordered check races the generator: in one CI run an empty batch failed inside BatchNorm
  # before `num` was checked, so the user saw a BatchNorm error. The ordering is checked on the
  # graph because the race itself shows up only under load.
  cfg, _, _ = run
  _, ema, discriminator, _ = export_lib.restore_for_serving(cfg.model_dir)
  (tmp_path / "meta.json").write_text("{}")
  module = export_lib.OOGANExport(ema, discriminator, cfg, str(tmp_path / "meta.json"))
  graph = getattr(module, name).get_concrete_function().graph
  ops = graph.get_operations()
  inputs = [op for op in ops if op.type == "Placeholder" and op.outputs[0].dtype != tf.resource]
  asserts = [op for op in ops if op.type == "Assert"]
  assert inputs and asserts
  uses_input = _closure(inputs, lambda op: [c for out in op.outputs for c in out.consumers()])
  after_check = _closure(asserts, lambda op: [c for out in op.outputs for c in out.consumers()]
                         + list(op._control_outputs))
  feeds_check = _closure(asserts, lambda op: [t.op for t in op.inputs] + list(op.control_inputs))
  unordered = sorted(op.name for op in uses_input - after_check - feeds_check - set(inputs))
  assert not unordered, unordered[:10]


@pytest.mark.slow
def test_cli_refuses_to_overwrite_and_tools_use_only_the_export(run, tmp_path):
  cfg, export_dir, model = run
  pb = os.path.join(export_dir, "saved_model.pb")
  before = os.stat(pb).st_mtime_ns
  again = in_process.run_main("oogan_tf.export", f"--model_dir={cfg.model_dir}")
  # The default path of the newest iteration exists: nothing to do, and nothing rewritten.
  assert again.returncode == 0, again.stderr[-2000:]
  assert f"already exported: {export_dir}" in again.stdout
  assert os.stat(pb).st_mtime_ns == before
  explicit = in_process.run_main("oogan_tf.export", f"--model_dir={cfg.model_dir}",
                                 f"--export_dir={export_dir}")
  assert explicit.returncode == 2 and "already exists" in explicit.stderr
  assert os.stat(pb).st_mtime_ns == before
  missing = in_process.run_main("oogan_tf.export", f"--model_dir={tmp_path / 'nothing'}")
  assert missing.returncode != 0 and "has no config.json" in missing.stderr

  grid = tmp_path / "grid.png"
  result = in_process.run_main("tools/sample.py", f"--export_dir={export_dir}", "--num=6",
                               "--seed=5", "--ncols=3", f"--output={grid}")
  assert result.returncode == 0, result.stderr[-2000:]
  pixels = np.asarray(Image.open(grid))
  assert pixels.shape == (2 * 33 + 1, 3 * 33 + 1)
  # The tool's seed gives the same pixels as calling the export's signature directly.
  images = _seed_call(model, 5, 6)["images"].numpy()
  expected = np.clip(np.round(images[0, :, :, 0] * 255), 0, 255).astype(np.uint8)
  np.testing.assert_array_equal(pixels[1:33, 1:33], expected)

  traversal = tmp_path / "trav.png"
  result = in_process.run_main("tools/traverse.py", f"--export_dir={export_dir}", "--steps=4",
                               f"--output={traversal}", "--plain", "--upscale=2")
  assert result.returncode == 0, result.stderr[-2000:]
  assert np.asarray(Image.open(traversal)).shape == (3 * 65 + 1, 4 * 65 + 1)
  bad = subprocess.run([sys.executable, "tools/sample.py", f"--export_dir={export_dir}",
                        "--upscale=0"], cwd=REPO, env=ENV, capture_output=True, text=True,
                       timeout=300)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines() == [
      "error: --upscale=0 is not allowed; it must be in [1, 16]"]
  sheet_path = tmp_path / "sheet.png"
  result = in_process.run_main("tools/traverse.py", f"--export_dir={export_dir}", "--steps=4",
                               f"--output={sheet_path}", "--min_cell=64")
  assert result.returncode == 0, result.stderr[-2000:]
  sheet = np.asarray(Image.open(sheet_path))
  # 3 codes x 4 steps of 32-px images upscaled x2, with labels above and to the left.
  assert sheet.ndim == 3 and sheet.shape[2] == 3
  assert sheet.shape[0] > 3 * 64 and sheet.shape[1] > 4 * 64


ROUND_TRIP = """
import sys
import numpy as np
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
seed = tf.constant(3, tf.int64)
out = {}
out["sample"] = m.signatures["sample"](c=tf.constant(inputs["c"]), z=tf.constant(inputs["z"]))["images"]
s = m.signatures["sample_from_seed"](seed=seed, num=tf.constant(4))
out.update({"seed_" + k: v for k, v in s.items()})
out["traverse"] = m.signatures["traverse"](seed=seed, dim=tf.constant(0), steps=tf.constant(5),
                                           low=tf.constant(0.0), high=tf.constant(1.0))["images"]
out.update({"encode_" + k: v for k, v in m.signatures["encode"](images=s["images"]).items()})
np.savez(sys.argv[3], **{k: v.numpy() for k, v in out.items()})
"""


@pytest.mark.slow
def test_round_trip_in_fresh_processes_matches_in_process_ema_generator(run, tmp_path):
  cfg, export_dir, _ = run
  rs = np.random.RandomState(0)
  c = rs.uniform(0, 1, (6, 3)).astype(np.float32)
  z = rs.normal(size=(6, 4)).astype(np.float32)
  np.savez(tmp_path / "inputs.npz", c=c, z=z)
  outputs = []
  for i in range(2):
    path = tmp_path / f"out{i}.npz"
    result = subprocess.run([sys.executable, "-c", ROUND_TRIP, export_dir,
                             str(tmp_path / "inputs.npz"), str(path)],
                            cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    outputs.append(dict(np.load(path)))
  first, second = outputs
  for key in first:  # deterministic across fresh processes
    np.testing.assert_array_equal(first[key], second[key], err_msg=key)
  shapes = {"sample": (6, 32, 32, 1), "seed_images": (4, 32, 32, 1), "seed_c": (4, 3),
            "seed_z": (4, 4), "traverse": (5, 32, 32, 1), "encode_c_mean": (4, 3),
            "encode_c_log_sigma": (4, 3)}
  assert {k: v.shape for k, v in first.items()} == shapes
  assert all(v.dtype == np.float32 for v in first.values())
  for key in ("sample", "seed_images", "traverse"):
    assert first[key].min() >= 0.0 and first[key].max() <= 1.0
  saved_cfg, ema, _, _ = export_lib.restore_for_serving(cfg.model_dir)
  calibration.standing_generator_statistics(ema, saved_cfg)  # as export_from_checkpoint does
  expected = (ema((c, z), training=False).numpy() + 1.0) / 2.0
  np.testing.assert_allclose(first["sample"], expected, atol=1e-5)
