"""HTTP server: TensorFlow Serving's REST API over one export, plus the latent explorer page.

Routes (NAME is the served model name, V its version, see ServedModel.version):
  POST /v1/models/NAME[/versions/V]:predict   predict (oogan_tf.serving.rest formats)
  GET  /v1/models/NAME[/versions/V]           model status, as TensorFlow Serving reports it
  GET  /v1/models/NAME[/versions/V]/metadata  signature defs (input/output names, dtypes, shapes)
  GET  /api/config                            the explorer's settings (image size, c_dim, ...)
  GET  /  and  /static/FILE                   the explorer page (oogan_tf/serving/static)
Every error is JSON {"error": message}; see docs/serve.md for the statuses.

How it holds up against slow or hostile clients: one asyncio loop receives every request (request
line, headers, then exactly Content-Length body bytes) within a whole-request deadline, checking
the length before reading any of the body; only a request received in full goes to one of a
fixed number of worker threads, which parse, compute and format it. So slow clients cost a socket
each, never a worker. Over `max_connections` open connections, or `max_queued` requests waiting
for a worker, new ones get 503 with Retry-After. Workers are daemon threads and every socket is
closed at the shutdown deadline, so a stop never waits longer than `shutdown_timeout_s`.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import http.server
import io
import json
import mimetypes
import os
import queue
import re
import signal
import socket
import threading

from absl import logging

from oogan_tf.serving import rest
from oogan_tf.serving.limits import DEFAULT_MAX_BODY_BYTES, Limits
from oogan_tf.serving.model import RequestError, ServedModel, WorkBudget

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
MAX_LINE = 65536  # request line and each header line, as http.server
MAX_HEADERS = 100  # as http.client
RETRY_AFTER_S = 1
LINGER_S = 1.0  # after an early answer, how long unread request bytes are drained (see _reply)

_MODEL_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                         r"(?P<rest>/metadata|:[A-Za-z]+)?$")




def error_response(status: int, message: str, head_only: bool = False) -> bytes:
  """A complete HTTP/1.0 answer with the JSON body {"error": message}; 503 adds Retry-After."""
  body = json.dumps({"error": message}).encode("utf-8")
  phrase = http.HTTPStatus(status).phrase
  headers = [f"HTTP/1.0 {status} {phrase}", "Server: oogan_tf-serve",
             f"Date: {email.utils.formatdate(usegmt=True)}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Cache-Control: no-store", "Connection: close"]
  if status == 503:
    headers.append(f"Retry-After: {RETRY_AFTER_S}")
  return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


class _Refused(Exception):
  """A request answered with an error before it reached a worker."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.response = error_response(status, message)


class _Closed(Exception):
  """The client closed the connection before sending a request line."""


