"""The paper's CelebA attribute study (OOGAN, Figures 8-9): which of CelebA's 40 visual attributes
each code dimension controls, and how that develops over training.

  read_celeba_attributes  CelebA's official list_attr_celeba.txt + img_align_celeba/, checked
  load_celeba_images      listed images, preprocessed as the training pipeline preprocesses them
  build_classifier / train_classifier / holdout_accuracy / save_classifier / load_classifier
                          the paper's "40 binary classifiers": one small CNN with 40 sigmoid outputs
  score_generator         mean prediction per (code dimension, attribute) of one generator
  list_checkpoints / score_run   the same for every checkpoint of a run directory
  write_figures / write_results  figure8.png, figure9.png and attribute_study.json

The protocol (paper, Section 5): for each code dimension d, c ~ U(0, 1)^C with c[d] = 1 and
z ~ N(0, I); the generated images are classified and the predictions averaged per attribute.

TensorFlow and Keras are imported inside the functions that need them: importing this module and
checking CelebA's files does not load them (an entry point may import it before oogan_tf.cli,
which must come before TensorFlow to quieten its start-up logging).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import textwrap
from typing import Callable, Sequence

import numpy as np

NUM_ATTRIBUTES = 40
ATTRIBUTES_FILE = "list_attr_celeba.txt"
IMAGES_SUBDIR = "img_align_celeba"
# Attributes such as "Smiling" or "Eyeglasses" read at 64 px; larger runs' images are averaged
# down to this side inside the classifier, which keeps the training images in memory small.
CLASSIFIER_MAX_SIDE = 64
RESULTS_FILE = "attribute_study.json"
FIGURE8_FILE = "figure8.png"
FIGURE9_FILE = "figure9.png"
OUTPUT_FILES = (RESULTS_FILE, FIGURE8_FILE, FIGURE9_FILE)

Progress = Callable[[str], None]


def _silent(_: str) -> None:
  pass


class CelebAError(ValueError):
  """--celeba_dir does not hold CelebA in its official layout."""


class ClassifierError(ValueError):
  """The --classifier file cannot be used (unreadable, no info file, or made for other images)."""


def _celeba_error(celeba_dir, problem: str) -> CelebAError:
  return CelebAError(
      f"--celeba_dir={celeba_dir} {problem}; expected CelebA's official layout: "
      f"{ATTRIBUTES_FILE} (line 1 the number of images, line 2 the {NUM_ATTRIBUTES} attribute "
      f"names, then one line 'FILE v1 ... v{NUM_ATTRIBUTES}' per image with values 1 or -1) and "
      f"{IMAGES_SUBDIR}/*.jpg (CelebA's 'Align&Cropped Images'), both directly in that directory")


@dataclasses.dataclass(frozen=True)
class CelebAAttributes:
  """CelebA's attribute table.

  Attributes:
    celeba_dir: the directory it was read from.
    names: the 40 attribute names, in the file's order (e.g. '5_o_Clock_Shadow', ...).
    files: N image file names, relative to image_dir, in the file's order.
    labels: uint8 [N, 40], 1 where the file says 1, 0 where it says -1.
    image_dir: celeba_dir/img_align_celeba.
  """

  celeba_dir: str
  names: tuple[str, ...]
  files: tuple[str, ...]
  labels: np.ndarray
  image_dir: str


def read_celeba_attributes(celeba_dir: str | None) -> CelebAAttributes:
  """Reads and checks DIR/list_attr_celeba.txt and that every image it lists is in
  DIR/img_align_celeba/. A second or two for the full 202,599-image file.

  Raises: CelebAError (a ValueError; the message names --celeba_dir, the path and the expected
    layout) when the file or the folder is missing, or the file is malformed.
  """
  if not celeba_dir:
    raise _celeba_error(celeba_dir, "is not set")
  if not os.path.isdir(celeba_dir):
    raise _celeba_error(celeba_dir, "does not exist or is not a directory")
  path = os.path.join(celeba_dir, ATTRIBUTES_FILE)
  image_dir = os.path.join(celeba_dir, IMAGES_SUBDIR)
  if not os.path.isfile(path):
    raise _celeba_error(celeba_dir, f"has no file {ATTRIBUTES_FILE}")
  if not os.path.isdir(image_dir):
    raise _celeba_error(celeba_dir, f"has no folder {IMAGES_SUBDIR}/")
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except (OSError, UnicodeDecodeError) as e:
    raise _celeba_error(celeba_dir, f"has an unreadable {ATTRIBUTES_FILE} ({e})") from None
  while lines and not lines[-1].strip():
    lines.pop()
  if len(lines) < 2:
    raise _celeba_error(celeba_dir, f"has {len(lines)} line(s) in {path}")
  try:
    count = int(lines[0].strip())
  except ValueError:
    raise _celeba_error(celeba_dir, f"has {lines[0][:40]!r} on line 1 of {path}, not the "
                        "number of images") from None
  names = tuple(lines[1].split())
  if len(names) != NUM_ATTRIBUTES:
    raise _celeba_error(celeba_dir, f"has {len(names)} attribute names on line 2 of {path}")
  rows = lines[2:]
  if len(rows) != count or count < 1:
    raise _celeba_error(celeba_dir, f"lists {len(rows)} image(s) in {path} but line 1 says "
                        f"{count}")
  files = []
  # One byte per value rather than one Python string: the full file has 8 million values.
  positive = bytearray(count * NUM_ATTRIBUTES)
  allowed = {"1", "-1"}
  for row, line in enumerate(rows):
    parts = line.split()
    if len(parts) != NUM_ATTRIBUTES + 1:
      raise _celeba_error(celeba_dir, f"has {len(parts)} field(s) on line {row + 3} of {path}, "
                          f"not a file name and {NUM_ATTRIBUTES} values")
    values = parts[1:]
    if not allowed.issuperset(values):
      column = next(i for i, v in enumerate(values) if v not in allowed)
      raise _celeba_error(celeba_dir, f"has {values[column]!r} for {names[column]} on line "
                          f"{row + 3} of {path}, not 1 or -1")
    files.append(parts[0])
    positive[row * NUM_ATTRIBUTES:(row + 1) * NUM_ATTRIBUTES] = bytes(v == "1" for v in values)
  present = set(os.listdir(image_dir))
  missing = [f for f in files if f not in present]
  if missing:
    raise _celeba_error(celeba_dir, f"lacks {len(missing)} of the {count} images that "
                        f"{ATTRIBUTES_FILE} lists (e.g. {image_dir}/{missing[0]})")
  labels = np.frombuffer(positive, np.uint8).reshape(count, NUM_ATTRIBUTES)
  return CelebAAttributes(celeba_dir=celeba_dir, names=names, files=tuple(files), labels=labels,
                          image_dir=image_dir)


def classifier_side(image_size: int) -> int:
  """The side L at which the classifier's CNN sees images: the run's S up to 64."""
  return min(image_size, CLASSIFIER_MAX_SIDE)


def load_celeba_images(attributes: CelebAAttributes, indices: Sequence[int], side: int,
                       channels: int, workers: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
  """Decodes the listed images `indices` as the training pipeline does (oogan_tf.data's
  image_folder: resize to L + 15 % ignoring the aspect ratio, centre crop L, no flip).

  Returns: (uint8 [n, L, L, channels] in [0, 255], uint8 [n, 40] labels); unreadable files are
    left out (and logged), so n <= len(indices).
  """
  # The training pipeline's own decoder, so that the classifier sees CelebA exactly as the
  # generator was taught to draw it.
  from oogan_tf.data import image_folder  # pylint: disable=g-import-not-at-top
  # pylint: disable-next=protected-access
  decoder = image_folder.Decoder("celeba", side, channels, len(indices))
  paths = [os.path.join(attributes.image_dir, attributes.files[i]) for i in indices]
  # Pillow releases the GIL while it decodes, so threads decode in parallel.
  with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
    decoded = list(pool.map(decoder, paths))
  ok = np.array([good for _, good in decoded], bool)
  images = np.stack([image for image, _ in decoded]) if decoded else np.zeros(
      (0, side, side, channels), np.uint8)
  return images[ok], attributes.labels[np.asarray(indices, int)][ok]


def to_generator_range(images: np.ndarray) -> np.ndarray:
  """uint8 [..., 0..255] -> float32 in [-1, 1], the range the generator outputs."""
  return np.asarray(images, np.float32) / 127.5 - 1.0


def build_classifier(image_size: int, channels: int, width: int = 32, seed: int = 0):
  """The paper's "40 binary classifiers" as one Keras CNN with a shared trunk and 40 sigmoid
  outputs (a shared trunk learns faster from the same images than 40 separate networks).

  Returns: (classifier, cnn). classifier: float32 [B, S, S, channels] in [-1, 1] -> float32
    [B, 40] in (0, 1), P(attribute present); it averages S down to L = classifier_side(S) and
    applies cnn. cnn: the same on [B, L, L, channels] (what train_classifier trains; it is
    classifier itself when S = L). Weights are initialised from `seed`.
  """
  import keras  # pylint: disable=g-import-not-at-top
  side = classifier_side(image_size)
  if image_size % side:
    raise ValueError(f"image size {image_size} is not a multiple of {side}")
  init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)
  inputs = keras.Input((side, side, channels), name="images")
  x, i = inputs, 0
  # Strided convolutions down to 4x4, then a flatten that keeps where features are (the position
  # of e.g. a hat or a beard matters).
  while x.shape[1] > 4 and x.shape[1] % 2 == 0:
    x = keras.layers.Conv2D(width * min(2 ** i, 8), 4, strides=2, padding="same",
                            kernel_initializer=init(i), name=f"conv{i}")(x)
    x = keras.layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    i += 1
  x = keras.layers.Flatten(name="flatten")(x)
  x = keras.layers.Dropout(0.3, seed=seed, name="dropout")(x)
  x = keras.layers.Dense(4 * width, kernel_initializer=init(i), name="hidden")(x)
  x = keras.layers.LeakyReLU(0.2, name="lrelu_hidden")(x)
  outputs = keras.layers.Dense(NUM_ATTRIBUTES, activation="sigmoid",
                               kernel_initializer=init(i + 1), name="attributes")(x)
  cnn = keras.Model(inputs, outputs, name="attribute_cnn")
  if side == image_size:
    return cnn, cnn
  classifier = keras.Sequential([
      keras.Input((image_size, image_size, channels), name="images"),
      keras.layers.AveragePooling2D(image_size // side, name="to_classifier_side"), cnn],
      name="attribute_classifier")
  return classifier, cnn


def train_classifier(cnn, images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
                     seed: int = 0, holdout: tuple[np.ndarray, np.ndarray] | None = None,
                     progress: Progress = _silent) -> None:
  """Trains `cnn` (build_classifier) in place with binary cross-entropy and Adam.

  Args:
    images: uint8 [N, L, L, channels] (load_celeba_images), mapped to [-1, 1] batch by batch so
      that only the uint8 copy is held in memory.
    labels: uint8 [N, 40] in {0, 1}.
    seed: order of the minibatches.
    holdout: optional (uint8 images, labels), reported after each epoch.
    progress: receives one line per epoch.
  """
  import keras  # pylint: disable=g-import-not-at-top

  class Batches(keras.utils.PyDataset):
    """Shuffled minibatches, reshuffled after every epoch from one seeded generator."""

    def __init__(self):
      super().__init__()
      self._rng = np.random.RandomState(seed)
      self._order = self._rng.permutation(len(images))

    def __len__(self):
      return -(-len(images) // batch_size)

    def __getitem__(self, index):
      rows = np.sort(self._order[index * batch_size:(index + 1) * batch_size])
      return to_generator_range(images[rows]), labels[rows].astype(np.float32)

    def on_epoch_end(self):
      self._order = self._rng.permutation(len(images))

  def report(epoch, logs):
    line = f"epoch {epoch + 1}/{epochs}: loss {logs['loss']:.4f}"
    if "val_binary_accuracy" in logs:
      line += f", held-out mean accuracy {logs['val_binary_accuracy']:.3f}"
    progress(line)

  cnn.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy(),
              metrics=[keras.metrics.BinaryAccuracy()])
  validation = None
  if holdout is not None and len(holdout[0]):
    validation = (to_generator_range(holdout[0]), holdout[1].astype(np.float32))
  cnn.fit(Batches(), epochs=epochs, verbose=0, validation_data=validation,
          validation_batch_size=batch_size,
          callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)])


def predict(classifier, images, batch_size: int = 256) -> np.ndarray:
  """float32 [N, 40] in (0, 1): `classifier` on float32 images [N, S, S, ch] in [-1, 1]."""
  images = np.asarray(images, np.float32)
  out = [np.asarray(classifier(images[i:i + batch_size], training=False))
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out) if out else np.zeros((0, NUM_ATTRIBUTES), np.float32)


def holdout_accuracy(cnn, images: np.ndarray, labels: np.ndarray, batch_size: int = 256
                     ) -> tuple[np.ndarray, np.ndarray]:
  """(accuracy, positive rate), both float64 [40] in [0, 1], of `cnn` thresholded at 0.5 on
  uint8 images [N, L, L, ch] with uint8 labels [N, 40]. The positive rate is there because many
  CelebA attributes are rare: accuracy means little next to max(rate, 1 - rate)."""
  predicted = predict(cnn, to_generator_range(images), batch_size) > 0.5
  return (predicted == labels.astype(bool)).mean(0), labels.astype(np.float64).mean(0)


def classifier_info_path(path: str) -> str:
  """The info file that travels with a classifier: PATH without .keras, plus .json."""
  return path[:-len(".keras")] + ".json" if path.endswith(".keras") else path + ".json"


def save_classifier(classifier, path: str, info: dict) -> None:
  """Writes `classifier` to `path` (.keras) and `info` (attribute names, held-out accuracy,
  training sizes, ...) to classifier_info_path(path), each through a rename, so a kill leaves
  no half-written file under either name."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
  if not tmp.endswith(".keras"):  # Keras picks the format from the extension
    tmp += ".keras"
  classifier.save(tmp)
  os.replace(tmp, path)
  info_path = classifier_info_path(path)
  with open(info_path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(info, f, indent=1)
  os.replace(info_path + ".tmp", info_path)


def load_classifier(path: str, image_size: int | None = None, channels: int | None = None):
  """Loads a classifier written by save_classifier and checks it against the run's images.

  Returns: (classifier: float32 [B, S, S, ch] in [-1, 1] -> float32 [B, 40], info dict).
  Raises: ClassifierError (naming --classifier) when the file or its info file does not read,
    or the classifier takes other images than [S, S, channels] (when those are given).
  """
  info_path = classifier_info_path(path)
  if not os.path.isfile(info_path):
    raise ClassifierError(f"--classifier={path} has no info file {info_path} (its attribute "
                          "names and held-out accuracy, written beside it when it was trained); "
                          "pass a classifier this tool trained, or a new path to train one")
  try:
    with open(info_path, encoding="utf-8") as f:
      info = json.load(f)
    names = info["attribute_names"]
  except (OSError, ValueError, KeyError, TypeError) as e:
    raise ClassifierError(f"--classifier={path}: its info file {info_path} does not read "
                          f"({type(e).__name__}: {e})") from None
  if len(names) != NUM_ATTRIBUTES:
    raise ClassifierError(f"--classifier={path}: {info_path} names {len(names)} attributes, "
                          f"not {NUM_ATTRIBUTES}")
  import keras  # pylint: disable=g-import-not-at-top
  try:
    classifier = keras.models.load_model(path, compile=False)
  except Exception as e:  # pylint: disable=broad-except
    # Keras reports a bad archive with whatever its zip, h5 or JSON reader raised.
    first = (str(e).strip().splitlines() or ["no message"])[0]
    raise ClassifierError(f"--classifier={path} does not load as a Keras model "
                          f"({type(e).__name__}: {first})") from None
  shape = tuple(classifier.input_shape[1:])
  outputs = classifier.output_shape[-1]
  if outputs != NUM_ATTRIBUTES or (image_size is not None and
                                   shape != (image_size, image_size, channels)):
    raise ClassifierError(
        f"--classifier={path} takes images {list(shape)} and gives {outputs} outputs, but the "
        f"run's images are {[image_size, image_size, channels]} and the study needs "
        f"{NUM_ATTRIBUTES}; pass a new --classifier path to train one for this run")
  return classifier, info


def score_generator(generator, classifier, c_dim: int, z_dim: int, samples_per_dim: int,
                    seed: int = 0, cat_dim: int = 0, batch_size: int = 256) -> np.ndarray:
  """The study's numbers for one generator: mean attribute prediction per code dimension.

  For each d in [0, C): c float32 [N, C] ~ U(0, 1) with c[:, d] = 1, z float32 [N, Z] ~ N(0, I),
  with a categorical code a category ~ U{0, ..., K-1}; images = generator((code, z),
  training=False) with code = codes.generator_code(c, category, K); the classifier's predictions
  averaged over the N samples.

  Args:
    generator: callable (code float32 [B, C + K], z float32 [B, Z]) -> float32 [B, S, S, ch] in
      (-1, 1), called as generator((code, z), training=False) (oogan_tf.models.Generator).
    classifier: float32 [B, S, S, ch] in [-1, 1] -> [B, 40] in (0, 1) (load_classifier).
    samples_per_dim: N.
    seed: numpy RandomState seed of c, z and the categories. The same seed gives every checkpoint
      the same inputs, so differences between checkpoints come from the generator alone.
  Returns: float64 [C, 40] in [0, 1].
  """
  from oogan_tf import codes  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  result = np.zeros((c_dim, NUM_ATTRIBUTES))
  for d in range(c_dim):
    c = rng.uniform(0.0, 1.0, (samples_per_dim, c_dim)).astype(np.float32)
    c[:, d] = 1.0
    z = rng.standard_normal((samples_per_dim, z_dim)).astype(np.float32)
    category = (rng.randint(0, cat_dim, samples_per_dim) if cat_dim
                else np.zeros(samples_per_dim, np.int64)).astype(np.int32)
    total = np.zeros(NUM_ATTRIBUTES)
    for start in range(0, samples_per_dim, batch_size):
      rows = slice(start, start + batch_size)
      code = codes.generator_code(c[rows], category[rows], cat_dim)
      images = generator((code, z[rows]), training=False)
      total += np.asarray(classifier(images, training=False), np.float64).sum(0)
    result[d] = total / samples_per_dim
  return result


def list_checkpoints(model_dir: str) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
  """The checkpoints of a run directory, oldest first.

  Returns: ([(step from the name, path prefix)] of those that read completely,
    [(path prefix, why)] of those skipped as damaged).
  """
  from oogan_tf import run_dir  # pylint: disable=g-import-not-at-top
  ckpt_dir = os.path.join(model_dir, "ckpt")
  usable, skipped = [], []
  for name in reversed(run_dir.checkpoint_candidates(ckpt_dir)):
    prefix = os.path.join(ckpt_dir, name)
    why = run_dir.damage(prefix)
    if why is None:
      usable.append((int(name.split("-")[1]), prefix))
    else:
      skipped.append((prefix, why))
  return usable, skipped


def score_run(model_dir: str, classifier, samples_per_dim: int, seed: int = 0,
              batch_size: int = 256, progress: Progress = _silent,
              checkpoints: list[tuple[int, str]] | None = None) -> dict:
  """score_generator on the EMA generator of every intact checkpoint of a run, oldest first,
  with the standing BatchNorm statistics its export would have (oogan_tf.calibration).

  `checkpoints` is list_checkpoints(model_dir)[0] when the caller has it already (listing reads
  every tensor of every checkpoint). A checkpoint that a live trainer rotates away between listing
  and restoring is skipped.
  Returns: {"iterations": [K] ints, "checkpoints": [K] path prefixes, "predictions": float64
    [K, C, 40] in [0, 1], "skipped": [[prefix, why]], "c_dim", "z_dim", "cat_dim"}.
  Raises: FileNotFoundError when model_dir is not a run or has no intact checkpoint.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from oogan_tf import calibration, export_lib, run_dir  # pylint: disable=g-import-not-at-top
  cfg = run_dir.read_config(model_dir)
  skipped = []
  if checkpoints is None:
    checkpoints, skipped = list_checkpoints(model_dir)
  skipped = [list(s) for s in skipped]
  iterations, prefixes, predictions = [], [], []
  for number, (_, prefix) in enumerate(checkpoints, start=1):
    try:
      _, generator, _, iteration = export_lib.restore_for_serving(model_dir, prefix)
    except (tf.errors.OpError, OSError, ValueError) as e:
      skipped.append([prefix, f"it did not restore ({type(e).__name__})"])
      progress(f"skipped {prefix}: it did not restore ({type(e).__name__})")
      continue
    # The BatchNorm statistics an export of this checkpoint would serve with (its own standing
    # statistics, the run's standing_stats_batches), so the study scores what users sample.
    calibration.standing_generator_statistics(generator, cfg)
    m = cfg.model
    predictions.append(score_generator(generator, classifier, m.c_dim, m.z_dim, samples_per_dim,
                                       seed, m.cat_dim, batch_size))
    iterations.append(iteration)
    prefixes.append(prefix)
    progress(f"checkpoint {number}/{len(checkpoints)} (iteration {iteration}) scored")
  if not predictions:
    raise FileNotFoundError(f"--model_dir={model_dir} has no checkpoint that restores in "
                            f"{model_dir}/ckpt")
  return {"iterations": iterations, "checkpoints": prefixes,
          "predictions": np.stack(predictions), "skipped": skipped, "c_dim": cfg.model.c_dim,
          "z_dim": cfg.model.z_dim, "cat_dim": cfg.model.cat_dim}


def _iteration_ticks(ax, iterations: Sequence[int]) -> None:
  """Labels a heat map's checkpoint columns with their iterations."""
  step = max(1, len(iterations) // 6)  # about six readable labels, whatever the count
  shown = np.arange(len(iterations))[::step]
  ax.set_xticks(shown, [str(iterations[i]) for i in shown], fontsize=6, rotation=45)


def write_figures(predictions: np.ndarray, iterations: Sequence[int],
                  attribute_names: Sequence[str], output_dir: str) -> tuple[str, str]:
  """Writes figure8.png and figure9.png into output_dir (which must exist).

  Figure 8: one heat map per code dimension d, rows the 40 attributes, columns the checkpoints.
    The colour is the mean prediction with c[d] = 1 minus its mean over the C dimensions (Figure
    9's line): raw predictions mostly show how common each attribute is in CelebA, the same for
    every d, while the difference shows what setting c[d] = 1 changes (a dimension that controls
    "Smiling" shows a red row). With C = 1 there is nothing to compare, and it shows the raw mean
    prediction instead. attribute_study.json holds the raw numbers.
  Figure 9: one panel per attribute: the mean over code dimensions against the iteration, with
    the range over dimensions shaded (wide where some dimension controls the attribute).

  Args: predictions float [K, C, 40] in [0, 1]; iterations K ints; attribute_names 40 strings.
  Returns: the two paths.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  predictions = np.asarray(predictions, np.float64)
  k, c_dim, n_attr = predictions.shape
  iterations = list(iterations)
  mean = predictions.mean(1)

  if c_dim > 1:
    shown = predictions - mean[:, None, :]
    # Symmetric limits, so that white is "like the average dimension"; a floor keeps noise in a
    # study where no dimension does anything from filling the whole colour range.
    limit = max(0.1, float(np.abs(shown).max()))
    colours = dict(cmap="RdBu_r", vmin=-limit, vmax=limit)
    label = "mean prediction minus its mean over dimensions"
  else:
    shown, colours, label = predictions, dict(cmap="viridis", vmin=0.0, vmax=1.0), "mean prediction"
  ncols = min(4, c_dim)
  nrows = -(-c_dim // ncols)
  # Margins in inches (labels on the left, colour bar on the right) whatever the panel count.
  width, height = 1.4 + 2.4 * ncols + 1.5, 0.9 + 5.0 * nrows
  title = textwrap.wrap("Figure 8: what c[d] = 1 (others U(0, 1)) does to each attribute over "
                        "training", int(width * 9))  # about 9 characters per inch at 10 pt
  height += 0.2 * (len(title) - 1)
  fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True, figsize=(width, height))
  fig.subplots_adjust(left=1.4 / width, right=1.0 - 1.5 / width,
                      top=1.0 - (0.6 + 0.2 * len(title)) / height,
                      bottom=0.5 / height, hspace=0.3, wspace=0.08)
  image = None
  for d in range(nrows * ncols):
    ax = axes[d // ncols][d % ncols]
    if d >= c_dim:
      ax.axis("off")
      continue
    image = ax.imshow(shown[:, d, :].T, aspect="auto", interpolation="nearest", **colours)
    ax.set_title(f"c{d:02d} = 1", fontsize=9)
    _iteration_ticks(ax, iterations)
    ax.set_yticks(np.arange(n_attr), attribute_names, fontsize=6)
    if d + ncols >= c_dim:
      ax.set_xlabel("iteration", fontsize=7)
  bar = fig.add_axes((1.0 - 1.25 / width, 0.3, 0.15 / width, 0.4))
  fig.colorbar(image, cax=bar).set_label(label, fontsize=8)
  fig.suptitle("\n".join(title), fontsize=10, y=1.0 - 0.2 / height, va="top")
  figure8 = os.path.join(output_dir, FIGURE8_FILE)
  fig.savefig(figure8, dpi=110)
  plt.close(fig)

  low, high = predictions.min(1), predictions.max(1)
  ncols = 5
  nrows = -(-n_attr // ncols)
  fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True,
                           figsize=(2.6 * ncols, 1.6 * nrows + 0.6))
  for a in range(nrows * ncols):
    ax = axes[a // ncols][a % ncols]
    if a >= n_attr:
      ax.axis("off")
      continue
    ax.fill_between(iterations, low[:, a], high[:, a], color="tab:blue", alpha=0.2, lw=0)
    # Vertical bars too, so that the range shows with a single checkpoint.
    ax.vlines(iterations, low[:, a], high[:, a], color="tab:blue", alpha=0.4, lw=1)
    ax.plot(iterations, mean[:, a], "o-", color="tab:blue", ms=2.5, lw=1)
    ax.set_title(attribute_names[a], fontsize=7)
    ax.set_ylim(0.0, 1.0)
    ax.tick_params(labelsize=6)
  for ax in axes[-1]:
    ax.set_xlabel("iteration", fontsize=7)
  fig.suptitle(f"Figure 9: mean attribute prediction over the {c_dim} code dimensions (line) "
               f"and their range (band), over {k} checkpoint(s)", fontsize=10)
  # Fixed margins: tight_layout measures every label of the 40 panels, which takes seconds.
  fig.subplots_adjust(left=0.05, right=0.98, bottom=0.5 / fig.get_figheight(),
                      top=1.0 - 0.7 / fig.get_figheight(), hspace=0.45, wspace=0.12)
  figure9 = os.path.join(output_dir, FIGURE9_FILE)
  fig.savefig(figure9, dpi=110)
  plt.close(fig)
  return figure8, figure9


def write_results(path: str, results: dict) -> None:
  """Writes `results` as JSON to `path`, never over an existing file (a hard link of a finished
  temporary file: the name appears complete or not at all).

  Raises: FileExistsError if path exists.
  """
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  try:
    os.link(tmp, path)
  finally:
    os.unlink(tmp)
