"""The categorical code (--cat_dim, the paper's Figure 15): sampling, G and Q widths, the loss,
the train step, the export signatures, the unsupervised accuracy metric, evaluation, summaries,
serving and the traversal tool."""

import dataclasses
import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from oogan_tf import codes, eval_report, evaluate_lib, export_format, export_lib, losses, summaries
from oogan_tf.config import TrainConfig
from oogan_tf.metrics import categorical_accuracy
from oogan_tf.models import Discriminator, Generator, category_logits, split_q
from oogan_tf.serving import RequestError, ServedModel
from oogan_tf.trainer import CATEGORICAL_KEY, new_trainer
import in_process
from tiny import FAST_CALIBRATION, TINY_MODEL

K = 4
CAT_MODEL = dataclasses.replace(TINY_MODEL, cat_dim=K)


def _config(**kw):
  base = dict(model=CAT_MODEL, dataset="digits", batch_size=8, train_steps=4, steps_per_loop=2,
              export_at_end=False, **FAST_CALIBRATION)
  base.update(kw)
  return TrainConfig(**base)


# ------------------------------------------------------------------------------------ sampling


@pytest.mark.parametrize("n", [0, 1, 2])
def test_categories_are_uniform_draws_that_leave_the_other_draws_unchanged(n):
  key = codes.step_key(5, n, 0)
  plain = codes.sample_codes(key, n, 4000, 3, 2, "reference")
  with_cat = codes.sample_codes(key, n, 4000, 3, 2, "reference", cat_dim=K)
  for field in ("c", "z", "target"):
    np.testing.assert_array_equal(getattr(plain, field).numpy(), getattr(with_cat, field).numpy())
  category = with_cat.category.numpy()
  assert category.dtype == np.int32 and category.min() == 0 and category.max() == K - 1
  counts = np.bincount(category, minlength=K)
  assert np.all(np.abs(counts - 1000) < 120)  # 1000 +- ~3.5 standard deviations
  np.testing.assert_array_equal(plain.category.numpy(), 0)  # no categorical code
  shard = with_cat.shard(8, 4)
  np.testing.assert_array_equal(shard.category.numpy(), category[8:12])


def test_generator_code_appends_the_one_hot_category():
  c = np.array([[0.1, 0.2], [0.3, 0.4]], np.float32)
  code = codes.generator_code(c, np.array([2, 0]), 3).numpy()
  np.testing.assert_array_equal(code, np.array([[0.1, 0.2, 0, 0, 1], [0.3, 0.4, 1, 0, 0]], np.float32))
  np.testing.assert_array_equal(codes.generator_code(c, np.array([2, 0]), 0).numpy(), c)


# ------------------------------------------------------------------------------------ networks


def test_config_widths_and_validation():
  assert CAT_MODEL.code_dim == 3 + K
  assert CAT_MODEL.q_outputs == 2 * 3 + K
  assert dataclasses.replace(CAT_MODEL, probabilistic_q=False).q_outputs == 3 + K
  for bad in (-1, 1):
    with pytest.raises(ValueError, match=f"cat_dim={bad} is not allowed"):
      dataclasses.replace(TINY_MODEL, cat_dim=bad)


@pytest.mark.parametrize("probabilistic", [True, False])
def test_q_layout_keeps_the_continuous_outputs_first(probabilistic):
  m = dataclasses.replace(CAT_MODEL, probabilistic_q=probabilistic)
  q = tf.reshape(tf.range(2 * m.q_outputs, dtype=tf.float32), (2, m.q_outputs))
  mu, log_sigma = split_q(q, m.c_dim, probabilistic)
  np.testing.assert_array_equal(mu.numpy(), q.numpy()[:, :3])
  if probabilistic:
    np.testing.assert_array_equal(log_sigma.numpy(), q.numpy()[:, 3:6])
  else:
    assert log_sigma is None
  np.testing.assert_array_equal(category_logits(q, m).numpy(), q.numpy()[:, -K:])


def test_generator_and_q_take_and_give_the_categorical_widths():
  g = Generator(CAT_MODEL).build_for()
  d = Discriminator(CAT_MODEL).build_for()
  z = tf.random.normal((4, CAT_MODEL.z_dim))
  c = np.full((4, 3), 0.5, np.float32)
  images = [g((codes.generator_code(c, np.full(4, k), K), z), training=False).numpy()
            for k in range(K)]
  assert images[0].shape == (4, 32, 32, 1)
  assert all(np.abs(images[0] - x).max() > 1e-4 for x in images[1:])  # the category matters
  _, q = d(tf.convert_to_tensor(images[0]), training=False)
  assert q.shape == (4, CAT_MODEL.q_outputs)


