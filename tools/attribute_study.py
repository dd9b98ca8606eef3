"""The paper's CelebA attribute study (Figures 8-9): what each code dimension does to CelebA's 40
attributes, checkpoint by checkpoint.

Trains "40 binary classifiers" (one small CNN with 40 sigmoid outputs) on --train_images CelebA
images at the run's image size and channels, or loads the one at --classifier. Then for every
checkpoint of --model_dir and every code dimension d: --samples_per_dim images with c[d] = 1, the
other codes U(0, 1) and z ~ N(0, I), classified; the mean prediction per attribute. Writes
figure8.png (per dimension), figure9.png (per attribute, averaged over dimensions) and
attribute_study.json (the [checkpoints, c_dim, 40] array, iterations, the classifier's held-out
accuracy per attribute) into --output_dir, and refuses an --output_dir that holds them already.
Keep many checkpoints while training (e.g. --keep_checkpoints=20): the study sees only those left.

    python tools/attribute_study.py --celeba_dir=DIR --model_dir=runs/celeba \\
        --output_dir=runs/celeba/attribute_study [--train_images=20000 --epochs=5 \\
        --samples_per_dim=500 --classifier=classifier.keras]

DIR holds CelebA's list_attr_celeba.txt and img_align_celeba/*.jpg. The classifier is saved to
--classifier (default OUTPUT_DIR/attribute_classifier.keras, with its .json info file) and reused
when that file exists; --celeba_dir may then be left out.
"""

import os

from absl import flags
import numpy as np

from oogan_tf import attribute_study as study
from oogan_tf import cli
from oogan_tf import shared_flags

_CELEBA_DIR = shared_flags.string(
    "celeba_dir", None, "CelebA directory: list_attr_celeba.txt and img_align_celeba/*.jpg "
    "(required unless --classifier names an existing classifier).")
_MODEL_DIR = shared_flags.string("model_dir", None, "Training run directory (its config.json "
                                 "and ckpt/); every intact checkpoint is scored. Required.")
_OUTPUT_DIR = shared_flags.string("output_dir", None, "Where figure8.png, figure9.png and "
                                  "attribute_study.json are written (never over existing ones). "
                                  "Required.")
_CLASSIFIER = shared_flags.string(
    "classifier", None, "Attribute classifier (.keras): loaded if it exists, else trained and "
    "saved there. Default: OUTPUT_DIR/attribute_classifier.keras.")
_TRAIN_IMAGES = shared_flags.integer("train_images", 20000,
                                     "CelebA images the classifier trains on (1-1000000).")
_HOLDOUT_IMAGES = shared_flags.integer(
    "holdout_images", 2000, "Further CelebA images, not trained on, that measure the "
    "classifier's accuracy per attribute (1-1000000).")
_EPOCHS = shared_flags.integer("epochs", 5, "Classifier training epochs (1-1000).")
_SAMPLES = shared_flags.integer("samples_per_dim", 500, "Generated images per code dimension and "
                                "checkpoint (1-1000000).")
_SEED = shared_flags.integer("seed", 0, "Seed of the CelebA subset, the classifier's training "
                             "and the generated codes and noise (the same for every checkpoint).")
_BATCH_SIZE = shared_flags.integer("batch_size", 128, "Batch size of classifier training and of "
                                   "generation (1-4096).")

_CLASSIFIER_FILE = "attribute_classifier.keras"


def _progress(prefix):
  return lambda line: print(f"{prefix} | {line}", flush=True)


def _writable(path):
  """Whether `path` can be created: its nearest existing ancestor is a writable directory."""
  path = os.path.abspath(path)
  while not os.path.exists(path):
    path = os.path.dirname(path)
  return os.path.isdir(path) and os.access(path, os.W_OK)


