"""Image sheets: the labelled traversal sheet keeps every image, upscaled, in its cell."""

import numpy as np
import pytest

from oogan_tf import visualize


def test_labelled_sheet_places_every_image_once_upscaled():
  r, k, h = 3, 4, 16
  # Image (i, j) is a flat grey of a value no label pixel (black) or background (white) has.
  values = (40 + 10 * np.arange(r)[:, None] + 2 * np.arange(k)[None, :]).astype(np.uint8)
  images = np.broadcast_to(values[:, :, None, None, None], (r, k, h, h, 1)).copy()
  sheet = visualize.labelled_sheet(images, ["c00", "c01", "c02"], ["0.00", "0.33", "0.67", "1.00"],
                                   min_cell=48)
  assert sheet.dtype == np.uint8 and sheet.shape[-1] == 3
  scale = 3  # ceil(48 / 16)
  for i in range(r):
    for j in range(k):
      mask = np.all(sheet == values[i, j], axis=-1)
      # A stray anti-aliased label pixel may share the grey; the tile is the full block.
      full_rows = np.nonzero(mask.sum(axis=1) >= h * scale)[0]
      full_cols = np.nonzero(mask.sum(axis=0) >= h * scale)[0]
      assert len(full_rows) == len(full_cols) == h * scale, (i, j)
      assert np.ptp(full_rows) + 1 == np.ptp(full_cols) + 1 == h * scale
  # Rows go down and columns go right in order.
  centre = lambda v: np.median(np.argwhere(np.all(sheet == v, axis=-1)), axis=0)
  assert centre(values[1, 0])[0] > centre(values[0, 0])[0]
  assert centre(values[0, 1])[1] > centre(values[0, 0])[1]
  assert (sheet[:16] < 128).any()  # the column labels are drawn above the images


def test_labelled_sheet_needs_a_label_per_row_and_column():
  with pytest.raises(ValueError, match="2 rows x 3 columns need as many labels"):
    visualize.labelled_sheet(np.zeros((2, 3, 8, 8, 1), np.uint8), ["a"], ["x", "y", "z"])


def test_flat_hparams_flattens_nested_config_into_plugin_types():
  from oogan_tf.summaries import flat_hparams  # pylint: disable=g-import-not-at-top
  flat = flat_hparams({"model": {"c_dim": 6, "spectral_norm": "reference", "extra": [1, 2]},
                       "learning_rate": 1e-4, "export_at_end": True, "data_dir": None})
  assert flat == {"model.c_dim": 6, "model.spectral_norm": "reference", "model.extra": "[1, 2]",
                  "learning_rate": 1e-4, "export_at_end": True}
