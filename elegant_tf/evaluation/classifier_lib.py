"""The work of `python -m elegant_tf.classifier`: train, save, load and test the
AttGAN-style attribute classifier (the network is attribute_classifier.py).

The output directory holds `classifier.keras` (the network) and
`classifier.json` (attribute names, image size, data spec and per-attribute
test accuracy). `elegant_tf.evaluate --classifier=DIR` uses it to judge
whether an edit flipped the swapped attribute and kept the others.
"""

import dataclasses
import json
import os
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from elegant_tf import dataclass_flags
from elegant_tf.evaluation import attribute_classifier
from pipelines import atomic_files
from pipelines import data_spec
from pipelines import long_lived
from pipelines import usage

MODEL_FILE = "classifier.keras"
METADATA_FILE = "classifier.json"

setting = dataclass_flags.setting


@dataclasses.dataclass(frozen=True)
class ClassifierConfig(dataclass_flags.FlagSettings):
  """The settings of one classifier run, each declared once; classifier.py derives its
  flags from them."""
  data: str = setting("synthetic", "Faces: synthetic, celeba:DIR, tfrecord:DIR, "
                      "folder:DIR[,landmarks=auto] or tfds:celeb_a.")
  attributes: Optional[tuple[str, ...]] = setting(
      None, "Attributes to classify, comma separated (default: all the data has).")
  image_size: int = setting(data_spec.DEFAULT_IMAGE_SIZE, "Square input size in pixels, a "
                            "multiple of 32; the size of the models it judges (AttGAN/STGAN: "
                            "128).")
  train_steps: int = setting(2000, "Training batches.")
  batch_size: int = setting(32, "Images per batch.")
  base_width: int = setting(32, "Channels of the first block, doubling per block "
                            "(papers: 64).")
  max_width: int = setting(256, "Channel cap of the blocks (papers: 512).")
  learning_rate: float = setting(1e-3, "Adam learning rate (cosine-decayed to 0).")
  split: str = setting("train", "Split to train on.")
  test_split: str = setting("test", "Split to report accuracy on.")
  test_images: int = setting(2000, "Images of the test split to score.")
  seed: int = setting(0, "Seed of weights and data order.")
  tfds_data_dir: Optional[str] = setting(None, "data_dir for --data=tfds:celeb_a.")
  out: Optional[str] = setting(None, "Directory to write classifier.keras and classifier.json "
                               f"({atomic_files.MISSING_FOLDERS_HELP}).")

  def validate(self) -> None:
    """ConfigError listing every setting that cannot work. Like TrainConfig.validate it
    names the settings as the flags they are declared as."""
    problems = self.value_problems()
    if not self.out:
      problems.append("--out=DIR is required (where the classifier is saved)")
    if self.image_size < 32 or self.image_size % 32:
      problems.append(f"--image_size must be a positive multiple of 32, got {self.image_size}")
    if len(problems) == 1:
      raise dataclass_flags.ConfigError(problems[0])
    if problems:
      raise dataclass_flags.ConfigError("invalid settings:\n  " + "\n  ".join(problems))


def _labelled_batches(source, split: str, columns: Sequence[int], batch_size: int,
                      shuffle_seed: Optional[int], limit: Optional[int] = None):
  """tf.data of (images, labels[:, columns]); shuffled and endless when shuffle_seed is set."""
  count = len(source.labels(split))
  if limit is not None:
    count = min(count, limit)
  indices = tf.data.Dataset.range(count)
  if shuffle_seed is not None:
    indices = indices.shuffle(min(count, 20_000), seed=shuffle_seed).repeat()
  columns = tf.constant(list(columns), tf.int32)
  batches = source.batches(split, indices, batch_size, deterministic=shuffle_seed is None)
  return batches.map(lambda images, labels: (images, tf.gather(labels, columns, axis=1))
                     ).prefetch(2)


def predict_probabilities(model, images, batch_size: int = 64) -> np.ndarray:
  """Sigmoid probabilities [N, n] of images in [-1, 1] (inference mode, so BatchNorm is frozen)."""
  images = np.asarray(images, np.float32)
  outputs = [np.asarray(model(images[start:start + batch_size], training=False))
             for start in range(0, len(images), batch_size)]
  logits = np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]))
  return 1.0 / (1.0 + np.exp(-logits))


