"""The export format module: metadata reading errors, and the one definition of a traversal."""
import json
import os

import numpy as np
import pytest

from oogan_tf import export_format


def _fake_export(path, metadata="{}"):
  os.makedirs(os.path.join(path, "assets"))
  with open(os.path.join(path, "saved_model.pb"), "wb") as f:
    f.write(b"")
  with open(os.path.join(path, export_format.METADATA_ASSET), "w") as f:
    f.write(metadata)
  return str(path)


@pytest.mark.parametrize("make, message", [
    (lambda tmp: None, "--export_dir is required"),
    (lambda tmp: str(tmp / "missing"), "does not exist or is not a directory"),
    (lambda tmp: str(tmp), "is not an oogan_tf export"),
    (lambda tmp: _fake_export(tmp / "e", "{not json"), "cannot be read"),
    (lambda tmp: _fake_export(tmp / "e", "[1, 2]"), "is not a JSON object"),
])
def test_read_metadata_names_the_flag_on_one_line(tmp_path, make, message):
  with pytest.raises(export_format.NotAnExportError, match=message) as err:
    export_format.read_metadata(make(tmp_path))
  assert "\n" not in str(err.value) and "--export_dir" in str(err.value)


def test_read_metadata_returns_the_object(tmp_path):
  path = _fake_export(tmp_path / "e", json.dumps({"c_dim": 3, "format": export_format.FORMAT}))
  assert export_format.read_metadata(path) == {"c_dim": 3, "format": "oogan_tf.export/1"}


def test_traversal_inputs_sweep_one_code_per_row():
  base_c = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], np.float32)
  z = np.array([[1.0, -1.0], [2.0, -2.0]], np.float32)
  values = np.array([0.0, 0.5, 1.0], np.float32)
  c, zz = export_format.traversal_inputs(base_c, z, 1, values)
  c, zz = c.numpy(), zz.numpy()
  assert c.shape == (6, 3) and zz.shape == (6, 2)
  np.testing.assert_array_equal(c[:, 1], [0.0, 0.5, 1.0, 0.0, 0.5, 1.0])
  np.testing.assert_array_equal(c[:3, [0, 2]], np.repeat(base_c[:1, [0, 2]], 3, axis=0))
  np.testing.assert_array_equal(c[3:, [0, 2]], np.repeat(base_c[1:, [0, 2]], 3, axis=0))
  np.testing.assert_array_equal(zz, np.repeat(z, 3, axis=0))
