"""The tiny configuration the tests train, export and serve: the smoke preset (flags/smoke.flags).

One definition (the preset) instead of the model spelled out in every test file.
  SMOKE            the smoke preset's TrainConfig (4 iterations, batch 8, 2 calibration batches)
  TINY_MODEL       its ModelConfig: 32 px greyscale, c_dim 3, z_dim 4, widths 4
  FAST_CALIBRATION the smoke preset's BatchNorm calibration sizes, for TrainConfigs built here
  write_uncalibrated_export  an export of untrained networks (the shared fixtures in conftest.py
                   use it)
"""
from oogan_tf import config_flags, export_lib, presets
from oogan_tf.config import TrainConfig
from oogan_tf.models import Discriminator, Generator, ModelConfig

SMOKE = config_flags.config_from_args([f"--flagfile={presets.preset_path('smoke')}"])
TINY_MODEL = SMOKE.model
FAST_CALIBRATION = {"standing_stats_batches": SMOKE.standing_stats_batches,
                    "encoder_recalibration_batches": SMOKE.encoder_recalibration_batches}


def write_uncalibrated_export(path, model: ModelConfig = TINY_MODEL, **train_config) -> str:
  """Writes an export of freshly initialised networks for `model` at step 0 to `path` (which
  must not exist) and returns its directory; `train_config` overrides TrainConfig fields (batch 8
  unless given). Unlike baselines.untrained_export (the untrained floor of the metrics), it is
  not seeded and not BatchNorm-calibrated: no data is read, which keeps the fixtures cheap."""
  cfg = TrainConfig(model=model, **{"batch_size": 8, **train_config})
  return export_lib.write_export(Generator(model).build_for(), Discriminator(model).build_for(),
                                 cfg, 0, str(path))
