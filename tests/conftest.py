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
