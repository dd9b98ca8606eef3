"""Tests of oogan_tf.serving / python -m oogan_tf.serve on a tiny export.

The server runs in a thread on a free loopback port; REST answers are compared with calling the
signatures of the same export directly. The SIGTERM test runs the real entry point in a subprocess.
"""

import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import serving

MAX_BODY_BYTES = 200_000  # > one 32x32x1 image as JSON (~20 KB), small enough to test 413
ATOL = 1e-5  # JSON carries float32 values exactly; this only absorbs op-order differences


@pytest.fixture(scope="module")
def export_dir(tiny_export):
  """The session's untrained tiny export (conftest.py). Read-only."""
  return tiny_export


@pytest.fixture(scope="module")
def direct(export_dir):
  """The export's signatures called in-process: the reference for the REST answers."""
  loaded = tf.saved_model.load(export_dir)
  return lambda name, **kw: {k: v.numpy() for k, v in loaded.signatures[name](
      **{a: tf.constant(b) for a, b in kw.items()}).items()}


@pytest.fixture(scope="module")
def url(export_dir):
  server = serving.make_server(serving.ServedModel(export_dir), port=0,
                               max_body_bytes=MAX_BODY_BYTES)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield server.url
  server.shutdown()
  server.server_close()


def call(url, path, body=None, method=None):
  """Returns (status, parsed JSON or text); body: dict (sent as JSON) or bytes."""
  data = json.dumps(body).encode() if isinstance(body, dict) else body
  request = urllib.request.Request(url + path, data=data, method=method)
  try:
    with urllib.request.urlopen(request, timeout=60) as response:
      status, raw, kind = response.status, response.read(), response.headers["Content-Type"]
  except urllib.error.HTTPError as e:
    status, raw, kind = e.code, e.read(), e.headers["Content-Type"]
  return status, json.loads(raw) if kind == "application/json" else raw.decode()


def predict(url, body, path="v1/models/oogan:predict"):
  status, answer = call(url, path, body)
  assert status == 200, answer
  return answer


def test_status_and_metadata(url):
  status, answer = call(url, "v1/models/oogan")
  assert status == 200
  assert answer == {"model_version_status": [{"version": "0", "state": "AVAILABLE", "status": {
      "error_code": "OK", "error_message": ""}}]}
  assert call(url, "v1/models/oogan/versions/0")[0] == 200
  status, answer = call(url, "v1/models/oogan/metadata")
  assert status == 200
  assert answer["model_spec"] == {"name": "oogan", "signature_name": "", "version": "0"}
  sigs = answer["metadata"]["signature_def"]["signature_def"]
  assert set(sigs) >= {"serving_default", "sample", "sample_from_seed", "traverse", "encode"}
  images = sigs["encode"]["inputs"]["images"]
  assert images["dtype"] == "DT_FLOAT"
  assert [d["size"] for d in images["tensor_shape"]["dim"]] == ["-1", "32", "32", "1"]
  assert sigs["traverse"]["inputs"]["seed"]["dtype"] == "DT_INT64"
  assert set(sigs["sample_from_seed"]["outputs"]) == {"images", "c", "z"}


def test_sample_row_and_columnar_match_direct(url, direct):
  rng = np.random.default_rng(0)
  c = rng.uniform(0, 1, (3, 3)).astype(np.float32)
  z = rng.normal(size=(3, 4)).astype(np.float32)
  expected = direct("sample", c=c, z=z)["images"]
  rows = predict(url, {"instances": [{"c": ci.tolist(), "z": zi.tolist()} for ci, zi in zip(c, z)]})
  np.testing.assert_allclose(np.array(rows["predictions"]), expected, atol=ATOL)
  columns = predict(url, {"signature_name": "sample", "inputs": {"c": c.tolist(), "z": z.tolist()}},
                    path="v1/models/oogan/versions/0:predict")
  np.testing.assert_allclose(np.array(columns["outputs"]), expected, atol=ATOL)
  assert expected.shape == (3, 32, 32, 1)


