"""Tests of ModelCentrality: oogan_tf.metrics.model_centrality on synthetic numpy models with known
answers, and python -m oogan_tf.model_centrality on three tiny untrained exports (in this
process, tests/in_process.py).

The synthetic models draw 4x4 greyscale images: a generator writes its codes (through a
permutation and sign flips, or a 45-degree rotation of the first two) into the first pixels,
plus a little of its noise z, and its noise into the next ones; an encoder reads pixels back.
"""

import json
import re
import shutil

import numpy as np
import pytest

import in_process
from oogan_tf import export_format
from oogan_tf.metrics import model_centrality as mc
from tiny import write_uncalibrated_export

C_DIM, Z_DIM, SIDE = 3, 4, 4
# Small FactorVAE sizes: every score here is decided far beyond their noise.
SIZES = {"num_variance_estimate": 2000, "num_train": 60, "batch_size": 32}
ROTATION = np.array([[1.0, 1.0], [1.0, -1.0]]) / 2.0  # 45 degrees, scaled to stay in [-1, 1]


def _generate_fn(perm=(0, 1, 2), signs=(1, 1, 1), rotate=False):
  perm, signs = np.asarray(perm), np.asarray(signs, np.float32)

  def generate(c, z):
    v = signs * (2.0 * c[:, perm] - 1.0)
    if rotate:
      v[:, :2] = v[:, :2] @ ROTATION.T
    x = np.zeros((len(c), SIDE * SIDE), np.float32)
    x[:, :C_DIM] = v + 0.02 * z[:, :C_DIM]
    x[:, C_DIM:C_DIM + Z_DIM] = np.tanh(z)
    return np.clip(x, -1.0, 1.0).reshape(-1, SIDE, SIDE, 1)

  return generate


def _generator(perm=(0, 1, 2), signs=(1, 1, 1), rotate=False):
  return mc.GeneratorGroundTruth(_generate_fn(perm, signs, rotate), C_DIM, Z_DIM,
                                 (SIDE, SIDE, 1), levels=10)


def _reader(perm=(0, 1, 2)):
  perm = np.asarray(perm)
  return lambda x: x.reshape(len(x), -1)[:, perm]


def _unrotating_reader(x):
  """The rotated model's encoder: undoes its own generator's rotation, so on any other
  generator it reads the 45-degree mix of the first two codes."""
  p = x.reshape(len(x), -1)
  return np.stack([p[:, 0] + p[:, 1], p[:, 0] - p[:, 1], p[:, 2]], axis=1)


def _scores(generators, encoders, **kwargs):
  return mc.pairwise_scores(generators, encoders, sizes=SIZES, bootstrap=0, **kwargs)


# ----------------------------------------------------------------------------- library


def test_encoders_that_read_the_codes_score_one_on_every_permuted_generator():
  generators = [_generator(), _generator((2, 0, 1), (1, -1, 1)),
                _generator((1, 2, 0), (-1, 1, -1))]
  encoders = [_reader(), _reader((1, 2, 0)), _reader((2, 1, 0))]
  s = _scores(generators, encoders)
  assert s.shape == (3, 3) and s.dtype == np.float64
  assert np.all(s >= 0.98), s


def test_a_rotated_model_agrees_with_itself_only_and_ranks_last():
  generators = [_generator(), _generator((2, 0, 1), (1, -1, 1)), _generator(rotate=True)]
  encoders = [_reader(), _reader((1, 2, 0)), _unrotating_reader]
  s = _scores(generators, encoders)
  assert np.all(s[:2, :2] >= 0.98), s
  assert s[2, 2] >= 0.98, s  # self-consistent: the diagonal must not save it
  # The mix of two codes: votes that fix one of them cannot tell which code it is.
  assert np.all(s[2, :2] <= 0.8) and np.all(s[:2, 2] <= 0.8), s
  c = mc.centrality(s)
  assert mc.ranking(c)[-1] == 2 and c[2] < min(c[0], c[1]) - 0.1, c
  assert mc.summary(s)["selected"] in (0, 1)


