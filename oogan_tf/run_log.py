"""The console and the run directory's record of a training run.

Each event is one line on stdout and in `<model_dir>/log.txt`; each logged training loop and
each evaluation is one JSON object in `<model_dir>/stats.jsonl`. Both files are appended to, so a
resumed run continues them.
"""

from __future__ import annotations

import json
import math
import os
import time

LOG_FILE = "log.txt"
STATS_FILE = "stats.jsonl"


def format_duration(seconds: float) -> str:
  """'1h05m', '4m09s', or '?' for a non-finite duration."""
  if not math.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _end_last_line(path: str) -> None:
  # A run killed mid-write leaves a partial last line; without a newline the first record of the
  # resumed run would be glued to it and both would be unreadable.
  try:
    with open(path, "rb+") as f:
      f.seek(0, os.SEEK_END)
      if f.tell() and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n":
        f.write(b"\n")
  except FileNotFoundError:
    pass


class RunLog:
  """Writes events and stats; with model_dir None (a non-chief worker) it only prints."""

  def __init__(self, model_dir: str | None):
    self._dir = model_dir
    if model_dir:
      for name in (LOG_FILE, STATS_FILE):
        _end_last_line(os.path.join(model_dir, name))

  def event(self, message: str) -> None:
    """One line (or a few, for a multi-line message) on stdout and in log.txt."""
    print(message, flush=True)
    if self._dir:
      with open(os.path.join(self._dir, LOG_FILE), "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

  def stats(self, record: dict) -> None:
    """Appends `record` (JSON-serialisable; floats that are not finite become null) with the
    wall time to stats.jsonl."""
    if not self._dir:
      return
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in record.items()}
    with open(os.path.join(self._dir, STATS_FILE), "a") as f:
      f.write(json.dumps(dict(time=round(time.time(), 3), **clean), sort_keys=True) + "\n")


class Progress:
  """Throughput of one session of a run, excluding its first loop (tracing and compilation).

  `update(steps, seconds)` after each loop; `rate` is iterations per second (None until a
  second loop has run, so that no ETA includes compile time).
  """

  def __init__(self, batch_size: int):
    self._batch_size = batch_size
    self._started = time.perf_counter()
    self._loops = 0
    self._steps = 0
    self._seconds = 0.0

  def update(self, steps: int, seconds: float) -> None:
    self._loops += 1
    if self._loops > 1:
      self._steps += steps
      self._seconds += seconds

  @property
  def rate(self) -> float | None:
    return self._steps / self._seconds if self._steps and self._seconds > 0 else None

  @property
  def elapsed(self) -> float:
    return time.perf_counter() - self._started

  def line(self, step: int, total: int) -> str:
    """'step 1,200/8,000 (15.0%) | elapsed 2m10s | ETA 9m50s | 38.4 kimg | 1.83 s/kimg'."""
    rate = self.rate
    eta = format_duration((total - step) / rate) if rate else "-- (compiling)"
    sec_per_kimg = f"{1000.0 / (rate * self._batch_size):.2f} s/kimg" if rate else "-- s/kimg"
    return (f"step {step:,}/{total:,} ({100.0 * step / max(total, 1):.1f}%) | elapsed "
            f"{format_duration(self.elapsed)} | ETA {eta} | {step * self._batch_size / 1000:.1f} "
            f"kimg | {sec_per_kimg}")