def _check_inputs(argv):
  """The checks of flags and files: (classifier path, whether it exists, the CelebA table or
  None). Each problem is cli.fail(), before anything is written."""
  if len(argv) > 1:
    cli.fail(f"unexpected arguments {argv[1:]}")
  cli.check_ranges(flags.FLAGS, {
      "train_images": (1, 1_000_000), "holdout_images": (1, 1_000_000), "epochs": (1, 1000),
      "samples_per_dim": (1, 1_000_000), "seed": (0, 2**31 - 1), "batch_size": (1, 4096)})
  for flag in (_MODEL_DIR, _OUTPUT_DIR):
    if not flag.value:
      cli.fail(f"--{flag.name} is required; --help describes it")
  output_dir = _OUTPUT_DIR.value
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    cli.fail(f"--output_dir={output_dir} exists and is not a directory")
  for name in study.OUTPUT_FILES:
    if os.path.exists(os.path.join(output_dir, name)):
      cli.fail(f"--output_dir={output_dir} already holds {name}; refusing to overwrite it: pass "
               "a new --output_dir or move the old results away")
  path = _CLASSIFIER.value or os.path.join(output_dir, _CLASSIFIER_FILE)
  if not path.endswith(".keras"):
    cli.fail(f"--classifier={path} is not allowed; it must end in .keras")
  reuse = os.path.exists(path)
  if reuse and not os.path.isfile(path):
    cli.fail(f"--classifier={path} exists and is not a file")
  if reuse and not os.path.isfile(study.classifier_info_path(path)):
    cli.fail(f"--classifier={path} has no info file {study.classifier_info_path(path)} (written "
             "beside a classifier this tool trains); pass a new path to train one")
  for flag, target in ((_OUTPUT_DIR, os.path.join(output_dir, study.RESULTS_FILE)),
                       (_CLASSIFIER, None if reuse else path)):
    if target and not _writable(target):
      cli.fail(f"--{flag.name}={flag.value or path}: cannot write {target} (no permission)")
  attributes = None
  if not reuse and not _CELEBA_DIR.value:
    cli.fail(f"--celeba_dir is required to train the attribute classifier (--classifier={path} "
             "does not exist yet): give the directory with list_attr_celeba.txt and "
             "img_align_celeba/")
  if _CELEBA_DIR.value:
    try:
      attributes = study.read_celeba_attributes(_CELEBA_DIR.value)
    except study.CelebAError as e:
      cli.fail(str(e))
    wanted = _TRAIN_IMAGES.value + _HOLDOUT_IMAGES.value
    if not reuse and wanted > len(attributes.files):
      cli.fail(f"--train_images={_TRAIN_IMAGES.value} plus --holdout_images="
               f"{_HOLDOUT_IMAGES.value} is more than the {len(attributes.files)} images of "
               f"--celeba_dir={_CELEBA_DIR.value}; lower them")
  if not os.path.isfile(os.path.join(_MODEL_DIR.value, "config.json")):
    cli.fail(f"--model_dir={_MODEL_DIR.value} has no config.json: not an oogan_tf training run "
             "directory")
  return path, reuse, attributes


def _check_run(classifier_path, reuse, attributes):
  """The checks that restore or load something: (run config, [(step, checkpoint prefix)],
  [(damaged prefix, why)], (classifier, info) or None). Each problem is cli.fail(), before
  anything is written."""
  from oogan_tf import run_dir  # pylint: disable=g-import-not-at-top
  model_dir = _MODEL_DIR.value
  try:
    cfg = run_dir.read_config(model_dir)
  except (OSError, ValueError, KeyError, TypeError) as e:
    cli.fail(f"--model_dir={model_dir}: its config.json does not read ({type(e).__name__}: "
             f"{e})")
  checkpoints, skipped = study.list_checkpoints(model_dir)
  if not checkpoints:
    why = "; ".join(f"{os.path.basename(p)}: {w}" for p, w in skipped) or "none at all"
    cli.fail(f"--model_dir={model_dir} has no intact checkpoint in ckpt/ ({why}); train first")
  m = cfg.model
  if m.image_size % study.classifier_side(m.image_size):
    cli.fail(f"--model_dir={model_dir}: image size {m.image_size} is not supported by the "
             f"classifier (a multiple of {study.CLASSIFIER_MAX_SIDE} or at most that)")
  loaded = None
  if reuse:
    try:
      loaded = study.load_classifier(classifier_path, m.image_size, m.channels)
    except study.ClassifierError as e:
      cli.fail(str(e))
    if attributes is not None and tuple(loaded[1]["attribute_names"]) != attributes.names:
      cli.fail(f"--classifier={classifier_path} was trained on other attributes than those of "
               f"--celeba_dir={_CELEBA_DIR.value}")
  return cfg, checkpoints, skipped, loaded


