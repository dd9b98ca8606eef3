"""Kill -9 drill: interrupts training at random moments and checks that nothing is lost.

    python tools/fault_drill.py [--train_flagfile=flags/smoke.flags] [--train_steps=40] \
        [--kills=3] [--seed=0] [--workdir=DIR] [-- extra train flags]

Trains the preset once without interruption (the reference), then again in a second run
directory, killing the trainer with SIGKILL at `--kills` random moments (uniform over 15%..90% of
the reference's wall time after each start) and restarting the same command each time until it
finishes. Prints one JSON line:
  tried      kills delivered while the trainer was running
  resumed    restarts that resumed from the newest checkpoint on disk at the kill (or started
             fresh when there was none)
  identical  logged loop records (stats.jsonl: every loss and score, last record per iteration)
             equal bit for bit to the reference's, out of `compared`
  lost       restarts that resumed from an older checkpoint than the newest one on disk, plus
             reference iterations missing from the drill's log
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

from absl import flags

from oogan_tf import cli
from oogan_tf import shared_flags

# Not --flagfile: absl reads that one itself, as this program's own flags.
_TRAIN_FLAGFILE = shared_flags.string("train_flagfile", "flags/smoke.flags",
                                      "Preset of the drilled training runs.")
_TRAIN_STEPS = shared_flags.integer("train_steps", 40, "Iterations of each run (>= 1).")
_CHECKPOINT_EVERY = shared_flags.integer("checkpoint_every_steps", 4,
                                         "Checkpoint interval of each run (>= 1).")
_KILLS = shared_flags.integer("kills", 3, "SIGKILLs delivered to the drill run (>= 1).")
_SEED = shared_flags.integer("seed", 0, "Seed of the kill moments.")
_WORKDIR = shared_flags.string("workdir", None, "Where the two run directories and their logs "
                               "go (default: a new temporary directory).")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Per-session timing fields; everything else in a stats record must match the reference.
_TIMING = {"time", "loop_seconds", "steps_per_sec"}


def _command(model_dir: str, extra: list[str]) -> list[str]:
  return [sys.executable, "-m", "oogan_tf.train", f"--flagfile={_TRAIN_FLAGFILE.value}",
          f"--model_dir={model_dir}", f"--train_steps={_TRAIN_STEPS.value}",
          f"--checkpoint_every_steps={_CHECKPOINT_EVERY.value}", "--export_at_end=false", *extra]


def _start(model_dir: str, extra: list[str], log) -> subprocess.Popen:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  return subprocess.Popen(_command(model_dir, extra), cwd=REPO, env=env, stdout=log,
                          stderr=subprocess.STDOUT)


def _newest_index(model_dir: str) -> int | None:
  steps = [int(m[1]) for m in (re.fullmatch(r"ckpt-(\d+)\.index", n)
                               for n in os.listdir(os.path.join(model_dir, "ckpt")))
           if m] if os.path.isdir(os.path.join(model_dir, "ckpt")) else []
  return max(steps) if steps else None


def _records(model_dir: str) -> dict[int, dict]:
  """{iteration: its last loop record without timing fields} (unreadable lines skipped)."""
  out = {}
  with open(os.path.join(model_dir, "stats.jsonl")) as f:
    for line in f:
      try:
        record = json.loads(line)
      except ValueError:
        continue
      if "eval" not in record:
        out[record["step"]] = {k: v for k, v in record.items() if k not in _TIMING}
  return out


def main(argv) -> int:
  extra = list(argv[1:])  # the train flags after --
  cli.check_ranges(flags.FLAGS, {"train_steps": (1, 10**9), "checkpoint_every_steps": (1, 10**9),
                                 "kills": (1, 1000)})
  if not os.path.isfile(os.path.join(REPO, _TRAIN_FLAGFILE.value)):
    cli.fail(f"--train_flagfile={_TRAIN_FLAGFILE.value} is not a file (relative paths start at "
             f"{REPO})")
  workdir = _WORKDIR.value or tempfile.mkdtemp(prefix="oogan_tf_drill_")
  rng = random.Random(_SEED.value)
  t0 = time.time()
  with open(os.path.join(workdir, "reference.log"), "w") as log:
    started = time.time()
    if _start(os.path.join(workdir, "reference"), extra, log).wait() != 0:
      cli.fail(f"the reference run failed; see {workdir}/reference.log")
    reference_s = time.time() - started

  drill = os.path.join(workdir, "drill")
  tried = resumed = lost = 0
  with open(os.path.join(workdir, "drill.log"), "w") as log:
    expected = None  # newest checkpoint on disk at the previous kill
    for attempt in range(_KILLS.value + 1):
      offset = log.tell()
      proc = _start(drill, extra, log)
      killed = False
      if attempt < _KILLS.value:
        try:
          proc.wait(timeout=rng.uniform(0.15, 0.9) * reference_s)
        except subprocess.TimeoutExpired:
          proc.send_signal(signal.SIGKILL)
          killed = True
      proc.wait()
      log.flush()
      if attempt:  # a restart: did it resume from what the kill left?
        with open(log.name) as f:
          f.seek(offset)
          text = f.read()
        match = re.search(r"resumed from \S*ckpt-(\d+)", text)
        got = int(match[1]) if match else None
        if match or (expected is None and "initialized (fresh run)" in text):
          resumed += 1
        if expected is not None and (got is None or got < expected):
          lost += 1
      if not killed:
        if proc.returncode != 0:
          cli.fail(f"the drill run failed; see {workdir}/drill.log")
        break
      tried += 1
      expected = _newest_index(drill)

  reference, got = _records(os.path.join(workdir, "reference")), _records(drill)
  identical = sum(1 for step, record in reference.items() if got.get(step) == record)
  lost += sum(1 for step in reference if step not in got)
  print(json.dumps({"train_flagfile": _TRAIN_FLAGFILE.value, "train_steps": _TRAIN_STEPS.value,
                    "checkpoint_every_steps": _CHECKPOINT_EVERY.value, "tried": tried,
                    "resumed": resumed, "identical": identical, "compared": len(reference),
                    "lost": lost, "reference_s": round(reference_s, 1),
                    "total_s": round(time.time() - t0, 1), "workdir": workdir}))
  return 0 if identical == len(reference) and not lost else 1


if __name__ == "__main__":
  cli.run(main, __doc__)