def test_categorical_cross_entropy():
  logits = tf.constant([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  expected = np.mean([-np.log(np.exp(2) / (np.exp(2) + 1 + np.exp(-1))), np.log(3.0)])
  assert float(losses.categorical_cross_entropy(logits, [0, 1])) == pytest.approx(expected,
                                                                                   rel=1e-6)


# ------------------------------------------------------------------------------------ training


def test_train_step_reports_and_weights_the_categorical_loss():
  # One eager iteration each (replica_step): tracing the compiled loop would cost more here.
  real = tf.zeros((8, 32, 32, 1))
  trainer = new_trainer(_config())
  assert CATEGORICAL_KEY in trainer.metric_keys
  out = trainer.replica_step(real)
  # At initialisation Q's categorical logits are small, so the CE is about log K.
  assert abs(float(out[CATEGORICAL_KEY]) - math.log(K)) < 0.5
  # Its weight enters the info loss: the same seed with lambda_cat = 0 draws and computes the
  # same, and its info loss is lower by exactly that CE.
  out0 = new_trainer(_config(lambda_cat=0.0)).replica_step(real)
  assert float(out["loss/info"]) - float(out0["loss/info"]) == pytest.approx(
      float(out[CATEGORICAL_KEY]), abs=1e-4)
  assert CATEGORICAL_KEY not in new_trainer(_config(model=TINY_MODEL)).metric_keys


def test_config_checks_lambda_cat_and_the_accuracy_metric():
  with pytest.raises(ValueError, match="--lambda_cat=-1.0 is not allowed"):
    _config(lambda_cat=-1.0)
  with pytest.raises(ValueError, match="categorical_accuracy needs --cat_dim > 0"):
    _config(model=TINY_MODEL, eval_every_steps=2, eval_metrics="categorical_accuracy")
  with pytest.raises(ValueError, match="--dataset=dsprites"):
    _config(dataset="dsprites", eval_every_steps=2, eval_metrics="categorical_accuracy")
  assert _config(eval_every_steps=2, eval_metrics="categorical_accuracy").model.cat_dim == K


def test_summaries_draw_one_traversal_sheet_per_category():
  g = Generator(CAT_MODEL).build_for()
  grids = summaries.SampleWriter(3, CAT_MODEL.z_dim, 1, cat_dim=K).grids(g, training=False)
  assert sorted(grids) == ["samples/fixed"] + [f"traversal/cat{k:02d}" for k in range(K)]
  assert not np.array_equal(grids["traversal/cat00"], grids["traversal/cat01"])
  plain = summaries.SampleWriter(3, TINY_MODEL.z_dim, 1).grids(Generator(TINY_MODEL).build_for(),
                                                               training=False)
  assert sorted(plain) == ["samples/fixed", "traversal"]


# ------------------------------------------------------------------------------------ export


@pytest.fixture
def cat_export(tiny_cat_export):
  """The session's untrained export with a K-way categorical code (conftest.py). Read-only."""
  return tiny_cat_export


def test_export_signatures_carry_the_category(cat_export):
  model = tf.saved_model.load(cat_export)
  sig = model.signatures
  assert sorted(sig["sample"].structured_input_signature[1]) == ["c", "category", "z"]
  assert "category" in sig["traverse"].structured_input_signature[1]
  c, z = tf.fill((2, 3), 0.5), tf.zeros((2, CAT_MODEL.z_dim))
  a = sig["sample"](c=c, z=z, category=tf.constant([0, 0]))["images"].numpy()
  b = sig["sample"](c=c, z=z, category=tf.constant([0, 3]))["images"].numpy()
  np.testing.assert_array_equal(a[0], b[0])
  assert np.abs(a[1] - b[1]).max() > 1e-4
  drawn = sig["sample_from_seed"](seed=tf.constant(3, tf.int64), num=tf.constant(64))
  assert drawn["category"].shape == (64,) and set(drawn["category"].numpy()) == set(range(K))
  sweep = sig["traverse"](seed=tf.constant(1, tf.int64), dim=0, steps=3, low=0.0, high=1.0,
                          category=2)["images"]
  assert sweep.shape == (3, 32, 32, 1)
  probs = sig["encode"](images=tf.convert_to_tensor(a))["category_probabilities"].numpy()
  assert probs.shape == (2, K) and np.allclose(probs.sum(axis=1), 1.0)
  with pytest.raises(tf.errors.InvalidArgumentError, match=r"`category` must be in \[0, 4\)"):
    sig["sample"](c=c, z=z, category=tf.constant([0, K]))
  meta = json.load(open(os.path.join(cat_export, "assets", "oogan_metadata.json")))
  assert meta["cat_dim"] == K


def test_served_model_bounds_the_category_and_tells_the_explorer(cat_export):
  served = ServedModel(cat_export)
  assert served.explorer_config()["cat_dim"] == K
  inputs = {"c": np.full((1, 3), 0.5), "z": np.zeros((1, CAT_MODEL.z_dim)),
            "category": np.array([K])}
  with pytest.raises(RequestError, match=r"input 'category' must be in \[0, 3\]"):
    served.check_inputs("sample", inputs)
  inputs["category"] = np.array([1])
  assert served.predict("sample", inputs)["images"].shape == (1, 32, 32, 1)


def test_traverse_tool_takes_a_category(cat_export, tmp_path):
  base = ["tools/traverse.py", f"--export_dir={cat_export}", "--steps=3",
          f"--output={tmp_path / 't.png'}", "--plain"]
  bad = in_process.run_main(*base, f"--category={K}")
  assert bad.returncode == 2 and "--category=4 is not allowed" in bad.stderr
  assert not (tmp_path / "t.png").exists()
  ok = in_process.run_main(*base, "--category=2")
  assert ok.returncode == 0, ok.stderr
  assert "category 2" in ok.stdout and (tmp_path / "t.png").exists()


# ------------------------------------------------------------------------------------ metric


def test_unsupervised_accuracy_finds_the_best_one_to_one_assignment():
  rs = np.random.RandomState(0)
  labels = rs.randint(0, 10, 500)
  permutation = rs.permutation(10)
  perfect = categorical_accuracy.unsupervised_accuracy(permutation[labels], labels, 10, 10,
                                                       bootstrap=20)
  assert perfect["accuracy"] == 1.0 and perfect["accuracy_se"] == 0.0
  assert perfect["assignment"] == sorted([int(permutation[l]), l] for l in range(10))
  constant = categorical_accuracy.unsupervised_accuracy(np.zeros(500, int), labels, 10, 10)
  assert constant["accuracy"] == pytest.approx(constant["chance"])
  assert constant["chance"] == pytest.approx(np.bincount(labels).max() / 500)
  # Two categories merged into one: one of the two classes is lost.
  merged = np.where(labels == 1, 0, labels)
  result = categorical_accuracy.unsupervised_accuracy(merged, labels, 10, 10, bootstrap=50)
  lost = min(np.sum(labels == 0), np.sum(labels == 1))
  assert result["accuracy"] == pytest.approx(1 - lost / 500)
  assert 0 < result["accuracy_se"] < 0.05
  # More categories than classes: class 3 split over categories 3 and 10, one of which is left
  # without a class and counts as wrong.
  threes = np.flatnonzero(labels == 3)
  split = labels.copy()
  split[threes[::2]] = 10
  lost = min(len(threes[::2]), len(threes[1::2]))
  assert categorical_accuracy.unsupervised_accuracy(split, labels, 11, 10)["accuracy"] == (
      pytest.approx(1 - lost / 500))


def test_unsupervised_accuracy_rejects_bad_input():
  with pytest.raises(ValueError, match="as many predictions as labels"):
    categorical_accuracy.unsupervised_accuracy([0, 1], [0], 2, 2)
  with pytest.raises(ValueError, match=r"predicted must be in \[0, 2\)"):
    categorical_accuracy.unsupervised_accuracy([0, 2], [0, 1], 2, 2)


def test_evaluate_scores_the_category_against_the_digit_labels(cat_export, tmp_path):
  result = evaluate_lib.evaluate_export(
      cat_export, "categorical_accuracy",
      sizes={"categorical_accuracy": {"num_samples": 300, "bootstrap": 10}})
  scores = result["results"]["categorical_accuracy"]
  assert scores["num_samples"] == 300 and sum(scores["category_histogram"]) == 300
  assert 0.0 < scores["accuracy"] <= 1.0 and scores["accuracy_se"] is not None
  table = eval_report.format_table(result)
  line = next(l for l in table.splitlines() if l.startswith("categorical_accuracy/accuracy "))
  assert "higher" in line and f"{scores['chance']:.4f}" in line


def test_evaluate_refuses_the_metric_without_a_categorical_code_or_labels(tiny_export,
                                                                            cat_export, tmp_path):
  with pytest.raises(evaluate_lib.EvaluationError, match="has no categorical code"):
    evaluate_lib.evaluate_export(tiny_export, "categorical_accuracy")
  # The same categorical export, its metadata saying it was trained on dSprites (no labels).
  on_dsprites = str(tmp_path / "dsprites")
  shutil.copytree(cat_export, on_dsprites)
  metadata = export_format.read_metadata(on_dsprites)
  metadata["config"]["dataset"] = "dsprites"
  export_format.write_metadata(os.path.join(on_dsprites, export_format.METADATA_ASSET), metadata)
  with pytest.raises(evaluate_lib.EvaluationError, match="--dataset=dsprites, and only digits and mnist"):
    evaluate_lib.evaluate_export(on_dsprites, "categorical_accuracy")


def test_mnist_labels_come_from_the_npz(tmp_path):
  rng = np.random.RandomState(0)
  images = rng.randint(0, 256, (40, 28, 28)).astype(np.uint8)
  np.savez(tmp_path / "mnist.npz", x_train=images, y_train=rng.randint(0, 10, 40))
  cfg = _config(dataset="mnist", data_dir=str(tmp_path))
  export = export_lib.write_export(Generator(CAT_MODEL).build_for(),
                                   Discriminator(CAT_MODEL).build_for(), cfg, 0,
                                   str(tmp_path / "export"))
  scores = evaluate_lib.evaluate_export(
      export, "categorical_accuracy",
      sizes={"categorical_accuracy": {"num_samples": 30, "bootstrap": 5}}
  )["results"]["categorical_accuracy"]
  assert scores["num_samples"] == 30 and sum(scores["category_histogram"]) == 30
  np.savez(tmp_path / "mnist.npz", x_train=images)  # no labels
  with pytest.raises(evaluate_lib.EvaluationError, match="no readable y_train"):
    evaluate_lib.evaluate_export(export, "categorical_accuracy")