def test_accuracy(model, source, columns: Sequence[int], split: str = "test",
                  max_examples: int = 2000, batch_size: int = 50) -> tuple:
  """(accuracy per attribute [n], examples seen) on the first max_examples of a split."""
  count = min(len(source.labels(split)), max_examples)
  # Batches are whole (sources drop remainders): prefer a batch size that
  # divides the count, so that every requested example is scored.
  divisors = [size for size in range(8, min(batch_size, count) + 1) if count % size == 0]
  batch_size = divisors[-1] if divisors else max(1, min(batch_size, count))
  correct, seen = np.zeros(len(columns)), 0
  for images, labels in _labelled_batches(source, split, columns, batch_size, None, count):
    predicted = predict_probabilities(model, images.numpy(), batch_size) > 0.5
    correct += (predicted == (labels.numpy() > 0.5)).sum(axis=0)
    seen += len(predicted)
  if not seen:
    raise ValueError(f"split {split!r} gave no complete batch of {batch_size} examples")
  return correct / seen, seen


def train_classifier(source, config: ClassifierConfig, verbose: int = 1) -> dict:
  """Train on config.split, test on config.test_split, save to config.out; return the
  metadata written. The images come from `source` (config.data names it in the metadata),
  the attributes from config.attributes, or all the source has."""
  attributes = list(config.attributes or source.attribute_names)
  missing = [name for name in attributes if name not in source.attribute_names]
  if missing:
    raise usage.UsageError(f"attributes {missing} are not in the data; it has: "
                           + ", ".join(source.attribute_names))
  columns = [source.attribute_names.index(name) for name in attributes]
  keras.utils.set_random_seed(config.seed)
  widths = attribute_classifier.block_widths(config.base_width, config.max_width)
  model = attribute_classifier.build_classifier(len(columns), source.image_size, widths)
  # Cosine decay lets a short run settle instead of ending on a noisy step.
  schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                    max(config.train_steps, 1))
  model.compile(optimizer=keras.optimizers.Adam(schedule),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
  batches = _labelled_batches(source, config.split, columns, config.batch_size, config.seed)
  model.fit(long_lived.without_autotuning(batches), steps_per_epoch=config.train_steps,
            epochs=1, verbose=verbose)
  accuracy, seen = test_accuracy(model, source, columns, config.test_split,
                                 config.test_images)
  metadata = {
      "attribute_names": list(attributes), "image_size": source.image_size,
      "data": config.data, "widths": list(widths), "train_steps": config.train_steps,
      "batch_size": config.batch_size, "test_split": config.test_split, "test_examples": seen,
      "test_accuracy": {name: float(value) for name, value in zip(attributes, accuracy)},
      "mean_test_accuracy": float(np.mean(accuracy)),
  }
  os.makedirs(config.out, exist_ok=True)
  # Atomically, model first: a kill mid-save leaves the previous classifier whole.
  with atomic_files.atomic_path(os.path.join(config.out, MODEL_FILE)) as temporary:
    model.save(temporary)
  with atomic_files.atomic_open(os.path.join(config.out, METADATA_FILE)) as f:
    json.dump(metadata, f, indent=2)
  return metadata


def load(directory: str) -> tuple:
  """(Keras model, metadata dict) saved by train_classifier."""
  model_path = os.path.join(directory, MODEL_FILE)
  if not os.path.exists(model_path):
    raise FileNotFoundError(f"{directory} holds no {MODEL_FILE}; train one with "
                            "python -m elegant_tf.classifier --out=DIR")
  with open(os.path.join(directory, METADATA_FILE)) as f:
    metadata = json.load(f)
  return keras.saving.load_model(model_path), metadata


def accuracy_table(metadata: dict) -> str:
  """Markdown: test accuracy per attribute and their mean."""
  names = metadata["attribute_names"]
  lines = ["| attribute | test accuracy |", "|---|---|"]
  lines += [f"| {name} | {metadata['test_accuracy'][name]:.4f} |" for name in names]
  lines.append(f"| mean | {metadata['mean_test_accuracy']:.4f} |")
  return "\n".join(lines)
