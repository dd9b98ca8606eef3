"""Where a training iteration's time goes: TensorFlow profiler trace plus an op-time table.

    python tools/profile_step.py --flagfile=flags/dsprites_reference.flags [--precision=...]
        --iterations=3 --logdir=/tmp/oogan_profile [--output=profile.json]

Runs the real compiled train loop (warm-up untimed), records --iterations iterations with
`tf.profiler.experimental`, leaves the trace under --logdir for TensorBoard's Profile tab, and
prints, from the same trace, the op time per iteration grouped by op type and by network part
(forward vs backward of G / D trunk / D heads, optimisers, ...). Op times are the durations of the
ops on TensorFlow's compute threads; ops can overlap, so the column sums to more than wall time
when the executor runs independent ops at once.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import time

from absl import app
from absl import flags
import tensorflow as tf
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from oogan_tf import cli
from oogan_tf import config_flags
from oogan_tf import data as data_lib
from oogan_tf import shared_flags
from oogan_tf.trainer import new_trainer

config_flags.define_config_flags()
_ITERATIONS = shared_flags.integer("iterations", 3, "Profiled iterations (after warm-up).")
_WARMUP = shared_flags.integer("warmup_loops", 2, "Untimed single-iteration loops first.")
_LOGDIR = shared_flags.string("logdir", None, "Where the trace is written (a new directory).")
_TOP = shared_flags.integer("top", 15, "Rows printed per table.")
_OUTPUT = shared_flags.string("output", None, "Write the tables as JSON here too.")

# Scope prefixes, most specific first: (name-scope fragment, part label).
_PARTS = (("bn_second_order", "BatchNorm second derivative (gradient penalty)"),
          ("bn_backward", "BatchNorm backward"), ("q_head", "D Q head"),
          ("real_fake_head", "D real/fake head"), ("trunk", "D trunk"),
          ("generator", "G"), ("Adam", "optimisers"), ("adam", "optimisers"),
          ("orth", "orthogonal steps"))


def part_of(op_name: str) -> str:
  """A readable network part for a TF op name such as 'gradient_tape/discriminator/trunk/...'."""
  direction = "backward" if "gradient_tape" in op_name or "gradients" in op_name else "forward"
  lowered = op_name.lower()
  for fragment, label in _PARTS:
    if fragment in lowered:
      if label in ("optimisers", "orthogonal steps") or label.startswith("BatchNorm"):
        return label
      return f"{label} {direction}"
  return "other"


def op_times(xspace: xplane_pb2.XSpace) -> list[tuple[str, str, float]]:
  """(op name, op type, seconds) for every TF op event on the host's compute threads."""
  events = []
  for plane in xspace.planes:
    if not plane.name.startswith("/host:CPU"):
      continue
    for line in plane.lines:
      if not line.name.startswith("tf_Compute") and "Eigen" not in line.name:
        continue
      for event in line.events:
        meta = plane.event_metadata[event.metadata_id]
        if ":" not in meta.name or "::" in meta.name:
          continue  # executor/threadpool bookkeeping, not an op
        name, op_type = meta.name.rsplit(":", 1)
        events.append((name, op_type, event.duration_ps * 1e-12))
  return events


def summarize(events, iterations: int, top: int) -> dict:
  """Per-iteration seconds grouped by op type and by part, largest first."""
  total = sum(s for _, _, s in events)
  by_type, by_part = collections.Counter(), collections.Counter()
  for name, op_type, seconds in events:
    by_type[op_type] += seconds / iterations
    by_part[part_of(name)] += seconds / iterations
  return {"op_seconds_per_iteration": total / iterations,
          "by_op_type": by_type.most_common(top),
          "by_part": by_part.most_common()}


def _print_table(title: str, rows, total: float) -> None:
  print(f"\n{title}")
  for key, seconds in rows:
    print(f"  {seconds * 1e3:9.1f} ms  {100 * seconds / total:5.1f}%  {key}")


def main(argv):
  del argv
  if not _LOGDIR.value:
    cli.fail("--logdir is required (a new directory for the trace)")
  if os.path.exists(_LOGDIR.value) and os.listdir(_LOGDIR.value):
    cli.fail(f"--logdir={_LOGDIR.value} is not empty; give a new directory")
  if _ITERATIONS.value < 1:
    cli.fail(f"--iterations={_ITERATIONS.value}; must be >= 1")
  try:
    cfg = config_flags.config_from_flags(flags.FLAGS)  # validates model, training and data fields
  except ValueError as e:
    cli.fail(str(e))
  trainer = new_trainer(cfg)
  iterator = iter(trainer.strategy.distribute_datasets_from_function(
      lambda ctx: data_lib.build_dataset(cfg.data_config(), ctx)))
  one = tf.constant(1, tf.int64)
  for _ in range(_WARMUP.value):
    trainer.train_loop(iterator, one)["loss/d_total"].numpy()
  tf.profiler.experimental.start(_LOGDIR.value)
  t0 = time.perf_counter()
  trainer.train_loop(iterator, tf.constant(_ITERATIONS.value, tf.int64))["loss/d_total"].numpy()
  wall = (time.perf_counter() - t0) / _ITERATIONS.value
  tf.profiler.experimental.stop()
  traces = sorted(glob.glob(os.path.join(_LOGDIR.value, "**", "*.xplane.pb"), recursive=True))
  if not traces:
    cli.fail(f"the profiler wrote no trace under {_LOGDIR.value}")
  xspace = xplane_pb2.XSpace()
  with open(traces[-1], "rb") as f:
    xspace.ParseFromString(f.read())
  result = summarize(op_times(xspace), _ITERATIONS.value, _TOP.value)
  result.update(wall_seconds_per_iteration=wall, precision=cfg.precision,
                jit_compile=cfg.jit_compile, trace=traces[-1])
  print(f"wall {wall:.3f} s/iteration (under the profiler), op time "
        f"{result['op_seconds_per_iteration']:.3f} s/iteration; trace: {traces[-1]}")
  _print_table("by op type (per iteration)", result["by_op_type"],
               result["op_seconds_per_iteration"])
  _print_table("by part (per iteration)", result["by_part"], result["op_seconds_per_iteration"])
  if _OUTPUT.value:
    with open(_OUTPUT.value, "w") as f:
      json.dump(result, f, indent=1)


if __name__ == "__main__":
  app.run(main)