def test_sample_from_seed_and_traverse_match_direct(url, direct):
  expected = direct("sample_from_seed", seed=np.int64(7), num=np.int32(2))
  columns = predict(url, {"signature_name": "sample_from_seed", "inputs": {"seed": 7, "num": 2}})
  for name in ("images", "c", "z"):
    np.testing.assert_allclose(np.array(columns["outputs"][name]), expected[name], atol=ATOL)
  rows = predict(url, {"signature_name": "sample_from_seed", "instances": [{"seed": 7, "num": 2}]})
  assert len(rows["predictions"]) == 2
  np.testing.assert_allclose(np.array(rows["predictions"][1]["z"]), expected["z"][1], atol=ATOL)

  args = {"seed": 3, "dim": 2, "steps": 5, "low": 0.0, "high": 1.0}
  expected = direct("traverse", seed=np.int64(3), dim=np.int32(2), steps=np.int32(5),
                    low=np.float32(0), high=np.float32(1))["images"]
  columns = predict(url, {"signature_name": "traverse", "inputs": args})
  np.testing.assert_allclose(np.array(columns["outputs"]), expected, atol=ATOL)
  rows = predict(url, {"signature_name": "traverse", "instances": [args]})
  np.testing.assert_allclose(np.array(rows["predictions"]), expected, atol=ATOL)


def test_encode_matches_direct(url, direct):
  images = np.random.default_rng(1).uniform(0, 1, (2, 32, 32, 1)).astype(np.float32)
  expected = direct("encode", images=images)
  rows = predict(url, {"signature_name": "encode", "instances": images.tolist()})
  np.testing.assert_allclose(np.array([r["c_mean"] for r in rows["predictions"]]),
                             expected["c_mean"], atol=ATOL)
  columns = predict(url, {"signature_name": "encode", "inputs": {"images": images.tolist()}})
  for name in expected:
    np.testing.assert_allclose(np.array(columns["outputs"][name]), expected[name], atol=ATOL)


PREDICT = "v1/models/oogan:predict"
C, Z = [[0.5, 0.5, 0.5]], [[0.0, 0.0, 0.0, 0.0]]
TRAVERSE = {"seed": 0, "dim": 0, "steps": 4, "low": 0.0, "high": 1.0}


BAD_REQUESTS = [  # (path, body, status, part of the error message)
    (PREDICT, b'{"instances": [', 400, "malformed JSON"),
    (PREDICT, b"\xff\xfe", 400, "malformed JSON"),
    (PREDICT, b"[1, 2]", 400, "must be a JSON object"),
    (PREDICT, {"inputs": {"c": C, "z": Z}, "instances": []}, 400, "exactly one of"),
    (PREDICT, {"signature_name": "nope", "inputs": {}}, 400,
     'Serving signature key "nope" not found'),
    ("v1/models/other:predict", {"inputs": {"c": C, "z": Z}}, 404, "model 'other'"),
    ("v1/models/oogan/versions/9:predict", {"inputs": {"c": C, "z": Z}}, 404, "version 9"),
    ("v1/models/oogan:classify", {"inputs": {"c": C, "z": Z}}, 404, "only ':predict'"),
    ("v2/nothing", {"inputs": {}}, 404, "unknown path"),
    (PREDICT, {"inputs": {"c": C}}, 400, "missing ['z']"),
    (PREDICT, {"inputs": {"c": C, "z": Z, "w": 1}}, 400, "unknown ['w']"),
    (PREDICT, {"inputs": {"c": [[0.5, 0.5]], "z": Z}}, 400,
     "input 'c' must have shape [batch, 3], got [1, 2]"),
    (PREDICT, {"inputs": {"c": [[0.5, 0.5, 0.5], [1.0]], "z": Z}}, 400, "not a rectangular"),
    (PREDICT, {"inputs": {"c": [["a", "b", "c"]], "z": Z}}, 400, "input 'c' must be numbers"),
    (PREDICT, {"inputs": {"c": [[None, 0, 0]], "z": Z}}, 400, "input 'c' must be numbers"),
    (PREDICT, b'{"inputs": {"c": [[NaN, 0, 0]], "z": [[0, 0, 0, 0]]}}', 400, "must be finite"),
    (PREDICT, {"inputs": {"c": C * 257, "z": Z * 257}}, 400, "batch of 1 to 256"),
    (PREDICT, {"instances": [[0.5, 0.5, 0.5]]}, 400, "keyed by input name"),
    (PREDICT, {"signature_name": "sample_from_seed", "inputs": {"seed": 1.5, "num": 1}}, 400,
     "input 'seed' must be integers"),
    (PREDICT, {"signature_name": "sample_from_seed", "inputs": {"seed": 1, "num": 257}}, 400,
     "input 'num' must be in [1, 256], got 257"),
    (PREDICT, {"signature_name": "sample_from_seed", "inputs": {"seed": 2**64, "num": 1}}, 400,
     "input 'seed' must be integers"),
    (PREDICT, {"signature_name": "sample_from_seed", "instances": [{"seed": 1, "num": 1}] * 2},
     400, "exactly one instance"),
    (PREDICT, {"signature_name": "traverse", "inputs": dict(TRAVERSE, dim=3)}, 400,
     "input 'dim' must be in [0, 2], got 3"),
    (PREDICT, {"signature_name": "traverse", "inputs": dict(TRAVERSE, dim=-1)}, 400,
     "input 'dim' must be in [0, 2], got -1"),
    (PREDICT, {"signature_name": "traverse", "inputs": dict(TRAVERSE, steps=1)}, 400,
     "input 'steps' must be in [2, 256], got 1"),
    (PREDICT, {"signature_name": "traverse", "inputs": dict(TRAVERSE, seed=[1])}, 400,
     "input 'seed' must have shape [], got [1]"),
    (PREDICT, {"signature_name": "encode", "inputs": [[[[0.5]]]]}, 400,
     "input 'images' must have shape [batch, 32, 32, 1], got [1, 1, 1, 1]"),
    (PREDICT, b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}', 413,
     "exceeds the limit of 200000 bytes"),
    ("v1/models/oogan/metadata", {"inputs": {}}, 405, "only ':predict'"),
]


