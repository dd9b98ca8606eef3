"""Serving an export over HTTP: TensorFlow Serving's REST predict API and a latent explorer page.

  model.py   loads the export, validates inputs and runs its signatures
  rest.py    TensorFlow Serving's JSON request/response formats (row and columnar)
  server.py  the HTTP server and its routes
  static/    the explorer page (plain HTML/JS, nothing loaded from the internet)
The entry point is `python -m oogan_tf.serve` (docs/serve.md).
"""

from oogan_tf.serving.model import MAX_BATCH, RequestError, ServedModel
from oogan_tf.serving.server import Limits, make_server, serve_until_signal

__all__ = ["MAX_BATCH", "Limits", "RequestError", "ServedModel", "make_server",
           "serve_until_signal"]
