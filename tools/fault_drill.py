"""Kill -9 drill: interrupts training at random moments and checks that nothing is lost.

    python tools/fault_drill.py [--flagfile=flags/smoke.flags] [--train_steps=40] [--kills=3] \
        [--seed=0] [--workdir=DIR] [-- extra train flags]

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

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Per-session timing fields; everything else in a stats record must match the reference.
_TIMING = {"time", "loop_seconds", "steps_per_sec"}


def _command(args, model_dir: str) -> list[str]:
  return [sys.executable, "-m", "oogan_tf.train", f"--flagfile={args.flagfile}",
          f"--model_dir={model_dir}", f"--train_steps={args.train_steps}",
          f"--checkpoint_every_steps={args.checkpoint_every_steps}", "--export_at_end=false",
          *args.extra]


def _start(args, model_dir: str, log) -> subprocess.Popen:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  return subprocess.Popen(_command(args, model_dir), cwd=REPO, env=env, stdout=log,
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


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--flagfile", default="flags/smoke.flags")
  parser.add_argument("--train_steps", type=int, default=40)
  parser.add_argument("--checkpoint_every_steps", type=int, default=4)
  parser.add_argument("--kills", type=int, default=3)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
  parser.add_argument("extra", nargs="*", help="more train flags, after --")
  args = parser.parse_args(argv)
  for name in ("train_steps", "checkpoint_every_steps", "kills"):
    if getattr(args, name) < 1:
      parser.error(f"--{name}={getattr(args, name)} is not allowed; it must be >= 1")
  workdir = args.workdir or tempfile.mkdtemp(prefix="oogan_tf_drill_")
  rng = random.Random(args.seed)
  t0 = time.time()
  with open(os.path.join(workdir, "reference.log"), "w") as log:
    started = time.time()
    if _start(args, os.path.join(workdir, "reference"), log).wait() != 0:
      parser.error(f"the reference run failed; see {workdir}/reference.log")
    reference_s = time.time() - started

  drill = os.path.join(workdir, "drill")
  tried = resumed = lost = 0
  with open(os.path.join(workdir, "drill.log"), "w") as log:
    expected = None  # newest checkpoint on disk at the previous kill
    for attempt in range(args.kills + 1):
      offset = log.tell()
      proc = _start(args, drill, log)
      killed = False
      if attempt < args.kills:
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
          parser.error(f"the drill run failed; see {workdir}/drill.log")
        break
      tried += 1
      expected = _newest_index(drill)

  reference, got = _records(os.path.join(workdir, "reference")), _records(drill)
  identical = sum(1 for step, record in reference.items() if got.get(step) == record)
  lost += sum(1 for step in reference if step not in got)
  print(json.dumps({"flagfile": args.flagfile, "train_steps": args.train_steps,
                    "checkpoint_every_steps": args.checkpoint_every_steps, "tried": tried,
                    "resumed": resumed, "identical": identical, "compared": len(reference),
                    "lost": lost, "reference_s": round(reference_s, 1),
                    "total_s": round(time.time() - t0, 1), "workdir": workdir}))
  return 0 if identical == len(reference) and not lost else 1


if __name__ == "__main__":
  sys.exit(main())
