"""Tests for the orthogonality (kernel cosine similarity) metric."""

import json

import numpy as np
import pytest

from oogan_tf.metrics import compute_orthogonality, kernel_rows


def test_orthogonal_rows_and_diagonal_conventions():
  eye = np.eye(16)[:8]  # 8 orthonormal rows of 16
  kernel = np.transpose(eye.reshape(8, 4, 4), (1, 2, 0))[..., None]  # Keras depthwise [4,4,8,1]
  r = compute_orthogonality({"dw": kernel})
  json.dumps(r)
  assert r["mean_abs_cos_offdiag"] == pytest.approx(0.0)
  assert r["mean_sq_cos_offdiag"] == pytest.approx(0.0)
  assert r["mean_abs_cos_all"] == pytest.approx(1.0 / 8)
  assert r["mean_sq_cos_all"] == pytest.approx(1.0 / 8)  # the training loss floor 1/n
  assert r["layers"]["dw"]["num_rows"] == 8.0 and r["layers"]["dw"]["row_length"] == 16.0


def test_identical_rows_and_layouts_agree():
  rs = np.random.RandomState(0)
  rows = rs.randn(12, 16)
  keras_dw = np.transpose(rows.reshape(12, 4, 4), (1, 2, 0))[..., None]  # [4,4,12,1]
  transform_first = np.transpose(rows.reshape(12, 4, 4), (1, 2, 0))  # [4,4,12]
  transform_last = rows.reshape(12, 4, 4)  # [12,4,4]
  torch_conv = rows.reshape(12, 1, 4, 4)  # [out,in,k,k]
  for k in (keras_dw, transform_first, transform_last, torch_conv):
    np.testing.assert_allclose(kernel_rows(k), rows)
  r = compute_orthogonality([keras_dw, transform_last])
  assert r["layers"]["layer_0"] == r["layers"]["layer_1"]
  same = compute_orthogonality([np.tile(rows[:1], (5, 1))])
  assert same["mean_abs_cos_offdiag"] == pytest.approx(1.0)
  assert same["mean_sq_cos_all"] == pytest.approx(1.0)


def test_pooled_overall_and_matches_loss():
  rs = np.random.RandomState(1)
  a, b = rs.randn(12, 16), rs.randn(32, 16)
  r = compute_orthogonality({"a": a, "b": b})
  for name, m in (("a", a), ("b", b)):
    u = m / np.linalg.norm(m, axis=1, keepdims=True)
    assert r["layers"][name]["mean_sq_cos_all"] == pytest.approx(np.mean((u @ u.T) ** 2))
  la, lb = r["layers"]["a"], r["layers"]["b"]
  expected = (la["mean_abs_cos_offdiag"] * 132 + lb["mean_abs_cos_offdiag"] * 992) / (132 + 992)
  assert r["mean_abs_cos_offdiag"] == pytest.approx(expected)


def test_validation():
  with pytest.raises(ValueError, match="cannot infer"):
    compute_orthogonality([np.ones((4, 4, 4, 4))])
  np.testing.assert_allclose(kernel_rows(np.ones((4, 4, 4, 4)), "spatial_last"), np.ones((16, 16)))
  with pytest.raises(ValueError, match="zero"):
    compute_orthogonality([np.zeros((3, 16))])
  with pytest.raises(ValueError, match="at least one"):
    compute_orthogonality([])
  with pytest.raises(ValueError, match="layout"):
    compute_orthogonality([np.ones((3, 16))], layout="nchw")
  with pytest.raises(ValueError, match="2-D, 3-D or 4-D"):
    compute_orthogonality([np.ones(16)])
