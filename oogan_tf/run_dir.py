"""The run directory: its config, its lock, checkpoint selection, stale temporaries, stop signals.

  prepare / read_config   creates a run directory or checks that its config.json allows resuming
  StopRequest             SIGTERM / Ctrl-C become a flag the training loop checks between loops

  RunLock                 one writer per run directory (`<model_dir>/run.lock`: pid, host, purpose)
  find_newest_intact      the newest checkpoint in ckpt/ that reads completely, and what was skipped
  set_aside               moves the files of skipped (damaged) checkpoints to ckpt/damaged-<time>/
  rebuild_state           rewrites ckpt/checkpoint from the checkpoints actually on disk
  remove_stale_temporaries  deletes ckpt/*_temp* and export/.export-tmp-* left by killed runs

A crash (kill -9, power loss) can lose at most the work since the newest complete checkpoint: a
checkpoint is only used after every tensor of it has been read back, and nothing here deletes a
checkpoint that reads (damaged ones are moved aside, never deleted). After a fallback past a
damaged checkpoint, the intact older ones are also kept out of the CheckpointManager's rotation.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import sys
import time


from oogan_tf.config import TrainConfig

CONFIG_FILE = "config.json"  # the resolved TrainConfig, written on the first start
LOCK_FILE = "run.lock"
STATE_FILE = "checkpoint"  # tf.train.CheckpointManager's list of checkpoints
_CKPT_FILE = re.compile(r"^(?P<prefix>ckpt-(?P<step>\d+))\.(?:index|data-\d+-of-\d+)$")


class RunDirectoryError(ValueError):
  """The run directory cannot be used as asked (changed config, foreign content, locked, or
  checkpoints that cannot be read)."""


class RunLockedError(RunDirectoryError):
  """Another live process holds the run directory's lock."""


class CheckpointError(RunDirectoryError):
  """ckpt/ holds checkpoint files but none of them reads completely."""


def _process_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # it exists but belongs to another user
    return True
  return True


