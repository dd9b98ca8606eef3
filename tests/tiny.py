"""The tiny configuration the tests train, export and serve: the smoke preset (flags/smoke.flags).

One definition (the preset) instead of the model spelled out in every test file.
  SMOKE            the smoke preset's TrainConfig (4 iterations, batch 8, 2 calibration batches)
  TINY_MODEL       its ModelConfig: 32 px greyscale, c_dim 3, z_dim 4, widths 4
  FAST_CALIBRATION the smoke preset's BatchNorm calibration sizes, for TrainConfigs built here
"""
from oogan_tf import config_flags, presets

SMOKE = config_flags.config_from_args([f"--flagfile={presets.preset_path('smoke')}"])
TINY_MODEL = SMOKE.model
FAST_CALIBRATION = {"standing_stats_batches": SMOKE.standing_stats_batches,
                    "encoder_recalibration_batches": SMOKE.encoder_recalibration_batches}
