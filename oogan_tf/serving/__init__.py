"""Serving an export over HTTP: TensorFlow Serving's REST predict API and a latent explorer page.

  limits.py  the resource limits and their defaults (no TensorFlow)
  model.py   loads the export, validates inputs and runs its signatures
  rest.py    TensorFlow Serving's JSON request/response formats (row and columnar)
  server.py  the HTTP server and its routes
  static/    the explorer page (plain HTML/JS, nothing loaded from the internet)
The entry point is `python -m oogan_tf.serve` (docs/serve.md).
"""

from oogan_tf.lazy_import import module_getattr
from oogan_tf.serving.limits import Limits

# The TensorFlow side loads on first use (oogan_tf.lazy_import).
__getattr__ = module_getattr(__name__, {
    "MAX_BATCH": "model", "RequestError": "model", "ServedModel": "model",
    "make_server": "server", "serve_until_signal": "server"})

__all__ = ["MAX_BATCH", "Limits", "RequestError", "ServedModel", "make_server",
           "serve_until_signal"]
