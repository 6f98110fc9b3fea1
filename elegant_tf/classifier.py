"""Train and test the AttGAN-style attribute classifier on any face source.

  python -m elegant_tf.classifier --data=synthetic --image_size=64 \
      --train_steps=1500 --out=saved_models/classifier_synthetic_64

The output directory holds `classifier.keras` (the network) and
`classifier.json` (attribute names, image size, data spec and per-attribute
test accuracy). `elegant_tf.evaluate --classifier=DIR` uses it to judge
whether an edit flipped the swapped attribute and kept the others.
"""

import json
import os
import sys
from typing import Optional, Sequence

import numpy as np

from pipelines import atomic_files

MODEL_FILE = "classifier.keras"
METADATA_FILE = "classifier.json"


class UsageError(ValueError):
  """Bad command-line use: reported in one line, exit status 2."""


def _labelled_batches(source, split: str, columns: Sequence[int], batch_size: int,
                      shuffle_seed: Optional[int], limit: Optional[int] = None):
  """tf.data of (images, labels[:, columns]); shuffled and endless when shuffle_seed is set."""
  import tensorflow as tf
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


def train_classifier(source, attributes: Sequence[str], out_dir: str, train_steps: int,
                     batch_size: int = 32, base_width: int = 32, max_width: int = 256,
                     learning_rate: float = 1e-3, seed: int = 0, split: str = "train",
                     test_split: str = "test", test_examples: int = 2000,
                     data_spec: str = "", verbose: int = 1) -> dict:
  """Train on `split`, test on `test_split`, save to out_dir; return the metadata written."""
  import keras
  from elegant_tf import attribute_classifier
  missing = [name for name in attributes if name not in source.attribute_names]
  if missing:
    raise UsageError(f"attributes {missing} are not in the data; it has: "
                     + ", ".join(source.attribute_names))
  columns = [source.attribute_names.index(name) for name in attributes]
  keras.utils.set_random_seed(seed)
  widths = attribute_classifier.block_widths(base_width, max_width)
  model = attribute_classifier.build_classifier(len(columns), source.image_size, widths)
  # Cosine decay lets a short run settle instead of ending on a noisy step.
  schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(train_steps, 1))
  model.compile(optimizer=keras.optimizers.Adam(schedule),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
                metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
  model.fit(_labelled_batches(source, split, columns, batch_size, seed),
            steps_per_epoch=train_steps, epochs=1, verbose=verbose)
  accuracy, seen = test_accuracy(model, source, columns, test_split, test_examples)
  metadata = {
      "attribute_names": list(attributes), "image_size": source.image_size,
      "data": data_spec, "widths": list(widths), "train_steps": train_steps,
      "batch_size": batch_size, "test_split": test_split, "test_examples": seen,
      "test_accuracy": {name: float(value) for name, value in zip(attributes, accuracy)},
      "mean_test_accuracy": float(np.mean(accuracy)),
  }
  os.makedirs(out_dir, exist_ok=True)
  # Atomically, model first: a kill mid-save leaves the previous classifier whole.
  with atomic_files.atomic_path(os.path.join(out_dir, MODEL_FILE)) as temporary:
    model.save(temporary)
  with atomic_files.atomic_open(os.path.join(out_dir, METADATA_FILE)) as f:
    json.dump(metadata, f, indent=2)
  return metadata


def load(directory: str) -> tuple:
  """(Keras model, metadata dict) saved by train_classifier."""
  import keras
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


def _define_flags():
  from absl import flags
  flags.DEFINE_string("data", "synthetic",
                      "Faces: synthetic, celeba:DIR, tfrecord:DIR, folder:DIR[,landmarks=auto] "
                      "or tfds:celeb_a.")
  flags.DEFINE_list("attributes", None,
                    "Attributes to classify, comma separated (default: all the data has).")
  flags.DEFINE_integer("image_size", 128, "Square input size in pixels, a multiple of 32 "
                       "(AttGAN/STGAN: 128).")
  flags.DEFINE_integer("train_steps", 2000, "Training batches.")
  flags.DEFINE_integer("batch_size", 32, "Images per batch.")
  flags.DEFINE_integer("base_width", 32, "Channels of the first block, doubling per block "
                       "(papers: 64).")
  flags.DEFINE_integer("max_width", 256, "Channel cap of the blocks (papers: 512).")
  flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate (cosine-decayed to 0).")
  flags.DEFINE_string("split", "train", "Split to train on.")
  flags.DEFINE_string("test_split", "test", "Split to report accuracy on.")
  flags.DEFINE_integer("test_examples", 2000, "Examples of the test split to score.")
  flags.DEFINE_integer("seed", 0, "Seed of weights and data order.")
  flags.DEFINE_string("tfds_data_dir", None, "data_dir for --data=tfds:celeb_a.")
  flags.DEFINE_string("out", None, "Directory to write classifier.keras and classifier.json.")


def main(argv):
  from absl import flags
  flag_values = flags.FLAGS
  try:
    if len(argv) > 1:
      raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not flag_values.out:
      raise UsageError("--out=DIR is required (where the classifier is saved)")
    if flag_values.image_size < 32 or flag_values.image_size % 32:
      raise UsageError(f"--image_size must be a positive multiple of 32, got "
                       f"{flag_values.image_size}")
    from pipelines import data_spec
    try:
      source = data_spec.open_source(flag_values.data, flag_values.image_size,
                                     seed=flag_values.seed,
                                     tfds_data_dir=flag_values.tfds_data_dir)
    except (ValueError, FileNotFoundError) as error:
      raise UsageError(f"--data={flag_values.data}: {error}") from error
    metadata = train_classifier(
        source, flag_values.attributes or list(source.attribute_names), flag_values.out,
        flag_values.train_steps, flag_values.batch_size, flag_values.base_width,
        flag_values.max_width, flag_values.learning_rate, flag_values.seed,
        flag_values.split, flag_values.test_split, flag_values.test_examples,
        data_spec=flag_values.data, verbose=2 if not sys.stdout.isatty() else 1)
  except UsageError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
  print(f"\nclassifier saved to {flag_values.out}; accuracy on {metadata['test_examples']} "
        f"{metadata['test_split']} images:\n" + accuracy_table(metadata))


if __name__ == "__main__":
  from absl import app
  _define_flags()
  app.run(main)