class RunLock:
  """An exclusive lock on a run directory, held from `acquire` (or `with`) until `release`.

  The lock is an flock on `<model_dir>/run.lock`, which the kernel drops when its holder dies
  however it dies; the file also records the holder's pid, host, purpose and start time so that a
  refusal can name it. A file whose flock is free is stale when it names a dead pid on this host
  (it is taken over, see `.took_over`); one naming a live pid or another host is refused, because
  flock may not reach across hosts on every network file system.
  """

  def __init__(self, model_dir: str, purpose: str):
    self.model_dir = model_dir
    self.path = os.path.join(model_dir, LOCK_FILE)
    self.purpose = purpose
    self.took_over: str | None = None  # what a stale lock said, when one was taken over
    self._fd: int | None = None

  def acquire(self) -> "RunLock":
    """Raises RunLockedError naming the holder when the directory is in use."""
    os.makedirs(self.model_dir, exist_ok=True)
    host = socket.gethostname()
    while True:
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as e:
        owner = _read_record(fd)
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
          raise
        raise RunLockedError(f"--model_dir={self.model_dir} is in use by {_describe(owner)} "
                             f"(lock {self.path}); wait for it to finish or stop it") from None
      try:
        same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
      except FileNotFoundError:
        same_file = False
      if not same_file:  # the holder released (unlinked) it between our open and flock
        os.close(fd)
        continue
      break
    owner = _read_record(fd)
    if owner and not owner.get("unreadable"):
      pid = owner.get("pid")
      if owner.get("host") != host or (pid != os.getpid() and isinstance(pid, int)
                                       and _process_alive(pid)):
        os.close(fd)
        raise RunLockedError(
            f"--model_dir={self.model_dir} is marked in use by {_describe(owner)} (lock "
            f"{self.path}, not held on this host); if no such process runs, delete that file")
    if owner:
      self.took_over = _describe(owner)
    record = {"pid": os.getpid(), "host": host, "purpose": self.purpose,
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    os.fsync(fd)
    self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is None:
      return
    # Unlink while still holding the flock, so a waiting process cannot lock a file that is gone.
    try:
      os.unlink(self.path)
    except FileNotFoundError:
      pass
    os.close(self._fd)
    self._fd = None

  def __enter__(self) -> "RunLock":
    return self.acquire()

  def __exit__(self, *exc) -> bool:
    self.release()
    return False


def _read_record(fd: int) -> dict | None:
  text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
  if not text:  # a holder killed between creating and filling the file
    return None
  try:
    record = json.loads(text)
  except ValueError:
    record = None
  return record if isinstance(record, dict) else {"unreadable": True}


def _describe(owner: dict | None) -> str:
  if not owner or owner.get("unreadable"):
    return "another process"
  return (f"{owner.get('purpose', 'a process')} pid {owner.get('pid')} on host "
          f"{owner.get('host')} (started {owner.get('started', '?')})")


def checkpoint_candidates(ckpt_dir: str) -> list[str]:
  """Checkpoint prefixes named by files in ckpt_dir or by its state file, newest first."""
  prefixes = set()
  if os.path.isdir(ckpt_dir):
    for name in os.listdir(ckpt_dir):
      match = _CKPT_FILE.match(name)
      if match:
        prefixes.add(match["prefix"])
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (entry points check flags first)
  try:
    state = tf.train.get_checkpoint_state(ckpt_dir)
  except Exception:  # pylint: disable=broad-except
    state = None  # a garbled state file is rebuilt from the files on disk
  if state is not None:
    for path in list(state.all_model_checkpoint_paths) + [state.model_checkpoint_path]:
      name = os.path.basename(path)
      if re.fullmatch(r"ckpt-\d+", name):
        prefixes.add(name)
  return sorted(prefixes, key=lambda p: int(p.split("-")[1]), reverse=True)


def damage(prefix: str) -> str | None:
  """Why the checkpoint at `prefix` (path without .index) cannot be used, or None if every
  tensor it lists reads back (which checks each tensor's stored CRC32C)."""
  if not os.path.exists(prefix + ".index"):
    return "its .index file is missing"
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (entry points check flags first)
  try:
    reader = tf.train.load_checkpoint(prefix)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # Damaged files surface as DataLossError, OutOfRangeError, NotFoundError, IndexError or
  # ValueError depending on where the bytes are wrong; any of them means "do not use this one".
  except Exception as e:  # pylint: disable=broad-except
    lines = str(e).strip().splitlines()
    return f"it does not read ({type(e).__name__}: {lines[0] if lines else 'no message'})"
  return None


def find_newest_intact(ckpt_dir: str) -> tuple[str | None, list[tuple[str, str]]]:
  """Finds the checkpoint to resume from.

  Returns:
    (path prefix of the newest checkpoint that reads completely, or None when ckpt_dir holds no
    checkpoint at all; [(skipped newer prefix, why)] newest first).
  Raises:
    CheckpointError: checkpoints exist but none reads (nothing is changed on disk).
  """
  skipped = []
  for name in checkpoint_candidates(ckpt_dir):
    prefix = os.path.join(ckpt_dir, name)
    reason = damage(prefix)
    if reason is None:
      return prefix, skipped
    skipped.append((prefix, reason))
  if skipped:
    details = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in skipped)
    raise CheckpointError(
        f"{ckpt_dir} holds checkpoints but none reads completely ({details}); nothing was "
        "changed. Restore them from a backup, or move them away to start this run afresh")
  return None, skipped


def set_aside(ckpt_dir: str, prefixes: list[str]) -> str | None:
  """Moves every file of `prefixes` into ckpt_dir/damaged-<time>/ (kept for inspection, out of
  the way of the checkpoints that will be written under the same names). Returns that folder."""
  names = [n for n in sorted(os.listdir(ckpt_dir))
           if any(n.startswith(os.path.basename(p) + ".") for p in prefixes)]
  if not names:
    return None
  target = os.path.join(ckpt_dir, time.strftime("damaged-%Y%m%d-%H%M%S"))
  os.makedirs(target, exist_ok=True)
  for name in names:
    os.rename(os.path.join(ckpt_dir, name), os.path.join(target, name))
  return target


