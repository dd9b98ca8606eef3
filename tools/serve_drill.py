"""Slow-client drill for the HTTP server, on 127.0.0.1 only, bounded in count and time.

    python tools/serve_drill.py --export_dir=E [--clients=150] [--rounds=10]

Starts `python -m oogan_tf.serve` on a free port, opens --clients connections that send a partial
request line and then one byte per second (a client a per-read timeout would never drop), sends
one valid `sample_from_seed` request per second for --rounds seconds, then SIGTERMs the server
with the slow clients still connected. Prints one JSON line: the statuses and the worst latency of
the valid requests, and how long the server took to exit after SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

from absl import flags

from oogan_tf import cli
from oogan_tf import shared_flags

_EXPORT_DIR = shared_flags.string("export_dir", None, "Export to serve.")
_CLIENTS = shared_flags.integer("clients", 150, "Slow clients (1-1000).")
_ROUNDS = shared_flags.integer("rounds", 10, "Valid requests, one a second (1-600).")

_PREDICT = "/v1/models/oogan:predict"


def _valid_request() -> bytes:
  body = json.dumps({"signature_name": "sample_from_seed",
                     "inputs": {"seed": 1, "num": 1}}).encode()
  return f"POST {_PREDICT} HTTP/1.0\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def _exchange(address, request: bytes) -> tuple[str, float]:
  """(status line, seconds) of one request on its own connection."""
  start = time.monotonic()
  with socket.create_connection(address, timeout=10) as sock:
    sock.sendall(request)
    raw = b""
    while chunk := sock.recv(65536):
      raw += chunk
  return raw.split(b"\r\n", 1)[0].decode("latin-1"), time.monotonic() - start


def main(argv):
  del argv
  cli.export_metadata(_EXPORT_DIR.value)
  cli.check_ranges(flags.FLAGS, {"clients": (1, 1000), "rounds": (1, 600)})
  proc = subprocess.Popen([sys.executable, "-m", "oogan_tf.serve",
                           f"--export_dir={_EXPORT_DIR.value}", "--port=0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  slow = []
  try:
    ready = proc.stdout.readline()
    if not ready.startswith("serve | http://"):
      cli.fail(f"the server did not start: {ready.strip() or proc.stderr.read().strip()}")
    host, port = ready.split()[2].split("//")[1].rstrip("/").split(":")
    address = (host, int(port))
    for _ in range(_CLIENTS.value):
      sock = socket.create_connection(address, timeout=10)
      sock.sendall(b"POST " + _PREDICT.encode())
      slow.append(sock)
    answers = []
    for _ in range(_ROUNDS.value):
      for sock in slow:
        try:
          sock.sendall(b"H")
        except OSError:
          pass  # dropped by the server's deadline: what it should do
      answers.append(_exchange(address, _valid_request()))
      time.sleep(1.0)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    stop_s = time.monotonic() - start
  finally:
    proc.kill()
    for sock in slow:
      sock.close()
  print(json.dumps({
      "slow_clients": _CLIENTS.value, "valid_requests": len(answers),
      "statuses": sorted({status for status, _ in answers}),
      "worst_latency_s": round(max(seconds for _, seconds in answers), 3),
      "sigterm_exit_s": round(stop_s, 2), "returncode": proc.returncode}))


if __name__ == "__main__":
  cli.run(main, __doc__)