class ServingHTTPServer:
  """The server for one ServedModel; bound on construction, serving in `serve_forever`.

  Attributes: served, model_name, limits, server_address ((host, port) bound), url,
    abandoned (requests still unanswered when the last shutdown deadline passed).
  """

  def __init__(self, address: tuple[str, int], served: ServedModel, model_name: str,
               limits: Limits):
    self.served = served
    self.model_name = model_name
    self.limits = limits
    self.static_files = set(os.listdir(STATIC_DIR))
    if served.max_batch * served.values_per_image > limits.max_inflight_values:
      raise ValueError(f"--max_inflight_values={limits.max_inflight_values} is not allowed; it "
                       f"must be at least one full request of this export "
                       f"({served.max_batch * served.values_per_image} values)")
    self.work = WorkBudget(limits.max_inflight_values)
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    self.socket = socket.create_server(address, family=family, backlog=128)
    self.server_address = self.socket.getsockname()[:2]
    self.abandoned = 0
    self._jobs: queue.SimpleQueue = queue.SimpleQueue()
    self._workers_started = False
    self._loop: asyncio.AbstractEventLoop | None = None
    self._stop: asyncio.Event | None = None
    self._stopped = threading.Event()
    self._stopped.set()
    self._connections: dict[asyncio.Task, bool] = {}  # task -> its request reached a worker
    self._waiting = 0  # requests handed to workers and not yet answered

  @property
  def url(self) -> str:
    host, port = self.server_address
    return f"http://{host}:{port}/"

  def serve_forever(self, stop_signals: tuple = (), on_ready=None) -> None:
    """Serves until `shutdown()` or one of `stop_signals` (main thread only), then gives the
    requests already received up to limits.shutdown_timeout_s and drops every connection.
    `on_ready()` is called once the signals are handled and connections are accepted."""
    self._stopped.clear()
    try:
      asyncio.run(self._serve(stop_signals, on_ready))
    finally:
      self._stopped.set()

  def shutdown(self) -> None:
    """Stops serve_forever (running in another thread) and waits until it has returned."""
    loop, stop = self._loop, self._stop
    if loop is not None and stop is not None:
      try:
        loop.call_soon_threadsafe(stop.set)
      except RuntimeError:  # the loop has finished already
        pass
    self._stopped.wait()

  def server_close(self) -> None:
    self.socket.close()

  def _start_workers(self) -> None:
    if self._workers_started:
      return
    for i in range(self.limits.workers):
      # Daemon threads: a computation still running at the shutdown deadline must not keep the
      # process alive.
      threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True).start()
    self._workers_started = True

  def _work(self) -> None:
    while True:
      future, raw, client = self._jobs.get()
      try:
        answer = _Handler.answer(raw, client, self)
      except Exception:  # pylint: disable=broad-except
        logging.exception("internal error answering %s", client)
        answer = error_response(500, "internal server error (see the server log)")
      try:
        future.get_loop().call_soon_threadsafe(_resolve, future, answer)
      except RuntimeError:  # the loop has closed: the shutdown deadline passed meanwhile
        pass

  async def _serve(self, stop_signals: tuple, on_ready) -> None:
    loop = asyncio.get_running_loop()
    self._loop, self._stop = loop, asyncio.Event()
    self._start_workers()
    for sig in stop_signals:
      loop.add_signal_handler(sig, self._on_signal, sig)
    server = await asyncio.start_server(self._connection, sock=self.socket, limit=MAX_LINE + 2)
    if on_ready:
      on_ready()
    try:
      await self._stop.wait()
    finally:
      for sig in stop_signals:
        loop.remove_signal_handler(sig)
    server.close()
    # Requests still arriving are dropped now; received ones get until the deadline.
    for task, received in list(self._connections.items()):
      if not received:
        task.cancel()
    running = list(self._connections)
    if running:
      await asyncio.wait(running, timeout=self.limits.shutdown_timeout_s)
    self.abandoned = sum(1 for task in running if not task.done())
    for task in running:
      task.cancel()
    self._loop = None

  def _on_signal(self, signum: int) -> None:
    logging.info("serve | signal %d: shutting down", signum)
    self._stop.set()

  async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    task = asyncio.current_task()
    if len(self._connections) >= self.limits.max_connections or self._stop.is_set():
      await self._reply(reader, writer, error_response(
          503, f"the server has {self.limits.max_connections} open connections "
          "(--max_connections); retry shortly"))
      return
    self._connections[task] = False
    try:
      try:
        raw = await asyncio.wait_for(self._receive(reader), self.limits.request_timeout_s)
      except asyncio.TimeoutError:
        answer = error_response(408, f"the request was not received within "
                                f"{self.limits.request_timeout_s:g} s (--request_timeout_s)")
      except _Refused as e:
        answer = e.response
      except (_Closed, ConnectionError):
        writer.transport.abort()
        return
      else:
        self._connections[task] = True
        answer = await self._dispatch(raw, writer.get_extra_info("peername") or ("", 0))
      await self._reply(reader, writer, answer)
    except asyncio.CancelledError:
      # Shutdown drops this connection. Ending normally rather than re-raising, because asyncio
      # logs a cancelled connection callback as an error with a traceback.
      writer.transport.abort()
    finally:
      self._connections.pop(task, None)

  async def _receive(self, reader: asyncio.StreamReader) -> bytes:
    """The request's bytes: request line, headers and exactly Content-Length body bytes.

    Raises: _Refused (400, 411, 413, 414, 431) before reading any of the body; _Closed.
    """
    try:
      head = await reader.readline()
    except ValueError:  # asyncio's LimitOverrunError, raised when no newline fits in the limit
      raise _Refused(414, f"the request line is longer than {MAX_LINE} bytes") from None
    if not head:
      raise _Closed()
    if len(head) > MAX_LINE + 2:
      raise _Refused(414, f"the request line is longer than {MAX_LINE} bytes")
    headers = []
    while True:
      try:
        line = await reader.readline()
      except ValueError:
        raise _Refused(431, f"a header line is longer than {MAX_LINE} bytes") from None
      if not line:
        raise _Refused(400, "the connection ended inside the request headers")
      head += line
      if line in (b"\r\n", b"\n"):
        break
      headers.append(line)
      if len(headers) > MAX_HEADERS:
        raise _Refused(431, f"more than {MAX_HEADERS} request headers")
    fields = [h.split(b":", 1) for h in headers if b":" in h]
    lengths = {v.strip() for k, v in fields if k.strip().lower() == b"content-length"}
    if any(k.strip().lower() == b"transfer-encoding" for k, _ in fields):
      raise _Refused(411, "chunked (Transfer-Encoding) bodies are not accepted; send a "
                     "Content-Length header")
    if not lengths:
      if head.split(b" ", 1)[0] == b"POST":
        raise _Refused(411, "a Content-Length header is required")
      return head
    if len(lengths) > 1:
      raise _Refused(400, "conflicting Content-Length headers")
    (value,) = lengths
    text = value.decode("latin-1")
    # Only plain digits: int() would also take "-1", "+5", " 7" or "1_000".
    if not re.fullmatch(r"[0-9]{1,20}", text):
      raise _Refused(400, f"bad Content-Length {text[:40]!r}: it must be a non-negative integer")
    length = int(text)
    if length > self.limits.max_body_bytes:
      raise _Refused(413, f"request body of {length} bytes exceeds the limit of "
                     f"{self.limits.max_body_bytes} bytes (--max_body_bytes)")
    try:
      return head + await reader.readexactly(length)
    except asyncio.IncompleteReadError as e:
      raise _Refused(400, f"the body ended after {len(e.partial)} of {length} bytes") from None

  async def _dispatch(self, raw: bytes, client) -> bytes:
    if self._waiting >= self.limits.workers + self.limits.max_queued:
      return error_response(503, f"the server is busy ({self._waiting} requests waiting or "
                            "being computed); retry shortly")
    future = asyncio.get_running_loop().create_future()
    self._waiting += 1
    try:
      self._jobs.put((future, raw, client))
      return await future
    finally:
      self._waiting -= 1

  async def _reply(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   answer: bytes) -> None:
    """Sends `answer` within the request timeout and closes the connection.

    An early answer (503, 411, 413, ...) may leave request bytes unread, and closing a socket
    with unread bytes sends a reset that can destroy the answer before the client reads it; so
    the write side is closed first and what the client still sends is drained for LINGER_S.
    """
    try:
      writer.write(answer)
      await asyncio.wait_for(writer.drain(), self.limits.request_timeout_s)
      if writer.can_write_eof():
        writer.write_eof()
      await asyncio.wait_for(_drain(reader), LINGER_S)
      writer.close()
    except (asyncio.TimeoutError, ConnectionError, OSError):
      writer.transport.abort()


