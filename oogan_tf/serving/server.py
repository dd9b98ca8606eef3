"""HTTP server: TensorFlow Serving's REST API over one export, plus the latent explorer page.

Routes (NAME is the served model name, V its version, see ServedModel.version):
  POST /v1/models/NAME[/versions/V]:predict   predict (oogan_tf.serving.rest formats)
  GET  /v1/models/NAME[/versions/V]           model status, as TensorFlow Serving reports it
  GET  /v1/models/NAME[/versions/V]/metadata  signature defs (input/output names, dtypes, shapes)
  GET  /api/config                            the explorer's settings (image size, c_dim, ...)
  GET  /  and  /static/FILE                   the explorer page (oogan_tf/serving/static)
Every error is JSON {"error": message} with status 400 (bad request), 404 (unknown path, model or
version), 405, 411 (no Content-Length), 413 (body over max_body_bytes) or 500 (a server bug,
logged here; the client never sees a stack trace).
"""

from __future__ import annotations

import http.server
import json
import mimetypes
import os
import re
import signal
import threading

from absl import logging

from oogan_tf.serving import rest
from oogan_tf.serving.model import RequestError, ServedModel

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # a JSON batch of 256 64x64 RGB images is ~30 MB

_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                         r"(?P<rest>/metadata|:[A-Za-z]+)?$")


class ServingHTTPServer(http.server.ThreadingHTTPServer):
  """A ThreadingHTTPServer that knows its model.

  Threads are not daemonic, so server_close() waits for requests in flight (clean SIGTERM).
  """

  daemon_threads = False
  request_queue_size = 128  # bursts of concurrent clients are not dropped by the listen backlog

  def __init__(self, address, served: ServedModel, model_name: str, max_body_bytes: int):
    self.served = served
    self.model_name = model_name
    self.max_body_bytes = max_body_bytes
    self.static_files = set(os.listdir(STATIC_DIR))
    super().__init__(address, _Handler)

  @property
  def url(self) -> str:
    host, port = self.server_address[:2]
    return f"http://{host}:{port}/"


class _Handler(http.server.BaseHTTPRequestHandler):
  """One request; HTTP/1.0, so every connection carries one request and then closes."""

  server: ServingHTTPServer
  server_version = "oogan_tf-serve"
  timeout = 30  # seconds a client may stall mid-request before its thread gives up

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    logging.info("%s - %s", self.address_string(), format % args)

  def _send(self, status: int, body: bytes, content_type: str):
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    self.end_headers()
    if self.command != "HEAD":
      self.wfile.write(body)

  def _send_json(self, status: int, obj):
    self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

  def _guarded(self, method):
    try:
      method()
    except RequestError as e:
      self._send_json(e.status, {"error": e.message})
    except (TimeoutError, ConnectionError):
      self.close_connection = True  # the client went away or stalled; nobody to answer
    except Exception:  # pylint: disable=broad-except
      logging.exception("internal error serving %s %s", self.command, self.path)
      self._send_json(500, {"error": "internal server error (see the server log)"})

  def do_GET(self):  # pylint: disable=invalid-name
    self._guarded(self._get)

  def do_HEAD(self):  # pylint: disable=invalid-name
    self._guarded(self._get)

  def do_POST(self):  # pylint: disable=invalid-name
    self._guarded(self._post)

  def _model_route(self) -> tuple[str, str] | None:
    """(version or None, suffix "" | "/metadata" | ":verb") of a /v1/models path, else None.

    Raises: RequestError(404) for another model name or version.
    """
    match = _MODEL_PATH.match(self.path.split("?", 1)[0])
    if not match:
      return None
    if match["name"] != self.server.model_name:
      raise RequestError(404, f"Servable not found for request: model '{match['name']}' (this "
                         f"server serves '{self.server.model_name}')")
    version = match["version"]
    if version is not None and version != str(self.server.served.version):
      raise RequestError(404, f"Servable not found for request: version {version} of model "
                         f"'{self.server.model_name}' (served version: "
                         f"{self.server.served.version})")
    return version, match["rest"] or ""

  def _get(self):
    path = self.path.split("?", 1)[0]
    served = self.server.served
    route = self._model_route()
    if route is not None:
      _, suffix = route
      if suffix == "":
        self._send_json(200, {"model_version_status": [{
            "version": str(served.version), "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]})
      elif suffix == "/metadata":
        self._send_json(200, {
            "model_spec": {"name": self.server.model_name, "signature_name": "",
                           "version": str(served.version)},
            "metadata": {"signature_def": {"signature_def": served.signature_defs()}}})
      else:
        raise RequestError(405, f"{suffix[1:]} takes POST")
    elif path == "/api/config":
      self._send_json(200, dict(served.explorer_config(), model_name=self.server.model_name))
    elif path in ("/", "/index.html"):
      self._static("index.html")
    elif path.startswith("/static/"):
      self._static(path[len("/static/"):])
    else:
      raise RequestError(404, f"unknown path {path}")

  def _static(self, name: str):
    # Only files that ship in the static directory: no path from the URL reaches the filesystem.
    if name not in self.server.static_files:
      raise RequestError(404, f"unknown path {self.path}")
    with open(os.path.join(STATIC_DIR, name), "rb") as f:
      body = f.read()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
      content_type += "; charset=utf-8"
    self._send(200, body, content_type)

  def _read_body(self) -> bytes:
    length = self.headers.get("Content-Length")
    if length is None:
      raise RequestError(411, "a Content-Length header is required")
    try:
      length = int(length)
    except ValueError as e:
      raise RequestError(400, f"bad Content-Length {length!r}") from e
    if length > self.server.max_body_bytes:
      # Refuse without reading: the connection closes after the answer (HTTP/1.0).
      raise RequestError(413, f"request body of {length} bytes exceeds the limit of "
                         f"{self.server.max_body_bytes} bytes (--max_body_bytes)")
    return self.rfile.read(length)

  def _post(self):
    route = self._model_route()
    if route is None:
      raise RequestError(404, f"unknown path {self.path}")
    _, suffix = route
    if suffix != ":predict":
      raise RequestError(404 if suffix.startswith(":") else 405,
                         f"only ':predict' is served, not '{suffix or 'POST'}'")
    served = self.server.served
    signature, inputs, row_format = rest.parse_predict(self._read_body(), served.check_signature)
    outputs = served.predict(signature, inputs)
    self._send_json(200, rest.format_predict(outputs, row_format))


def make_server(served: ServedModel, *, host: str = "127.0.0.1", port: int = 8501,
                model_name: str = "oogan",
                max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> ServingHTTPServer:
  """Binds (port 0 picks a free port; see `.server_address`) without serving yet.

  Raises: OSError if the address cannot be bound.
  """
  return ServingHTTPServer((host, port), served, model_name, max_body_bytes)


def serve_until_signal(server: ServingHTTPServer):
  """Serves until SIGTERM or SIGINT, then waits for requests in flight and closes the socket.

  Must be called from the main thread (signal handlers can only be set there).
  """
  def stop(signum, frame):
    del frame
    logging.info("serve | signal %d: shutting down", signum)
    # shutdown() blocks until serve_forever() returns, which runs in this (the main) thread.
    threading.Thread(target=server.shutdown).start()

  previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    server.serve_forever()
  finally:
    server.server_close()
    for s, handler in previous.items():
      signal.signal(s, handler)
