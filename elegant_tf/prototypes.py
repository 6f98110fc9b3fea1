"""Per-attribute prototype slabs: the mean latent slab of the training positives.

ELEGANT edits by example: an attribute's look comes from an exemplar's latent
slab. Label-only editing (the `add_attribute` signature) has no exemplar, so it
borrows a typical one instead: for attribute i, the mean of slab i over the
latents of training images that have attribute i. All prototypes fit in one
latent-shaped tensor [h, w, C], slab i holding attribute i's mean, so adding an
attribute is the same slab exchange as a transfer, with the prototype as the
exemplar's latent.
"""

from typing import Sequence

import numpy as np
import tensorflow as tf

from elegant_tf import latent_swap
from pipelines import pairs

DEFAULT_MAX_EXAMPLES = 256


def positive_indices(source, attributes: Sequence[str], split: str) -> list[np.ndarray]:
  """int64 example indices WITH each attribute, in `attributes` order."""
  labels = source.labels(split)
  columns = pairs.attribute_columns(source, attributes)
  return [pairs.positives_and_negatives(labels, column)[0] for column in columns]


def mean_latent(generator, source, split: str, indices: np.ndarray,
                batch_size: int = 32) -> np.ndarray:
  """float64 [h, w, C] mean of the generator's latents over the examples `indices`."""
  if len(indices) == 0:
    raise ValueError("no examples to average")
  batch_size = min(batch_size, len(indices))
  # Sources emit full batches only; pad the index list by wrapping around so every
  # requested example is seen, then drop the wrapped extras from the sum.
  padded = np.resize(indices, -(-len(indices) // batch_size) * batch_size)
  dataset = source.batches(split, tf.data.Dataset.from_tensor_slices(padded), batch_size)
  total, count = None, 0
  for images, _ in dataset:
    latents, _ = generator.encode(images)
    latents = np.asarray(latents, np.float64)[:len(indices) - count]
    batch_sum = latents.sum(axis=0)
    total = batch_sum if total is None else total + batch_sum
    count += len(latents)
    if count >= len(indices):
      break
  if count == 0:
    raise ValueError("the source decoded none of the examples")
  return total / count


def compute_prototypes(generator, source, attributes: Sequence[str], split: str = "train",
                       max_examples: int = DEFAULT_MAX_EXAMPLES, batch_size: int = 32,
                       seed: int = 0) -> np.ndarray:
  """float32 [h, w, C]: slab i = mean slab i over (up to max_examples) positives of attribute i.

  Raises ValueError when an attribute has no positive example in `split`.
  """
  rng = np.random.default_rng(seed)
  prototype = None
  for position, (name, indices) in enumerate(
      zip(attributes, positive_indices(source, attributes, split))):
    if len(indices) == 0:
      raise ValueError(f"attribute {name!r} has no positive example in split {split!r}; "
                       "cannot compute its prototype")
    if len(indices) > max_examples:
      # A random subset, not the first ones: sources may be sorted (e.g. by identity).
      indices = np.sort(rng.choice(indices, max_examples, replace=False))
    mean = mean_latent(generator, source, split, indices, batch_size)
    if prototype is None:
      prototype = np.zeros_like(mean, np.float32)
    start, stop = latent_swap.slab_boundaries(mean.shape[-1], len(attributes))[position]
    prototype[..., start:stop] = mean[..., start:stop]
  return prototype
