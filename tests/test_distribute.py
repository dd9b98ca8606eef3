"""tf.distribute: MirroredStrategy on 2 logical CPUs equals one device on the same global batch;
checkpoints restore across replica counts; a 2-process MultiWorkerMirroredStrategy run trains."""

import dataclasses
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf.config import TrainConfig
from oogan_tf.trainer import new_trainer
from tiny import TINY_MODEL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = TrainConfig(model=TINY_MODEL, batch_size=8, instance_noise_steps=2, export_at_end=False)


def _global_batches():
  rs = np.random.RandomState(0)
  images = rs.choice([-1.0, 1.0], size=(3, 8, 32, 32, 1)).astype(np.float32)
  return tf.data.Dataset.from_tensor_slices(images).repeat()


_STRATEGIES = []


def _mirrored():
  # One strategy per process: the train loop of a second MirroredStrategy made in the same
  # process aborted its all-reduces with a collective shape mismatch (either config second).
  if not _STRATEGIES:
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "conftest splits the CPU into two logical devices"
    _STRATEGIES.append(tf.distribute.MirroredStrategy(devices))
  return _STRATEGIES[0]


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [CFG, dataclasses.replace(CFG, cr_weight=1.0, cr_start_step=1),
                                 dataclasses.replace(CFG, info_update="joint", d_lr_ratio=2.0,
                                                     cr_weight=1.0, cr_start_step=1)],
                         ids=["oogan", "contrastive", "joint_contrastive"])
def test_mirrored_two_replicas_match_one_device(cfg):
  single = new_trainer(cfg)
  out_single = single.train_loop(iter(_global_batches()), tf.constant(3, tf.int64))
  strategy = _mirrored()
  mirrored = new_trainer(cfg, strategy)
  assert strategy.num_replicas_in_sync == 2 and mirrored.per_replica_batch == 4
  dist = iter(strategy.experimental_distribute_dataset(_global_batches()))
  out_mirrored = mirrored.train_loop(dist, tf.constant(3, tf.int64))
  for key, value in out_single.items():
    assert float(out_mirrored[key]) == pytest.approx(float(value), rel=2e-3, abs=2e-4), key
  # Compare what G computes, not raw weights: a conv bias in front of BatchNorm has a zero true
  # gradient, so Adam turns float noise there into +-lr steps that the output never sees.
  c = tf.random.stateless_uniform((8, 3), [1, 2])
  z = tf.random.stateless_normal((8, 4), [3, 4])
  np.testing.assert_allclose(single.generator((c, z), training=True).numpy(),
                             mirrored.generator((c, z), training=True).numpy(), atol=2e-3)
  # Orthogonal private steps: identical weights under replicas (gradients averaged, not summed).
  for a, b in zip(single.ortho.variables, mirrored.ortho.variables):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)

  # A checkpoint written under 2 replicas restores into a single-device trainer.
  path = mirrored.checkpoint().save(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                 f"oogan_mirrored_{os.getpid()}", "ckpt"))
  restored = new_trainer(cfg)
  restored.checkpoint().restore(path).assert_existing_objects_matched()
  assert int(restored.step) == 3
  for a, b in zip(restored.discriminator.trainable_variables,
                  mirrored.discriminator.trainable_variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


@pytest.mark.slow
def test_two_process_multi_worker_trains_and_checkpoints(tmp_path):
  ports = _free_ports(2)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
  model_dir = tmp_path / "run"
  procs, logs = [], []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                  "index": index}}))
    # Files, not pipes: TF logs a lot, and a worker blocked on a full pipe would stall the
    # collective ops of the other.
    log = open(tmp_path / f"worker{index}.log", "w+")
    logs.append(log)
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "oogan_tf.train", "--flagfile=flags/smoke.flags",
         "--strategy=multi_worker", f"--model_dir={model_dir}", "--export_at_end=false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
  try:
    for p in procs:
      p.wait(timeout=240)
  finally:
    for p in procs:
      p.kill()
  outputs = []
  for log in logs:
    log.seek(0)
    outputs.append(log.read())
    log.close()
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  assert "replicas=2" in outputs[0] and "step 4/4" in outputs[1]
  assert tf.train.latest_checkpoint(str(model_dir / "ckpt")).endswith("ckpt-4")
  assert (model_dir / "config.json").exists()


@pytest.mark.parametrize("flags, warns", [
    ("fpu sse2 avx avx2 fma", True),               # AVX2-only CPU: bf16 is emulated
    ("fpu avx2 avx512f avx512_bf16", False),        # AVX512-BF16 units
    ("fpu avx2 amx_bf16 amx_tile", False),          # AMX units
])
def test_cpu_bf16_warning_follows_the_cpu_flags(tmp_path, flags, warns):
  from oogan_tf.distribute import cpu_bf16_warning
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
  message = cpu_bf16_warning("mixed_bfloat16", str(cpuinfo))
  assert (message is not None) == warns
  if warns:
    assert "--precision=float32" in message and str(cpuinfo) in message
  assert cpu_bf16_warning("float32", str(cpuinfo)) is None
  assert cpu_bf16_warning("mixed_bfloat16", str(tmp_path / "missing")) is None
