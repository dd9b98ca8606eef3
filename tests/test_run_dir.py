"""Fault injection on the run directory: damaged checkpoints, the lock, stale temporaries.

One tiny run (checkpoints 2, 4, 6; keep 3) is trained once and copied for each case.
"""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from oogan_tf import export_lib, run_dir, train_lib
from test_train import REPO, tiny_config
from tiny import write_uncalibrated_export


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
  model_dir = tmp_path_factory.mktemp("base") / "run"
  train_lib.train(tiny_config(model_dir, train_steps=6))
  assert sorted(n for n in os.listdir(model_dir / "ckpt") if n.endswith(".index")) == [
      "ckpt-2.index", "ckpt-4.index", "ckpt-6.index"]
  return model_dir


@pytest.fixture
def run(base_run, tmp_path):
  copy = tmp_path / "run"
  shutil.copytree(base_run, copy)
  return copy


def _data(model_dir, step):
  return model_dir / "ckpt" / f"ckpt-{step}.data-00000-of-00001"


def _missing_index(model_dir, step):
  os.remove(model_dir / "ckpt" / f"ckpt-{step}.index")


def _truncated_data(model_dir, step):
  path = _data(model_dir, step)
  path.write_bytes(path.read_bytes()[:os.path.getsize(path) // 2])


def _garbage_data(model_dir, step):
  path = _data(model_dir, step)
  path.write_bytes(os.urandom(os.path.getsize(path)))


def _garbage_index(model_dir, step):
  (model_dir / "ckpt" / f"ckpt-{step}.index").write_bytes(b"not a checkpoint index")


@pytest.mark.parametrize("damage", [_missing_index, _truncated_data, _garbage_data,
                                    _garbage_index])
def test_damaged_newest_checkpoint_is_skipped(run, damage):
  damage(run, 6)
  newest, skipped = run_dir.find_newest_intact(str(run / "ckpt"))
  assert newest == str(run / "ckpt" / "ckpt-4")
  assert [os.path.basename(p) for p, _ in skipped] == ["ckpt-6"]


def test_resume_falls_back_and_keeps_every_intact_checkpoint(run):
  _missing_index(run, 6)
  result = train_lib.train(tiny_config(run, train_steps=10))
  assert result["resumed_from"] == 4 and result["step"] == 10
  names = os.listdir(run / "ckpt")
  # The fallback's new checkpoints (6, 8, 10) rotate among themselves; 2 and 4 stay.
  for step in (2, 4, 6, 8, 10):
    assert f"ckpt-{step}.index" in names, names
  (damaged,) = [n for n in names if n.startswith("damaged-")]
  assert os.listdir(run / "ckpt" / damaged) == ["ckpt-6.data-00000-of-00001"]
  log = (run / "log.txt").read_text()
  assert "warning: skipped" in log and "its .index file is missing" in log
  assert "resumed from" in log and "(iteration 4)" in log


def _digests(folder):
  return {p: hashlib.sha256(open(os.path.join(folder, p), "rb").read()).hexdigest()
          for p in sorted(os.listdir(folder))}


def test_no_readable_checkpoint_is_refused_with_exit_2_and_nothing_changed(run):
  for step in (2, 4, 6):
    _garbage_data(run, step)
  before = _digests(run / "ckpt")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  result = subprocess.run(
      [sys.executable, "-m", "oogan_tf.train", "--flagfile=flags/smoke.flags",
       f"--model_dir={run}", "--train_steps=8", "--export_at_end=false"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stderr[-2000:]
  (line,) = result.stderr.strip().splitlines()
  assert line.startswith("error: ") and "none reads completely" in line
  assert "ckpt-6: it does not read" in line and "ckpt-2: it does not read" in line
  assert _digests(run / "ckpt") == before
  assert not os.path.exists(run / run_dir.LOCK_FILE)


def test_second_trainer_and_exporter_are_refused(run):
  with run_dir.RunLock(str(run), "train"):
    with pytest.raises(run_dir.RunLockedError, match=f"is in use by train pid {os.getpid()}"):
      train_lib.train(tiny_config(run, train_steps=8))
    with pytest.raises(run_dir.RunLockedError, match="is in use by"):
      export_lib.export_from_checkpoint(str(run))
    assert tf.train.latest_checkpoint(str(run / "ckpt")).endswith("ckpt-6")
  assert not os.path.exists(run / run_dir.LOCK_FILE)


def test_stale_lock_and_temporaries_of_a_killed_run_are_cleared(run):
  dead = subprocess.Popen(["true"])
  dead.wait()
  (run / run_dir.LOCK_FILE).write_text(json.dumps(
      {"pid": dead.pid, "host": socket.gethostname(), "purpose": "train"}))
  os.makedirs(run / "ckpt" / "ckpt-8_temp")
  (run / "ckpt" / "ckpt-8_temp" / "part-00000-of-00001.index").write_bytes(b"half")
  os.makedirs(run / "export" / ".export-tmp-abc123" / "saved_model")
  result = train_lib.train(tiny_config(run, train_steps=6))
  assert result["resumed_from"] == 6
  assert not os.path.exists(run / "ckpt" / "ckpt-8_temp")
  assert os.listdir(run / "export") == []
  assert not os.path.exists(run / run_dir.LOCK_FILE)
  log = (run / "log.txt").read_text()
  assert f"took over the stale lock of train pid {dead.pid}" in log
  assert "removed" in log and "ckpt-8_temp" in log


def test_a_live_lock_on_another_host_is_not_taken_over(tmp_path):
  (tmp_path / run_dir.LOCK_FILE).write_text(json.dumps(
      {"pid": 1, "host": "elsewhere.example", "purpose": "train"}))
  with pytest.raises(run_dir.RunLockedError, match="on host elsewhere.example"):
    run_dir.RunLock(str(tmp_path), "train").acquire()
  assert os.path.exists(tmp_path / run_dir.LOCK_FILE)


def test_rotation_after_a_normal_resume_only_deletes_older_checkpoints(run):
  # A stale state file that lists nothing must not make the run forget or delete anything newer.
  (run / "ckpt" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
  result = train_lib.train(tiny_config(run, train_steps=8))
  assert result["resumed_from"] == 6
  names = sorted(n for n in os.listdir(run / "ckpt") if n.endswith(".index"))
  assert names == ["ckpt-4.index", "ckpt-6.index", "ckpt-8.index"]


def test_export_rename_never_replaces_a_finished_export(tmp_path, monkeypatch):
  target = tmp_path / "export"
  os.makedirs(target / "variables")
  (target / "saved_model.pb").write_bytes(b"finished")
  # Another exporter finishing between the existence check and the rename.
  real_exists = os.path.exists
  monkeypatch.setattr(export_lib.os.path, "exists",
                      lambda p: False if str(p) == str(target) else real_exists(p))
  with pytest.raises(export_lib.ExportExistsError):
    write_uncalibrated_export(target)
  assert (target / "saved_model.pb").read_bytes() == b"finished"
  assert [n for n in os.listdir(tmp_path) if n.startswith(".export-tmp-")] == []
