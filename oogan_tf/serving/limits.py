"""The server's resource limits and their defaults (docs/serve.md, "Limits"). No TensorFlow here:
`python -m oogan_tf.serve` takes its flag defaults from this module and checks its inputs before
TensorFlow loads (5-7 s on 2 cores)."""

from __future__ import annotations

import dataclasses

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # a JSON batch of 256 64x64 RGB images is ~30 MB
# Cap on the image values (images x H x W x channels) of one request. Answering costs ~160 bytes
# of Python memory per value (JSON text, lists of floats), so 2**20 values is ~170 MB at most; a
# 32x32x1 export keeps model.MAX_BATCH, a 64x64x3 one gets 85 images, a 256x256x3 one 5.
DEFAULT_MAX_REQUEST_VALUES = 2**20


@dataclasses.dataclass(frozen=True)
class Limits:
  """The server's resource limits (docs/serve.md, "Limits")."""
  max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
  max_connections: int = 256  # open connections, incl. ones still sending their request
  workers: int = 4  # threads that parse, compute and answer received requests
  max_queued: int = 64  # received requests waiting for a worker
  request_timeout_s: float = 30.0  # to receive a whole request, and again to send its answer
  shutdown_timeout_s: float = 10.0  # after SIGTERM, for the requests already received
  max_inflight_values: int = 2**22  # image values (images x H x W x ch) computed at once

  def __post_init__(self):
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if not value > 0:
        raise ValueError(f"--{field.name}={value} is not allowed; it must be > 0")
