"""The work of `python -m elegant_tf.classifier`: train, save, load and test the
AttGAN-style attribute classifier (the network is attribute_classifier.py).

The output directory holds `classifier.keras` (the network) and
`classifier.json` (attribute names, image size, data spec and per-attribute
test accuracy). `elegant_tf.evaluate --classifier=DIR` uses it to judge
whether an edit flipped the swapped attribute and kept the others.
"""

import json
import os
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from elegant_tf import usage
from elegant_tf.evaluation import attribute_classifier
from pipelines import atomic_files

MODEL_FILE = "classifier.keras"
METADATA_FILE = "classifier.json"


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


def train_classifier(source, attributes: Sequence[str], out_dir: str, train_steps: int,
                     batch_size: int = 32, base_width: int = 32, max_width: int = 256,
                     learning_rate: float = 1e-3, seed: int = 0, split: str = "train",
                     test_split: str = "test", test_examples: int = 2000,
                     data_spec: str = "", verbose: int = 1) -> dict:
  """Train on `split`, test on `test_split`, save to out_dir; return the metadata written."""
  missing = [name for name in attributes if name not in source.attribute_names]
  if missing:
    raise usage.UsageError(f"attributes {missing} are not in the data; it has: "
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
