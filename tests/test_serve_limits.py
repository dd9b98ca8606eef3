"""Abuse of the HTTP server, over raw sockets on 127.0.0.1: bad lengths, slow clients, floods,
malformed requests, SIGTERM under slow clients. Every wait is bounded; every answer is checked
for its status, its JSON error body and how long it took."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from oogan_tf import serving
from oogan_tf.serving import model as model_lib

PREDICT = "/v1/models/oogan:predict"


@pytest.fixture(scope="module")
def export_dir(tiny_export):
  """The session's untrained tiny export (conftest.py). Read-only."""
  return tiny_export


@pytest.fixture(scope="module")
def served(export_dir):
  return serving.ServedModel(export_dir)


@pytest.fixture
def start(served):
  """start(**limits) -> (host, port) of a server running in a thread until the test ends."""
  servers = []

  def _start(**limits):
    server = serving.make_server(served, port=0, **limits)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return server.server_address

  yield _start
  for server in servers:
    server.shutdown()
    server.server_close()


def exchange(address, data: bytes, timeout=5.0):
  """Sends `data` and reads one answer (head, then Content-Length body bytes), as an HTTP client
  does: (status, headers, body, seconds)."""
  t0 = time.monotonic()
  with socket.create_connection(address, timeout=timeout) as sock:
    try:
      sock.sendall(data)
    except ConnectionError:
      pass  # the server may answer and close before all of a refused body is sent
    raw = b""
    while b"\r\n\r\n" not in raw:
      chunk = sock.recv(65536)
      assert chunk, f"connection closed after {raw!r}"
      raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    while len(body) < int(headers["Content-Length"]):
      chunk = sock.recv(65536)
      assert chunk, "connection closed inside the body"
      body += chunk
  return int(lines[0].split()[1]), headers, body, time.monotonic() - t0


def post(length_header: str, body: bytes = b"") -> bytes:
  return (f"POST {PREDICT} HTTP/1.0\r\n{length_header}\r\n").encode() + body


def post_json(body: bytes) -> bytes:
  return post(f"Content-Length: {len(body)}\r\n", body)


VALID_REQUEST = post_json(json.dumps(
    {"signature_name": "sample_from_seed", "inputs": {"seed": 1, "num": 1}}).encode())