async def _drain(reader: asyncio.StreamReader) -> None:
  while await reader.read(65536):
    pass


def _resolve(future: asyncio.Future, answer: bytes) -> None:
  if not future.done():
    future.set_result(answer)


class _Handler(http.server.BaseHTTPRequestHandler):
  """Answers one fully received request (bytes in, bytes out), in a worker thread.

  It reuses BaseHTTPRequestHandler's request-line and header parsing on the received bytes;
  every error, including the ones that class produces itself (400 bad request line, 501 unknown
  method, 505, ...), is sent as JSON by `send_error`. HTTP/1.0: one request per connection.
  """

  server: ServingHTTPServer
  server_version = "oogan_tf-serve"

  @classmethod
  def answer(cls, raw: bytes, client, server: ServingHTTPServer) -> bytes:
    """The complete HTTP answer to the request `raw`."""
    return cls(raw, client, server).wfile.getvalue()

  def setup(self):
    self.rfile = io.BytesIO(self.request)
    self.wfile = io.BytesIO()

  def handle(self):
    self.handle_one_request()

  def finish(self):
    pass

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    logging.info("%s - %s", self.address_string(), format % args)

  def send_error(self, code, message=None, explain=None):
    del explain  # the JSON body carries one message
    self.close_connection = True
    self._send_json(code, {"error": message or http.HTTPStatus(code).phrase})

  def _send(self, status: int, body: bytes, content_type: str):
    # http.server treats a request line it cannot read as HTTP/0.9 and would answer without a
    # status line or headers; every answer here has them.
    self.request_version = "HTTP/1.0"
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    if status == 503:
      self.send_header("Retry-After", str(RETRY_AFTER_S))
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

  def _post(self):
    route = self._model_route()
    if route is None:
      raise RequestError(404, f"unknown path {self.path}")
    _, suffix = route
    if suffix != ":predict":
      raise RequestError(404 if suffix.startswith(":") else 405,
                         f"only ':predict' is served, not '{suffix or 'POST'}'")
    served = self.server.served
    # The receiving loop has read exactly Content-Length bytes after the headers.
    signature, inputs, row_format = rest.parse_predict(self.rfile.read(), served.check_signature)
    inputs = served.check_inputs(signature, inputs)
    # Formatting the answer as JSON takes more memory than computing it, so both are budgeted.
    with self.server.work.reserve(served.request_values(signature, inputs)):
      body = json.dumps(rest.format_predict(served.run(signature, inputs), row_format))
    self._send(200, body.encode("utf-8"), "application/json")


def make_server(served: ServedModel, *, host: str = "127.0.0.1", port: int = 8501,
                model_name: str = "oogan", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                **limits) -> ServingHTTPServer:
  """Binds (port 0 picks a free port; see `.server_address`) without serving yet.

  `limits` are the other fields of Limits (max_connections, workers, ...).
  Raises: OSError if the address cannot be bound; ValueError for a limit that is not > 0.
  """
  return ServingHTTPServer((host, port), served, model_name,
                           Limits(max_body_bytes=max_body_bytes, **limits))


def serve_until_signal(server: ServingHTTPServer, on_ready=None) -> int:
  """Serves until SIGTERM or SIGINT, then answers the requests already received within
  limits.shutdown_timeout_s, drops every connection and closes the socket.

  Must be called from the main thread (signal handlers can only be set there). `on_ready()` runs
  once a signal would be handled (e.g. to print the address).
  Returns: the number of requests abandoned at the deadline (their workers may still run).
  """
  try:
    server.serve_forever(stop_signals=(signal.SIGTERM, signal.SIGINT), on_ready=on_ready)
  finally:
    server.server_close()
  return server.abandoned
