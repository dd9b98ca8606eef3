"""The CelebA attribute study (tools/attribute_study.py, oogan_tf.attribute_study) on a fake
CelebA whose attributes are planted: 0 'the image is bright', 1 'the left half is brighter than
the right', the other 38 coin flips."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import in_process
from oogan_tf import attribute_study as study

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ["Bright", "Left_Brighter"] + [f"Coin_{i:02d}" for i in range(38)]
NUM_IMAGES, TRAIN, HOLDOUT = 200, 160, 40


def _write_attributes(path, names, rows):
  """list_attr_celeba.txt in the official layout (values padded as in the published file)."""
  lines = [str(len(rows)), " ".join(names) + " "]
  lines += [f"{name} " + " ".join(f"{v:2d}" for v in values) for name, values in rows]
  path.write_text("\n".join(lines) + "\n")


def _make_fake_celeba(root, seed=0, side=40):
  """NUM_IMAGES coloured side x side JPEGs (CelebA's are bigger; the loader resizes all) and
  their attribute file. Returns the [N, 40] labels in {1, -1}."""
  rng = np.random.RandomState(seed)
  folder = root / study.IMAGES_SUBDIR
  folder.mkdir(parents=True)
  rows = []
  for i in range(NUM_IMAGES):
    level = rng.uniform(0.15, 0.85)
    tilt = rng.choice([-0.12, 0.12])
    tint = rng.uniform(0.85, 1.15, 3)
    tint /= tint @ [0.299, 0.587, 0.114]  # colours that keep the grey level
    grey = level + rng.normal(0.0, 0.05, (side, side, 1))
    grey[:, :side // 2] += tilt / 2
    grey[:, side // 2:] -= tilt / 2
    pixels = np.clip(grey * tint * 255.0, 0, 255).astype(np.uint8)
    name = f"{i + 1:06d}.jpg"
    Image.fromarray(pixels).save(folder / name, quality=95)
    values = [1 if level > 0.5 else -1, 1 if tilt > 0 else -1]
    values += list(rng.choice([1, -1], 38))
    rows.append((name, values))
  _write_attributes(root / study.ATTRIBUTES_FILE, NAMES, rows)
  return np.array([v for _, v in rows])


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
  root = tmp_path_factory.mktemp("celeba")
  labels = _make_fake_celeba(root)
  return root, labels


@pytest.fixture(scope="module")
def trained(celeba):
  """(classifier, cnn, (held-out uint8 images, labels)), trained on the fake CelebA at 32x32x1
  (greyscale, like the smoke run the tool is tested on)."""
  attributes = study.read_celeba_attributes(str(celeba[0]))
  order = np.random.RandomState(0).permutation(NUM_IMAGES)
  train = study.load_celeba_images(attributes, order[:TRAIN], 32, 1, workers=2)
  holdout = study.load_celeba_images(attributes, order[TRAIN:], 32, 1, workers=2)
  classifier, cnn = study.build_classifier(32, 1, width=8, seed=0)
  lines = []
  study.train_classifier(cnn, *train, epochs=8, batch_size=16, seed=0, holdout=holdout,
                         progress=lines.append)
  assert len(lines) == 8 and "held-out mean accuracy" in lines[-1]
  return classifier, cnn, holdout


def test_reads_the_official_layout(celeba):
  root, labels = celeba
  attributes = study.read_celeba_attributes(str(root))
  assert attributes.names == tuple(NAMES)
  assert attributes.files[:2] == ("000001.jpg", "000002.jpg") and len(attributes.files) == 200
  assert attributes.labels.dtype == np.uint8 and attributes.labels.shape == (200, 40)
  np.testing.assert_array_equal(attributes.labels, labels == 1)
  images, image_labels = study.load_celeba_images(attributes, [3, 0], 32, 3, workers=1)
  assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8
  np.testing.assert_array_equal(image_labels, attributes.labels[[3, 0]])


def _copy_celeba(src, dst, limit=3):
  """A 3-image CelebA in dst (the first `limit` files), for breaking one thing at a time."""
  (dst / study.IMAGES_SUBDIR).mkdir(parents=True)
  lines = (src / study.ATTRIBUTES_FILE).read_text().splitlines()
  for line in lines[2:2 + limit]:
    name = line.split()[0]
    (dst / study.IMAGES_SUBDIR / name).write_bytes((src / study.IMAGES_SUBDIR / name).read_bytes())
  (dst / study.ATTRIBUTES_FILE).write_text("\n".join([str(limit), lines[1]] + lines[2:2 + limit])
                                           + "\n")
  return dst / study.ATTRIBUTES_FILE


def _no_image_folder(d, attr):
  for f in (d / study.IMAGES_SUBDIR).iterdir():
    f.unlink()
  (d / study.IMAGES_SUBDIR).rmdir()


def _replace_line(index, transform):
  def change(d, attr):
    lines = attr.read_text().splitlines()
    lines[index] = transform(lines[index])
    attr.write_text("\n".join(lines) + "\n")
  return change


@pytest.mark.parametrize("breakage,problem", [
    (lambda d, attr: attr.unlink(), f"has no file {study.ATTRIBUTES_FILE}"),
    (_no_image_folder, f"has no folder {study.IMAGES_SUBDIR}/"),
    (_replace_line(0, lambda l: "many"), "not the number of images"),
    (_replace_line(0, lambda l: "4"), "lists 3 image(s)"),
    (_replace_line(1, lambda l: l + " Extra_Name"), "41 attribute names on line 2"),
    (_replace_line(3, lambda l: l.rsplit(" ", 1)[0]), "40 field(s) on line 4"),
    (_replace_line(4, lambda l: l.replace(" 1", " 0", 1)), "not 1 or -1"),
    (lambda d, attr: (d / study.IMAGES_SUBDIR / "000002.jpg").unlink(), "lacks 1 of the 3"),
])
def test_rejects_a_missing_or_malformed_celeba(celeba, tmp_path, breakage, problem):
  attr = _copy_celeba(celeba[0], tmp_path / "c")
  assert study.read_celeba_attributes(str(tmp_path / "c")).labels.shape == (3, 40)
  breakage(tmp_path / "c", attr)
  with pytest.raises(study.CelebAError) as info:
    study.read_celeba_attributes(str(tmp_path / "c"))
  assert isinstance(info.value, ValueError)
  message = str(info.value)
  assert message.startswith(f"--celeba_dir={tmp_path / 'c'} ") and problem in message
  assert "list_attr_celeba.txt" in message and "img_align_celeba/*.jpg" in message


def test_classifier_learns_the_planted_attribute(trained):
  classifier, cnn, (images, labels) = trained
  accuracy, rate = study.holdout_accuracy(cnn, images, labels)
  assert accuracy.shape == rate.shape == (40,)
  assert 0.25 < rate[0] < 0.75  # a balanced attribute: chance is about 0.5
  assert accuracy[0] > 0.8, accuracy[:2]
  assert accuracy[2:].mean() < 0.7  # coin flips stay near chance on images it did not train on
  # The [S, S, ch] classifier is the CNN itself at 32 px (no averaging layer).
  assert classifier is cnn and tuple(classifier.input_shape) == (None, 32, 32, 1)


def test_classifier_averages_larger_images_down():
  classifier, cnn = study.build_classifier(128, 3, width=4)
  assert tuple(classifier.input_shape) == (None, 128, 128, 3)
  assert tuple(cnn.input_shape) == (None, 64, 64, 3)
  out = study.predict(classifier, np.zeros((2, 128, 128, 3), np.float32))
  assert out.shape == (2, 40) and ((out > 0) & (out < 1)).all()


def test_classifier_saves_and_loads_with_its_info(trained, tmp_path):
  classifier, _, (images, _) = trained
  path = str(tmp_path / "sub" / "clf.keras")
  study.save_classifier(classifier, path, {"attribute_names": NAMES, "holdout_mean_accuracy": 1})
  assert sorted(os.listdir(tmp_path / "sub")) == ["clf.json", "clf.keras"]
  loaded, info = study.load_classifier(path, 32, 1)
  assert info["attribute_names"] == NAMES
  x = study.to_generator_range(images[:8])
  np.testing.assert_allclose(study.predict(loaded, x), study.predict(classifier, x), atol=1e-5)
  with pytest.raises(study.ClassifierError, match=r"--classifier=.* takes images \[32, 32, 1\]"):
    study.load_classifier(path, 64, 1)
  os.remove(study.classifier_info_path(path))
  with pytest.raises(study.ClassifierError, match=r"--classifier=.* has no info file"):
    study.load_classifier(path, 32, 1)


class _BrightnessGenerator:
  """Stands in for G: images whose brightness rises with code dimension 0 (nothing else)."""

  def __init__(self, c_dim, cat_dim):
    self.c_dim, self.cat_dim = c_dim, cat_dim
    self.rng = np.random.RandomState(1)
    self.calls = 0

  def __call__(self, inputs, training=None):
    code, z = (np.asarray(x) for x in inputs)
    assert training is False and code.shape[1] == self.c_dim + self.cat_dim and z.shape[1] == 4
    assert np.all(code[:, self.c_dim:].sum(1) == 1)  # one category, one-hot
    self.calls += 1
    level = 0.15 + 0.7 * code[:, 0]
    grey = level[:, None, None, None] + self.rng.normal(0.0, 0.05, (len(code), 32, 32, 1))
    return (2.0 * np.clip(grey, 0.0, 1.0) - 1.0).astype(np.float32)


def test_study_finds_the_dimension_that_controls_the_planted_attribute(trained):
  classifier = trained[0]
  generator = _BrightnessGenerator(c_dim=3, cat_dim=2)
  scores = study.score_generator(generator, classifier, c_dim=3, z_dim=4, samples_per_dim=48,
                                 seed=0, cat_dim=2, batch_size=32)
  assert scores.shape == (3, 40) and ((scores >= 0) & (scores <= 1)).all()
  assert generator.calls == 3 * 2  # 48 samples per dimension in batches of 32
  assert int(np.argmax(scores[:, 0])) == 0
  assert scores[0, 0] > scores[1:, 0].max() + 0.2, scores[:, 0]
  again = study.score_generator(_BrightnessGenerator(3, 2), classifier, 3, 4, 48, 0, 2, 32)
  np.testing.assert_allclose(again, scores, atol=0.05)  # the same codes; only G's noise differs


def test_lists_checkpoints_oldest_first_and_skips_a_damaged_one(smoke_run, tmp_path):
  run = tmp_path / "run"
  shutil.copytree(smoke_run, run)
  listed, skipped = study.list_checkpoints(str(run))
  assert listed == [(2, str(run / "ckpt" / "ckpt-2")), (4, str(run / "ckpt" / "ckpt-4"))]
  assert skipped == []
  data = run / "ckpt" / "ckpt-4.data-00000-of-00001"
  data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
  listed, skipped = study.list_checkpoints(str(run))
  assert [step for step, _ in listed] == [2]
  assert [prefix for prefix, _ in skipped] == [str(run / "ckpt" / "ckpt-4")]


def _tool(*args):
  return in_process.run_main("tools/attribute_study.py", *args)


def test_tool_studies_every_checkpoint_of_a_run(celeba, smoke_run, tmp_path):
  out = tmp_path / "study"
  args = [f"--celeba_dir={celeba[0]}", f"--model_dir={smoke_run}", f"--output_dir={out}",
          f"--train_images={TRAIN}", f"--holdout_images={HOLDOUT}", "--epochs=2",
          "--samples_per_dim=8", "--batch_size=32"]
  run = _tool(*args)
  assert run.returncode == 0, run.stderr[-3000:]
  assert "classifier | epoch 2/2" in run.stdout and "checkpoint 2/2 (iteration 4)" in run.stdout
  assert sorted(os.listdir(out)) == ["attribute_classifier.json", "attribute_classifier.keras",
                                     "attribute_study.json", "figure8.png", "figure9.png"]
  for name in ("figure8.png", "figure9.png"):
    with Image.open(out / name) as im:
      assert im.size[0] > 400 and im.size[1] > 400
  record = json.loads((out / "attribute_study.json").read_text())
  predictions = np.array(record["predictions"])
  assert predictions.shape == (2, 3, 40) and record["predictions_shape"] == [2, 3, 40]
  assert ((predictions >= 0) & (predictions <= 1)).all()
  assert record["iterations"] == [2, 4] and record["attribute_names"] == NAMES
  assert (record["samples_per_dim"], record["seed"], record["c_dim"]) == (8, 0, 3)
  clf = record["classifier"]
  assert clf["path"] == str(out / "attribute_classifier.keras") and clf["reused"] is False
  assert (clf["train_images"], clf["holdout_images"]) == (TRAIN, HOLDOUT)
  assert sorted(clf["holdout_accuracy"]) == sorted(NAMES)

  # A second study into the same directory is refused and changes nothing.
  before = {n: os.path.getmtime(out / n) for n in os.listdir(out)}
  again = _tool(*args)
  assert again.returncode == 2 and again.stdout == ""
  assert again.stderr.strip().splitlines() == [again.stderr.strip()]
  assert "already holds attribute_study.json" in again.stderr
  assert before == {n: os.path.getmtime(out / n) for n in os.listdir(out)}


def test_tool_refuses_a_bad_flag_in_one_line_and_writes_nothing(tmp_path):
  # A real process (C++ start-up lines would show on stderr), so one bad flag here; the refusal
  # of a finished --output_dir is checked above.
  (tmp_path / "run").mkdir()
  (tmp_path / "run" / "config.json").write_text("{}")  # passes the first, cheap check of a run
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  run = subprocess.run([sys.executable, "tools/attribute_study.py",
                        f"--model_dir={tmp_path / 'run'}", f"--output_dir={tmp_path / 'out'}"],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert run.returncode == 2, run.stderr
  lines = run.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: --celeba_dir is required"), run.stderr
  assert run.stdout == "" and not (tmp_path / "out").exists()