def test_rows_are_encoders_and_columns_generators():
  """A blind encoder (constant codes: every dimension pruned, score 0) beside a clean generator:
  its row is 0, its column is what the readers score."""
  generators = [_generator(), _generator((2, 0, 1)), _generator((1, 2, 0))]
  encoders = [_reader(), _reader((2, 1, 0)), lambda x: np.zeros((len(x), C_DIM))]
  s = _scores(generators, encoders)
  assert np.all(s[2, :] == 0.0), s
  assert np.all(s[:2, :] >= 0.98), s
  np.testing.assert_allclose(mc.centrality(s)[2], (0.0 + np.mean(s[:2, 2])) / 2.0)


def test_centrality_is_the_symmetrised_off_diagonal_mean():
  s = np.array([[1.0, 0.8, 0.6],
                [0.4, 0.0, 0.9],
                [0.2, 0.7, 1.0]])
  # Pairs: (0, 1) -> 0.6, (0, 2) -> 0.4, (1, 2) -> 0.8.
  np.testing.assert_allclose(mc.centrality(s), [0.5, 0.7, 0.6])
  # Any diagonal gives the same centralities (with it, model 1's 0.0 would rank it last).
  np.testing.assert_allclose(mc.centrality(s + np.diag([-1.0, 5.0, 3.0])), [0.5, 0.7, 0.6])
  summary = mc.summary(s)
  assert summary["ranking"] == [1, 2, 0] and summary["selected"] == 1
  assert summary["self_consistency"] == [1.0, 0.0, 1.0]
  np.testing.assert_allclose(summary["as_encoder"], [0.7, 0.65, 0.45])
  np.testing.assert_allclose(summary["as_generator"], [0.3, 0.75, 0.75])
  assert list(mc.ranking([0.5, 0.7, 0.7])) == [1, 2, 0]  # ties: the lower index first
  for bad in (np.ones((2, 3)), np.ones((1, 1)), [[1.0, np.nan], [0.0, 1.0]]):
    with pytest.raises(ValueError, match="scores must be"):
      mc.centrality(bad)


def test_factor_classes_map_to_the_centres_of_the_code_range_bins():
  seen = []

  def generate(c, z):
    seen.append(c)
    return np.zeros((len(c), 2, 2, 1), np.float32)

  gt = mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 1), levels=4)
  assert gt.factor_sizes == (4, 4) and gt.num_factors == 2 and gt.code_range == (0.0, 1.0)
  gt.sample_observations_from_factors(np.array([[0, 3], [1, 2]]), np.random.RandomState(0))
  np.testing.assert_allclose(seen[0], [[0.125, 0.875], [0.375, 0.625]])
  assert seen[0].dtype == np.float32
  wide = mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 1), levels=2, code_range=(-1.0, 1.0))
  np.testing.assert_allclose(wide.code_values(np.array([[0, 1]])), [[-0.5, 0.5]])
  with pytest.raises(ValueError, match=r"factor classes must be in \[0, 4\)"):
    gt.code_values(np.array([[0, 4]]))
  with pytest.raises(ValueError, match="levels must be an integer >= 2"):
    mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 1), levels=1)
  with pytest.raises(ValueError, match="low < high"):
    mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 1), code_range=(1.0, 1.0))


def test_noise_comes_from_the_random_state_and_generate_is_called_in_batches():
  calls = []

  def generate(c, z):
    calls.append((c, z))
    return np.tanh(np.concatenate([c[:, :1], z[:, :3]], axis=1)).reshape(-1, 2, 2, 1)

  gt = mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 1), levels=5, batch_size=3)
  factors = np.random.RandomState(1).randint(0, 5, (7, 2))
  a = gt.sample_observations_from_factors(factors, np.random.RandomState(5))
  assert a.shape == (7, 2, 2, 1) and a.dtype == np.float32
  assert [len(c) for c, _ in calls] == [3, 3, 1]
  np.testing.assert_array_equal(np.concatenate([z for _, z in calls]),
                                np.random.RandomState(5).standard_normal((7, 3)).astype(np.float32))
  np.testing.assert_array_equal(np.concatenate([c for c, _ in calls]), gt.code_values(factors))
  b = gt.sample_observations_from_factors(factors, np.random.RandomState(5))
  other = gt.sample_observations_from_factors(factors, np.random.RandomState(6))
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, other)
  with pytest.raises(ValueError, match=r"generate returned images of shape \(3, 2, 2, 1\) for 3 "
                                       r"codes; expected \[3, 2, 2, 2\]"):
    mc.GeneratorGroundTruth(generate, 2, 3, (2, 2, 2)).sample_observations_from_factors(
        factors[:3], np.random.RandomState(0))


