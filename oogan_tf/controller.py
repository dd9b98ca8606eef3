"""An orbit-style training controller: the outer loop of a run, and its train actions.

`Controller.run()` calls a compiled train loop in chunks of at most `steps_per_loop` iterations
until `train_steps` or a stop request, reports each chunk, and after each chunk runs every
`TrainAction` whose interval the chunk crossed (in the order given), as orbit's Controller runs
its `train_actions`. It knows nothing of checkpoints, samples or evaluation: train_lib builds
those as actions.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable


def crossed(prev: int, step: int, every: int) -> bool:
  """Whether the iterations (prev, step] contain a multiple of `every` (every <= 0: never)."""
  return every > 0 and step // every > prev // every


@dataclasses.dataclass(frozen=True)
class TrainAction:
  """`run(step)` after every chunk that crosses a multiple of `every` (<= 0: never)."""
  every: int
  run: Callable[[int], None]


class Controller:
  """Runs `train_loop(n) -> metrics` until `train_steps`.

  Args:
    train_loop: runs n iterations (int) and returns that chunk's metrics.
    current_step: the number of iterations done (read after each chunk).
    steps_per_loop, train_steps: chunk size and total.
    actions: TrainActions run after the chunks that cross their interval.
    on_loop: report(metrics, step, n, seconds) after each chunk and before its actions; it may
      raise to stop the run (a non-finite loss).
  """

  def __init__(self, train_loop: Callable[[int], dict], current_step: Callable[[], int],
               steps_per_loop: int, train_steps: int, actions: list[TrainAction],
               on_loop: Callable[[dict, int, int, float], None]):
    self.train_loop, self.current_step = train_loop, current_step
    self.steps_per_loop, self.train_steps = steps_per_loop, train_steps
    self.actions, self.on_loop = list(actions), on_loop

  def run(self, stop_requested: Callable[[], bool] = lambda: False) -> tuple[int, dict]:
    """Trains until train_steps or stop_requested(); returns (final step, last chunk's metrics)."""
    step, metrics = self.current_step(), {}
    while step < self.train_steps and not stop_requested():
      n = min(self.steps_per_loop, self.train_steps - step)
      t0 = time.perf_counter()
      metrics = self.train_loop(n)
      prev, step = step, self.current_step()
      self.on_loop(metrics, step, n, time.perf_counter() - t0)
      for action in self.actions:
        if crossed(prev, step, action.every):
          action.run(step)
    return step, metrics