@pytest.mark.parametrize("path,body,status,message", BAD_REQUESTS,
                         ids=[f"{status}-{message[:30]}" for _, _, status, message in BAD_REQUESTS])
def test_bad_requests(url, path, body, status, message):
  got_status, answer = call(url, path, body)
  assert (got_status, list(answer)) == (status, ["error"]), answer
  assert message in answer["error"]
  assert "Traceback" not in answer["error"]


def test_get_errors_and_static_files(url):
  assert call(url, "v1/models/oogan:predict") == (405, {"error": "predict takes POST"})
  assert call(url, "v1/models/x")[0] == 404
  for path in ("static/../model.py", "static/nothing.js", "favicon.ico"):
    assert call(url, path)[0] == 404, path
  status, page = call(url, "")
  assert status == 200 and "/static/explorer.js" in page
  assert call(url, "static/explorer.js")[0] == 200
  status, config = call(url, "api/config")
  assert config == {"model_name": "oogan", "version": 0, "image_size": 32, "channels": 1,
                    "c_dim": 3, "cat_dim": 0, "z_dim": 4, "code_range": [0.0, 1.0],
                    "max_batch": 256}


def test_body_limits_refused_from_headers(url):
  host, port = url.split("//")[1].rstrip("/").split(":")
  # A huge declared length is refused before any of the body is read.
  conn = http.client.HTTPConnection(host, int(port), timeout=10)
  conn.putrequest("POST", "/" + PREDICT)
  conn.putheader("Content-Length", str(10**12))
  conn.endheaders()
  response = conn.getresponse()
  assert response.status == 413 and "exceeds the limit" in json.loads(response.read())["error"]
  conn.close()
  with socket.create_connection((host, int(port)), timeout=10) as sock:
    sock.sendall(f"POST /{PREDICT} HTTP/1.0\r\n\r\n".encode())
    answer = sock.makefile("rb").read().decode()
  assert answer.startswith("HTTP/1.0 411") and "Content-Length header is required" in answer


def test_50_concurrent_requests(url, direct):
  seeds = list(range(50))

  def one(seed):
    body = {"signature_name": "sample_from_seed", "inputs": {"seed": seed, "num": 2}}
    return call(url, PREDICT, body)

  with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
    answers = list(pool.map(one, seeds))
  for seed, (status, answer) in zip(seeds, answers):
    assert status == 200, answer
    expected = direct("sample_from_seed", seed=np.int64(seed), num=np.int32(2))["images"]
    np.testing.assert_allclose(np.array(answer["outputs"]["images"]), expected, atol=ATOL)


def test_entry_point_serves_and_stops_on_sigterm(export_dir):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  proc = subprocess.Popen(
      [sys.executable, "-m", "oogan_tf.serve", f"--export_dir={export_dir}", "--port=0",
       "--model_name=tiny"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
  try:
    line = proc.stdout.readline()
    assert line.startswith("serve | http://127.0.0.1:"), line + proc.stderr.read()
    server_url = line.split()[2]
    assert call(server_url, "v1/models/tiny")[0] == 200
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
  finally:
    proc.kill()
  assert proc.returncode == 0, err
  assert out.strip() == "serve | stopped"
  assert "Traceback" not in err


def test_entry_point_errors_without_export(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "oogan_tf.serve", f"--export_dir={tmp_path}"],
      capture_output=True, text=True, timeout=60,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""))
  assert result.returncode == 2  # a usage error (oogan_tf.cli)
  assert "is not an oogan_tf export" in result.stderr and "Traceback" not in result.stderr
