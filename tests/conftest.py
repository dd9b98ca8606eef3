"""Shared pytest setup: quiet TensorFlow logs, CPU only, two logical CPU devices.

The CPU is split into two logical devices before TensorFlow initialises, so MirroredStrategy can
be tested on one machine; single-device code runs on the first as usual.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position,wrong-import-order


def pytest_collection_modifyitems(items):
  """Modules with `slow` tests first (each keeps its order): with `--dist loadscope` the workers
  take whole modules in this order, so the long ones start early and the short ones fill the
  end, instead of one worker finishing a long module alone."""
  slow = {item.module.__name__ for item in items if item.get_closest_marker("slow")}
  items.sort(key=lambda item: item.module.__name__ not in slow)


SMOKE_COMMAND = ("--flagfile=flags/smoke.flags", "--export_at_end=false")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
  """A finished run of the smoke preset (4 iterations, checkpoints at 2 and 4, no export):
  `python -m oogan_tf.train --flagfile=flags/smoke.flags --export_at_end=false
  --model_dir=...`, run once per session in this process (tests/in_process.py). What it printed
  is beside it: smoke_run.parent / "stdout.txt". Read-only: copy it first."""
  import in_process  # pylint: disable=g-import-not-at-top
  model_dir = tmp_path_factory.mktemp("smoke") / "run"
  result = in_process.run_main("oogan_tf.train", *SMOKE_COMMAND, f"--model_dir={model_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  (model_dir.parent / "stdout.txt").write_text(result.stdout)
  return model_dir


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
  """An export of the untrained tiny model (tiny.TINY_MODEL, batch 8), written once per session.
  Read-only: copy it before changing anything in it."""
  from tiny import write_uncalibrated_export  # pylint: disable=g-import-not-at-top
  return write_uncalibrated_export(tmp_path_factory.mktemp("tiny") / "export")


@pytest.fixture(scope="session")
def tiny_cat_export(tmp_path_factory):
  """An export of the untrained tiny model with a 4-way categorical code (test_categorical_code's
  K), its config naming digits (a dataset with labels), written once per session. Read-only."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=g-import-not-at-top
  from tiny import FAST_CALIBRATION, TINY_MODEL, write_uncalibrated_export
  return write_uncalibrated_export(tmp_path_factory.mktemp("tiny_cat") / "export",
                          dataclasses.replace(TINY_MODEL, cat_dim=4), dataset="digits",
                          **FAST_CALIBRATION)