def test_factor_vae_renders_many_votes_per_generator_call():
  """iid_nuisance makes the adapter deferrable: FactorVAE draws the votes' factors first and
  renders thousands of images per call, instead of one call per vote."""
  calls = []
  generate = _generate_fn()

  def counting(c, z):
    calls.append(len(c))
    return generate(c, z)

  gt = mc.GeneratorGroundTruth(counting, C_DIM, Z_DIM, (SIDE, SIDE, 1), batch_size=100_000)
  s = mc.pairwise_scores([gt], [_reader()], bootstrap=0,
                         sizes={"num_variance_estimate": 500, "num_train": 200, "batch_size": 10})
  assert s[0, 0] >= 0.98
  assert calls == [500, 2000]  # not 1 + 200 calls


def test_pairwise_scores_are_reproducible_and_check_their_inputs():
  generators = [_generator(), _generator(rotate=True)]
  encoders = [_reader(), _unrotating_reader]
  seen = []
  a = mc.pairwise_scores(generators, encoders, sizes=SIZES, bootstrap=20, seed=3,
                         on_score=lambda i, j, r: seen.append((i, j, r)))
  b = mc.pairwise_scores(generators, encoders, sizes=SIZES, bootstrap=20, seed=3)
  np.testing.assert_array_equal(a, b)
  assert [(i, j) for i, j, _ in seen] == [(0, 0), (1, 0), (0, 1), (1, 1)]
  for i, j, r in seen:
    assert r["eval_accuracy"] == a[i, j] and r["eval_accuracy_se"] >= 0.0
    assert r["params"]["num_train"] == 60 and r["params"]["protocol"] == "gan_papers"
  with pytest.raises(ValueError, match="one encoder per generator"):
    mc.pairwise_scores(generators, encoders[:1])
  with pytest.raises(ValueError, match="unknown FactorVAE parameter.*'num_tests'"):
    mc.pairwise_scores(generators, encoders, sizes={"num_tests": 3})
  with pytest.raises(ValueError, match="num_train must be an integer >= 1"):
    mc.factor_vae_params("gan_papers", {"num_train": 0})
  assert mc.factor_vae_params("dlib", {"num_eval": 7})["num_eval"] == 7


# ----------------------------------------------------------------------------- command line

CLI_SIZES = '{"factor_vae": {"num_variance_estimate": 128, "num_train": 12, "batch_size": 8}}'


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
  """Three untrained tiny exports (32 px greyscale, c_dim 3): runs/{a,b,c}/export. Export a has
  an unreadable eval.json beside it and in it, which a label-free tool never opens."""
  root = tmp_path_factory.mktemp("centrality") / "runs"
  dirs = [write_uncalibrated_export(root / name / "export") for name in "abc"]
  for path in (root / "a" / "eval.json", root / "a" / "export" / "eval.json"):
    path.write_text("{not json: labels must not be read")
  return [str(d) for d in dirs]


def _cli(*args):
  return in_process.run_main("oogan_tf.model_centrality", *args)


