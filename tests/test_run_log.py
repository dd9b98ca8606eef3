"""The run log: log.txt / stats.jsonl records and progress lines without compile time."""

import json

from oogan_tf.run_log import Progress, RunLog, format_duration


def test_progress_excludes_the_first_loop_from_rate_and_eta():
  p = Progress(batch_size=50)
  p.update(10, 100.0)  # first loop: tracing and compilation
  assert p.rate is None and "ETA -- (compiling)" in p.line(10, 1010)
  p.update(10, 2.0)
  p.update(10, 2.0)
  assert p.rate == 5.0
  line = p.line(30, 1030)
  assert "step 30/1,030 (2.9%)" in line and "ETA 3m20s" in line  # 1000 steps / 5 per s
  assert "1.5 kimg" in line and "4.00 s/kimg" in line  # 250 images/s


def test_run_log_writes_lines_and_json_records(tmp_path, capsys):
  log = RunLog(str(tmp_path))
  log.event("train | hello")
  log.stats({"step": 3, "loss": float("nan"), "x": 1.5})
  assert capsys.readouterr().out == "train | hello\n"
  assert (tmp_path / "log.txt").read_text().rstrip().endswith("train | hello")
  record = json.loads((tmp_path / "stats.jsonl").read_text())
  assert record["step"] == 3 and record["loss"] is None and record["x"] == 1.5 and record["time"]


def test_a_worker_without_run_directory_only_prints(tmp_path, capsys):
  RunLog(None).event("worker line")
  RunLog(None).stats({"step": 1})
  assert capsys.readouterr().out == "worker line\n"


def test_format_duration():
  assert format_duration(3900) == "1h05m" and format_duration(249) == "4m09s"
  assert format_duration(float("inf")) == "?"