ABUSE = [  # (name, request bytes, status, part of the error message)
    ("negative length", post("Content-Length: -1\r\n", b"x" * 1_000_000), 400,
     "non-negative integer"),
    ("non-numeric length", post("Content-Length: 12abc\r\n", b"{}"), 400, "non-negative integer"),
    ("missing length", post(""), 411, "Content-Length header is required"),
    ("chunked", post("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"), 411, "chunked"),
    ("huge length", post("Content-Length: 99999999999\r\n"), 413, "exceeds the limit"),
    ("short body", post("Content-Length: 100\r\n", b"{}"), 408, "not received within"),
    ("PUT", f"PUT {PREDICT} HTTP/1.0\r\n\r\n".encode(), 501, "Unsupported method ('PUT')"),
    ("DELETE", b"DELETE / HTTP/1.0\r\n\r\n", 501, "Unsupported method"),
    ("OPTIONS", b"OPTIONS * HTTP/1.0\r\n\r\n", 501, "Unsupported method"),
    ("PATCH", b"PATCH / HTTP/1.0\r\n\r\n", 501, "Unsupported method"),
    ("TRACE", b"TRACE / HTTP/1.0\r\n\r\n", 501, "Unsupported method"),
    ("100 KB URL", b"GET /" + b"a" * 100_000 + b" HTTP/1.0\r\n\r\n", 414, "request line"),
    ("200 headers", b"GET / HTTP/1.0\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431, "headers"),
    ("long header", b"GET / HTTP/1.0\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n", 431, "header line"),
    ("garbage request line", b"\x16\x03\x01 hello there friend\r\n\r\n", 400, "Bad request"),
    ("bad version", b"GET / HTTP/9.9\r\n\r\n", 505, "Invalid HTTP version"),
    ("unknown path", b"GET /nothing HTTP/1.0\r\n\r\n", 404, "unknown path"),
    ("5000-digit integer", post_json(b'{"inputs": {"seed": ' + b"9" * 5000 + b', "num": 1}}'),
     400, "malformed JSON"),
    ("100000-deep nesting", post_json(b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
     400, "malformed JSON"),
]


@pytest.mark.parametrize("request_bytes,status,message", [a[1:] for a in ABUSE],
                         ids=[a[0] for a in ABUSE])
def test_abuse_is_answered_with_a_json_error_in_bounded_time(start, request_bytes, status,
                                                               message):
  address = start(max_body_bytes=300_000, request_timeout_s=1.0)
  got, headers, body, seconds = exchange(address, request_bytes)
  assert got == status, body
  assert headers["Content-Type"] == "application/json"
  assert message in json.loads(body)["error"]
  assert seconds < (2.5 if status == 408 else 1.0), seconds
  assert exchange(address, VALID_REQUEST)[0] == 200  # still serving


def test_slow_clients_are_dropped_at_the_deadline_and_do_not_block_others(start):
  address = start(request_timeout_s=1.5, workers=2)
  slow = [socket.create_connection(address, timeout=5) for _ in range(12)]
  try:
    for sock in slow:
      sock.sendall(b"POST " + PREDICT.encode())
    t0 = time.monotonic()
    for _ in range(3):  # one byte now and then: a per-read timeout would never fire
      for sock in slow:
        sock.sendall(b"H")
      assert exchange(address, VALID_REQUEST)[0] == 200
      time.sleep(0.3)
    for sock in slow:
      answer = sock.recv(4096)
      assert answer.startswith(b"HTTP/1.0 408"), answer
    assert time.monotonic() - t0 < 4.0
  finally:
    for sock in slow:
      sock.close()


def test_over_the_connection_cap_gets_503_with_retry_after(start):
  address = start(max_connections=3, request_timeout_s=5.0)
  idle = [socket.create_connection(address, timeout=5) for _ in range(3)]
  try:
    time.sleep(0.2)  # the server has accepted them
    status, headers, body, seconds = exchange(address, VALID_REQUEST)
    assert status == 503 and headers["Retry-After"] == "1" and seconds < 1.5
    assert "--max_connections" in json.loads(body)["error"]
  finally:
    for sock in idle:
      sock.close()
  time.sleep(0.2)
  assert exchange(address, VALID_REQUEST)[0] == 200


def test_request_size_cap_follows_the_image_size(export_dir):
  small = serving.ServedModel(export_dir, max_request_values=4 * 32 * 32)
  assert small.max_batch == 4 and small.explorer_config()["max_batch"] == 4
  with pytest.raises(serving.RequestError, match=r"input 'num' must be in \[1, 4\], got 5"):
    small.check_inputs("sample_from_seed", {"seed": np.array(1), "num": np.array(5)})


def test_work_budget_refuses_with_503_when_full():
  budget = model_lib.WorkBudget(100, wait_s=0.2)
  with budget.reserve(80):
    t0 = time.monotonic()
    with pytest.raises(serving.RequestError) as refused:
      with budget.reserve(30):
        pass
    assert refused.value.status == 503 and time.monotonic() - t0 < 1.0
  with budget.reserve(100):
    pass


def test_sigterm_with_slow_clients_exits_within_the_deadline(export_dir):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  proc = subprocess.Popen(
      [sys.executable, "-m", "oogan_tf.serve", f"--export_dir={export_dir}", "--port=0",
       "--shutdown_timeout_s=2", "--request_timeout_s=60"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
  slow = []
  try:
    line = proc.stdout.readline()
    assert line.startswith("serve | http://127.0.0.1:"), line + proc.stderr.read()
    host, port = line.split()[2].split("//")[1].rstrip("/").split(":")
    for _ in range(3):
      sock = socket.create_connection((host, int(port)), timeout=5)
      sock.sendall(b"POST " + PREDICT.encode() + b" HTTP/1.0\r\nContent-Le")
      slow.append(sock)
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    seconds = time.monotonic() - t0
  finally:
    proc.kill()
    for sock in slow:
      sock.close()
  assert proc.returncode == 0, err
  assert out.strip() == "serve | stopped" and "Traceback" not in err
  assert seconds < 2 + 3, seconds  # the deadline plus interpreter exit on a busy 2-core machine


def test_serve_drill_prints_statuses_latency_and_sigterm_time(export_dir):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run(
      [sys.executable, "tools/serve_drill.py", f"--export_dir={export_dir}", "--clients=5",
       "--rounds=1"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  assert report["slow_clients"] == 5 and report["valid_requests"] == 1
  assert report["statuses"] == ["HTTP/1.0 200 OK"] and report["returncode"] == 0
  assert report["sigterm_exit_s"] < 10