def _train(path, attributes, image_size, channels):
  """Trains, evaluates and saves the classifier; returns (classifier, info)."""
  seed, n_train, n_hold = _SEED.value, _TRAIN_IMAGES.value, _HOLDOUT_IMAGES.value
  order = np.random.RandomState(seed).permutation(len(attributes.files))
  side = study.classifier_side(image_size)
  say = _progress("classifier")
  say(f"decoding {n_train} + {n_hold} held-out CelebA images at {side}x{side}x{channels}")
  train = study.load_celeba_images(attributes, order[:n_train], side, channels)
  holdout = study.load_celeba_images(attributes, order[n_train:n_train + n_hold], side, channels)
  if not len(train[0]) or not len(holdout[0]):
    cli.fail(f"--celeba_dir={attributes.celeba_dir}: none of the chosen images decodes")
  classifier, cnn = study.build_classifier(image_size, channels, seed=seed)
  study.train_classifier(cnn, *train, epochs=_EPOCHS.value, batch_size=_BATCH_SIZE.value,
                         seed=seed, holdout=holdout, progress=say)
  accuracy, rate = study.holdout_accuracy(cnn, *holdout, batch_size=_BATCH_SIZE.value)
  names = list(attributes.names)
  info = {
      "attribute_names": names, "image_size": image_size, "channels": channels,
      "classifier_side": side, "celeba_dir": os.path.abspath(attributes.celeba_dir),
      "train_images": len(train[0]), "holdout_images": len(holdout[0]),
      "epochs": _EPOCHS.value, "batch_size": _BATCH_SIZE.value, "seed": seed,
      "holdout_accuracy": dict(zip(names, accuracy.round(4).tolist())),
      "holdout_positive_rate": dict(zip(names, rate.round(4).tolist())),
      "holdout_mean_accuracy": round(float(accuracy.mean()), 4),
      # What always answering the more common value would score: the floor to compare with.
      "holdout_majority_accuracy": round(float(np.maximum(rate, 1 - rate).mean()), 4)}
  study.save_classifier(classifier, path, info)
  worst = int(accuracy.argmin())
  say(f"wrote {path}: held-out accuracy mean {accuracy.mean():.3f} (always-majority "
      f"{info['holdout_majority_accuracy']:.3f}), lowest {accuracy[worst]:.3f} ({names[worst]})")
  return classifier, info


def main(argv):
  classifier_path, reuse, attributes = _check_inputs(argv)
  cfg, checkpoints, damaged, loaded = _check_run(classifier_path, reuse, attributes)
  output_dir, say = _OUTPUT_DIR.value, _progress("attribute_study")
  m = cfg.model
  say(f"{len(checkpoints)} checkpoint(s) in {_MODEL_DIR.value} (iterations "
      f"{', '.join(str(step) for step, _ in checkpoints)}); c_dim {m.c_dim}, images "
      f"{m.image_size}x{m.image_size}x{m.channels}")
  for prefix, why in damaged:
    say(f"skipped {prefix}: {why}")
  os.makedirs(output_dir, exist_ok=True)
  if loaded:
    classifier, info = loaded
    say(f"loaded {classifier_path} (trained on {info.get('train_images', '?')} images; held-out "
        f"mean accuracy {info.get('holdout_mean_accuracy', '?')})")
  else:
    classifier, info = _train(classifier_path, attributes, m.image_size, m.channels)
  results = study.score_run(_MODEL_DIR.value, classifier, _SAMPLES.value, _SEED.value,
                            _BATCH_SIZE.value, progress=say, checkpoints=checkpoints)
  predictions = results["predictions"]
  figure8, figure9 = study.write_figures(predictions, results["iterations"],
                                         info["attribute_names"], output_dir)
  record = {
      "protocol": ("for each code dimension d: c ~ U(0, 1)^c_dim with c[d] = 1, z ~ N(0, I), "
                   "category ~ U{0..cat_dim-1} if any; EMA generator; mean classifier prediction "
                   "per attribute over samples_per_dim images"),
      "attribute_names": info["attribute_names"], "model_dir": os.path.abspath(_MODEL_DIR.value),
      "iterations": results["iterations"], "checkpoints": results["checkpoints"],
      "skipped_checkpoints": [list(d) for d in damaged] + results["skipped"],
      "c_dim": results["c_dim"], "z_dim": results["z_dim"], "cat_dim": results["cat_dim"],
      "predictions_shape": list(predictions.shape),
      "predictions": predictions.round(5).tolist(),
      "samples_per_dim": _SAMPLES.value, "seed": _SEED.value, "batch_size": _BATCH_SIZE.value,
      "classifier": {"path": os.path.abspath(classifier_path), "reused": bool(loaded), **info}}
  results_path = os.path.join(output_dir, study.RESULTS_FILE)
  try:
    study.write_results(results_path, record)
  except FileExistsError:
    cli.fail(f"{results_path} appeared while the study ran; it was left as it is")
  say(f"wrote {figure8}, {figure9} and {results_path} (predictions "
      f"{list(predictions.shape)} = [checkpoints, c_dim, attributes])")


if __name__ == "__main__":
  cli.run(main, __doc__)