def rebuild_state(ckpt_dir: str, newest: str, protect_older: bool) -> None:
  """Rewrites the CheckpointManager state file from the checkpoints on disk, whatever a stale or
  lost state file said, so that the manager's max_to_keep rotation can only delete checkpoints
  older than the one resumed from (`newest`), never a newer or unlisted one.

  With protect_older (after a fallback past damaged checkpoints) no existing checkpoint is offered
  to the rotation at all: the manager leaves alone every path its state does not list with a
  timestamp, so the intact ones stay until a person removes them.
  """
  newest_step = int(os.path.basename(newest).split("-")[1])
  lines = [f'model_checkpoint_path: "ckpt-{newest_step}"']
  if not protect_older:
    steps = sorted(int(m["step"]) for m in map(_CKPT_FILE.match, os.listdir(ckpt_dir))
                   if m and m.group(0).endswith(".index") and int(m["step"]) <= newest_step)
    lines += [f'all_model_checkpoint_paths: "ckpt-{s}"' for s in steps]
    lines += [f"all_model_checkpoint_timestamps: "
              f"{os.path.getmtime(os.path.join(ckpt_dir, f'ckpt-{s}.index')):.3f}" for s in steps]
  write_text_atomically(os.path.join(ckpt_dir, STATE_FILE), "\n".join(lines) + "\n")


def write_text_atomically(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file and a rename, so a reader or a kill at any
  moment sees the old file or the new one, never a partial one."""
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


def remove_stale_temporaries(model_dir: str) -> list[str]:
  """Deletes the half-written folders of killed runs: ckpt/<name>_temp* (TensorFlow's checkpoint
  staging) and export/.export-tmp-* (export_lib.write_export). Call only under the RunLock, since
  a live writer owns such folders. Returns the deleted paths."""
  removed = []
  for sub, pattern in (("ckpt", re.compile(r"_temp")), ("export", re.compile(r"^\.export-tmp-"))):
    folder = os.path.join(model_dir, sub)
    if not os.path.isdir(folder):
      continue
    for name in sorted(os.listdir(folder)):
      path = os.path.join(folder, name)
      if pattern.search(name) and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
  return removed


def read_config(model_dir: str) -> TrainConfig:
  """The TrainConfig saved in `model_dir`/config.json.

  Raises: FileNotFoundError (naming --model_dir) if model_dir has no config.json.
  """
  path = os.path.join(model_dir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"--model_dir={model_dir} has no {CONFIG_FILE}: not an oogan_tf run")
  with open(path) as f:
    return TrainConfig.from_dict(json.load(f))


def refuse_foreign_directory(model_dir: str) -> None:
  """Raises RunDirectoryError if model_dir holds files but no config.json (a directory that is
  not an oogan_tf run is never written into)."""
  # A lock file alone is what a start killed before writing config.json leaves behind.
  if (os.path.isdir(model_dir) and not os.path.exists(os.path.join(model_dir, CONFIG_FILE))
      and set(os.listdir(model_dir)) - {LOCK_FILE}):
    raise RunDirectoryError(
        f"--model_dir={model_dir} is not empty and has no config.json, so it is not an "
        "oogan_tf run directory; refusing to write into it. Use a new or empty directory.")


def prepare(cfg: TrainConfig, command_line: str | None = None) -> None:
  """Creates model_dir, or checks that its config.json allows resuming with `cfg`.

  Raises:
    RunDirectoryError: model-defining fields differ from the saved config, or model_dir holds
      files but no config.json (it is not an oogan_tf run directory; nothing is overwritten).
  """
  model_dir = cfg.model_dir
  path = os.path.join(model_dir, CONFIG_FILE)
  if os.path.exists(path):
    saved = read_config(model_dir)
    changed = saved.differences(cfg)
    if changed:
      details = "; ".join(f"{k}: saved {_get(saved, k)!r}, now {_get(cfg, k)!r}" for k in changed)
      raise RunDirectoryError(
          f"--model_dir={model_dir} holds a run with a different configuration ({details}). "
          "Resume with the saved values or use a new --model_dir.")
  else:
    refuse_foreign_directory(model_dir)
    os.makedirs(model_dir, exist_ok=True)
    write_text_atomically(path, cfg.to_json())
  for sub in ("ckpt", "train", "samples"):
    os.makedirs(os.path.join(model_dir, sub), exist_ok=True)
  with open(os.path.join(model_dir, "command.txt"), "a") as f:
    f.write((command_line or " ".join(sys.argv)) + "\n")


def _get(cfg: TrainConfig, dotted: str):
  value = cfg.to_dict()
  for part in dotted.split("."):
    value = value.get(part) if isinstance(value, dict) else None
  return value


class StopRequest:
  """Turns SIGTERM / the first Ctrl-C into a flag checked between loops (a second Ctrl-C aborts)."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread: signals stay with the caller
        pass
    return self

  def _handle(self, signum, frame):
    if self.requested and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.requested = True
    print(f"train | received signal {signum}: saving a checkpoint and stopping after this loop",
          flush=True)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    return False