def test_cli_writes_the_matrix_the_ranking_and_the_selected_export(exports, tmp_path):
  out = tmp_path / "centrality.json"
  proc = _cli(f"--export_dirs={','.join(exports)}", f"--output={out}", "--levels=3",
              f"--sizes={CLI_SIZES}", "--seed=4", "--batch_size=64")
  assert proc.returncode == 0, proc.stderr[-3000:]
  doc = json.loads(out.read_text())
  assert doc["format"] == "oogan_tf.model_centrality/1"
  assert doc["exports"] == exports
  s = np.array(doc["S"])
  assert s.shape == (3, 3) and np.all((0.0 <= s) & (s <= 1.0))
  assert np.array(doc["S_se"], dtype=float).shape == (3, 3)
  np.testing.assert_allclose(doc["centrality"], mc.centrality(s))
  assert doc["selected"]["index"] == int(np.argmax(doc["centrality"]))
  assert doc["selected"]["export_dir"] == exports[doc["selected"]["index"]]
  assert [r["rank"] for r in doc["ranking"]] == [1, 2, 3]
  assert doc["ranking"][0]["index"] == doc["selected"]["index"]
  assert doc["self_consistency"] == [s[i, i] for i in range(3)]
  settings = doc["settings"]
  assert settings["levels"] == 3 and settings["protocol"] == "gan_papers"
  assert settings["factor_vae"] == {"batch_size": 8, "num_train": 12, "num_eval": 0,
                                    "num_variance_estimate": 128, "prune_threshold": 0.0}
  assert settings["code_range"] == [[0.0, 1.0]] * 3 and settings["batch_size"] == 64
  assert doc["seed"] == 4 and doc["elapsed_s"] > 0
  assert [m["c_dim"] for m in doc["models"]] == [3, 3, 3]
  assert "[9/9] encoder #2 on generator #2" in proc.stdout
  assert "a/export" in proc.stdout and f"selected: #{doc['selected']['index']}" in proc.stdout


def _with_metadata(export_dir, path, **changes):
  shutil.copytree(export_dir, path)
  meta_path = path / export_format.METADATA_ASSET
  meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **changes}))
  return str(path)


@pytest.mark.parametrize("case, message", [
    ("two", r"--export_dirs=.* names 2 export\(s\); ModelCentrality needs at least 3"),
    ("missing", r"--export_dirs=.*nope does not exist or is not a directory"),
    ("not_export", r"--export_dirs=.*plain is not an oogan_tf export"),
    ("duplicate", r"--export_dirs=.* names .* more than once"),
    ("c_dim", r"--export_dirs=.*other has c_dim=4, image_size=32, channels=1, but .* has "
              r"c_dim=3, image_size=32, channels=1; all exports must share c_dim, image_size "
              r"and channels"),
    ("levels", r"--levels=1 is not allowed; it must be an integer >= 2"),
    ("output", r"--output='.*out.json' already exists; pass another --output or --overwrite"),
    ("sizes_metric", r"--sizes=.* has metric\(s\) mig; ModelCentrality runs only factor_vae"),
    ("sizes_value", r"--sizes=.*: num_train must be an integer >= 1, got 0"),
    ("sizes_json", r"--sizes='\{bad' is not valid JSON"),
    ("protocol", r"--protocol"),
])
def test_cli_bad_input_is_one_line_exit_2_and_writes_nothing(exports, tmp_path, case, message):
  out = tmp_path / "out.json"
  dirs = list(exports)
  args = []
  if case == "two":
    dirs = dirs[:2]
  elif case == "missing":
    dirs[1] = str(tmp_path / "nope")
  elif case == "not_export":
    (tmp_path / "plain").mkdir()
    dirs[2] = str(tmp_path / "plain")
  elif case == "duplicate":
    dirs[2] = dirs[0] + "/"
  elif case == "c_dim":
    dirs[2] = _with_metadata(dirs[2], tmp_path / "other", c_dim=4)
  elif case == "levels":
    args = ["--levels=1"]
  elif case == "output":
    out.write_text("kept")
  elif case == "sizes_metric":
    args = ['--sizes={"mig": {"num_train": 5}}']
  elif case == "sizes_value":
    args = ['--sizes={"factor_vae": {"num_train": 0}}']
  elif case == "sizes_json":
    args = ["--sizes={bad"]
  elif case == "protocol":
    args = ["--protocol=bogus"]
  proc = _cli(f"--export_dirs={','.join(dirs)}", f"--output={out}", *args)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
  assert re.search(message, lines[0]), lines[0]
  if case == "output":
    assert out.read_text() == "kept"
  else:
    assert not out.exists()
  assert "loading" not in proc.stdout
