"""Entry point: python -m oogan_tf.serve --export_dir=E [--port=8501] [--host=127.0.0.1]

Serves an export (python -m oogan_tf.export) over TensorFlow Serving's REST predict API and the
latent explorer page at http://HOST:PORT/ until SIGTERM or Ctrl-C; see oogan_tf.serving and
docs/serve.md.
"""


from absl import flags

from oogan_tf import cli
from oogan_tf import serving
from oogan_tf.serving import server as server_lib

_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Export directory (python -m oogan_tf.export).")
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to bind; 0.0.0.0 exposes the server to "
                            "the network (there is no authentication).")
_PORT = flags.DEFINE_integer("port", 8501, "Port (0: any free port, printed at startup).")
_MODEL_NAME = flags.DEFINE_string("model_name", "oogan", "Model name in /v1/models/<name>.")
_MAX_BODY_BYTES = flags.DEFINE_integer("max_body_bytes", server_lib.DEFAULT_MAX_BODY_BYTES,
                                       "Larger request bodies get HTTP 413.")


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  if not _EXPORT_DIR.value:
    cli.fail("--export_dir is required")
  try:
    served = serving.ServedModel(_EXPORT_DIR.value)
    server = serving.make_server(served, host=_HOST.value, port=_PORT.value,
                                 model_name=_MODEL_NAME.value,
                                 max_body_bytes=_MAX_BODY_BYTES.value)
  except OSError as e:  # no export there, or the port is taken
    cli.fail(f"{e}")
  print(f"serve | {server.url} (model '{_MODEL_NAME.value}', version {served.version}; "
        f"REST: {server.url}v1/models/{_MODEL_NAME.value})", flush=True)
  serving.serve_until_signal(server)
  print("serve | stopped", flush=True)


if __name__ == "__main__":
  cli.run(main, __doc__)
