"""Entry point: python -m oogan_tf.serve --export_dir=E [--port=8501] [--host=127.0.0.1]

Serves an export (python -m oogan_tf.export) over TensorFlow Serving's REST predict API and the
latent explorer page at http://HOST:PORT/ until SIGTERM or Ctrl-C; see oogan_tf.serving and
docs/serve.md.
Limits (docs/serve.md): --max_body_bytes, --max_connections, --workers, --max_queued,
--request_timeout_s, --shutdown_timeout_s, --max_request_values, --max_inflight_values.
"""

import dataclasses
import os
import sys

from absl import flags

from oogan_tf import cli
from oogan_tf import export_format
from oogan_tf import shared_flags
from oogan_tf.serving import limits as limits_lib

# Shared with evaluate and export (one process can import them all).
shared_flags.define_locations({"export_dir": "Export directory (python -m oogan_tf.export)."})
_HOST = shared_flags.string("host", "127.0.0.1", "Address to bind; 0.0.0.0 exposes the server to "
                            "the network (there is no authentication).")
_PORT = shared_flags.integer("port", 8501, "Port (0: any free port, printed at startup).")
_MODEL_NAME = shared_flags.string("model_name", "oogan", "Model name in /v1/models/<name>.")
_MAX_BODY_BYTES = shared_flags.integer("max_body_bytes", limits_lib.DEFAULT_MAX_BODY_BYTES,
                                       "Larger request bodies get HTTP 413.")
_DEFAULTS = limits_lib.Limits()
_MAX_CONNECTIONS = shared_flags.integer("max_connections", _DEFAULTS.max_connections,
                                        "Open connections; more get HTTP 503 + Retry-After.")
_WORKERS = shared_flags.integer("workers", _DEFAULTS.workers,
                                "Threads that compute and answer received requests.")
_MAX_QUEUED = shared_flags.integer("max_queued", _DEFAULTS.max_queued, "Received requests that "
                                   "may wait for a worker; more get HTTP 503 + Retry-After.")
_REQUEST_TIMEOUT = shared_flags.floating(
    "request_timeout_s", _DEFAULTS.request_timeout_s,
    "Seconds to receive a whole request (else HTTP 408), and again to send its answer.")
_SHUTDOWN_TIMEOUT = shared_flags.floating(
    "shutdown_timeout_s", _DEFAULTS.shutdown_timeout_s,
    "After SIGTERM, seconds for the requests already received; then every connection is dropped "
    "and the process exits.")
_MAX_REQUEST_VALUES = shared_flags.integer(
    "max_request_values", limits_lib.DEFAULT_MAX_REQUEST_VALUES, "Image values (images x H x "
    "W x channels) one request may ask for or send; sets the batch cap below 256 for large "
    "images.")
_MAX_INFLIGHT_VALUES = shared_flags.integer(
    "max_inflight_values", _DEFAULTS.max_inflight_values, "Image values computed at once over "
    "all requests; a request that does not fit within 2 s gets HTTP 503 + Retry-After.")


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  if not flags.FLAGS.export_dir:
    cli.fail("--export_dir is required")
  try:
    limits = limits_lib.Limits(
        max_body_bytes=_MAX_BODY_BYTES.value, max_connections=_MAX_CONNECTIONS.value,
        workers=_WORKERS.value, max_queued=_MAX_QUEUED.value,
        request_timeout_s=_REQUEST_TIMEOUT.value, shutdown_timeout_s=_SHUTDOWN_TIMEOUT.value,
        max_inflight_values=_MAX_INFLIGHT_VALUES.value)
    if _MAX_REQUEST_VALUES.value < 1:
      raise ValueError(f"--max_request_values={_MAX_REQUEST_VALUES.value} is not allowed; it "
                       "must be >= 1")
    export_format.read_metadata(flags.FLAGS.export_dir)  # before TensorFlow loads
    from oogan_tf import serving  # pylint: disable=g-import-not-at-top
    served = serving.ServedModel(flags.FLAGS.export_dir, _MAX_REQUEST_VALUES.value)
    server = serving.make_server(served, host=_HOST.value, port=_PORT.value,
                                 model_name=_MODEL_NAME.value,
                                 **dataclasses.asdict(limits))
  except (OSError, ValueError) as e:  # no export there, the port is taken, a bad limit
    cli.fail(f"{e}")
  abandoned = serving.serve_until_signal(server, on_ready=lambda: print(
      f"serve | {server.url} (model '{_MODEL_NAME.value}', version {served.version}, at most "
      f"{served.max_batch} images a request; REST: {server.url}v1/models/{_MODEL_NAME.value})",
      flush=True))
  print("serve | stopped", flush=True)
  if abandoned:
    print(f"serve | {abandoned} requests were still being computed at the "
          f"--shutdown_timeout_s={limits.shutdown_timeout_s:g} deadline; dropped",
          file=sys.stderr, flush=True)
  # Nothing is left to clean up (the export is only read), while interpreter and TensorFlow
  # teardown takes seconds on a busy machine and can hang under a worker thread still inside
  # TensorFlow; both would count against the shutdown deadline.
  sys.stderr.flush()
  os._exit(0)  # pylint: disable=protected-access


if __name__ == "__main__":
  cli.run(main, __doc__)
