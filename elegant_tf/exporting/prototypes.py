"""Per-attribute prototype slabs: the mean latent slab of the training positives or negatives.

ELEGANT edits by example: an attribute's look comes from an exemplar's latent
slab. Label-only editing (the `add_attribute` and `remove_attribute` signatures)
has no exemplar, so it borrows a typical one instead: for attribute i, the mean
of slab i over the latents of training images that have attribute i (presence
prototypes, for adding) or lack it (absence prototypes, for removing). All
prototypes of one kind fit in one latent-shaped tensor [h, w, C], slab i holding
attribute i's mean, so a label-only edit is the same slab exchange as a
transfer, with the prototype as the exemplar's latent.
"""

import logging
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from elegant_tf.models import latent_swap
from pipelines import pairs

DEFAULT_MAX_EXAMPLES = 256


def positive_indices(source, attributes: Sequence[str], split: str,
                     present: bool = True) -> list[np.ndarray]:
  """int64 example indices WITH each attribute (WITHOUT it if not `present`), in
  `attributes` order."""
  labels = source.labels(split)
  columns = pairs.attribute_columns(source, attributes)
  return [pairs.positives_and_negatives(labels, column)[0 if present else 1]
          for column in columns]


def edit_with_prototypes(generator, image, slabs, weights):
  """The label-only edit: `image` decoded with the latent slabs `weights` choose
  ([N, num_attributes], fractions allowed) exchanged for those of the prototype `slabs`
  ([h, w, C]: presence prototypes add, absence prototypes remove). TensorFlow ops, so the
  SavedModel's add_attribute and remove_attribute signatures trace this very function
  and eager callers (the label-only benchmark) run it as is."""
  latent, skips = generator.encode(image)
  prototype = tf.broadcast_to(tf.convert_to_tensor(slabs, tf.float32)[None], tf.shape(latent))
  edited_latent = latent_swap.swap_latent_slabs(latent, prototype, weights)
  return generator.edit(image, edited_latent, latent, skips)


class NoUsableExamples(ValueError):
  """None of the requested examples could be decoded (all corrupt, missing, too small...)."""


def mean_latent(generator, source, split: str, indices: np.ndarray,
                batch_size: int = 32) -> np.ndarray:
  """float64 [h, w, C] mean of the generator's latents over the decodable examples `indices`.

  Raises NoUsableExamples when the source decodes none of them.
  """
  if len(indices) == 0:
    raise NoUsableExamples("no examples to average")
  # Sources skip bad files before batching and drop partial batches, so a batch of
  # the requested size holding one bad file never fills and every good example in
  # it would be lost. Batches of one always fill; re-batch them without dropping.
  dataset = source.batches(split, tf.data.Dataset.from_tensor_slices(indices), 1)
  dataset = dataset.unbatch().batch(batch_size)
  total, count = None, 0
  for images, _ in dataset:
    latents, _ = generator.encode(images)
    batch_sum = np.asarray(latents, np.float64).sum(axis=0)
    total = batch_sum if total is None else total + batch_sum
    count += int(images.shape[0])
  if count == 0:
    raise NoUsableExamples(f"the source decoded none of the {len(indices)} examples")
  return total / count


def compute_prototypes(generator, source, attributes: Sequence[str], split: str = "train",
                       max_examples: int = DEFAULT_MAX_EXAMPLES, batch_size: int = 32,
                       seed: int = 0, present: bool = True) -> Optional[np.ndarray]:
  """float32 [h, w, C]: slab i = mean slab i over (up to max_examples) positives of
  attribute i (negatives if not `present`: absence prototypes, for removing it).

  An attribute with no such example the source can decode gets a warning and no
  prototype: its slab is NaN (export refuses to edit it). None when no attribute
  has a prototype.
  """
  rng = np.random.default_rng(seed)
  kind, edit = ("positive", "add") if present else ("negative", "remove")
  slabs = {}
  for position, (name, indices) in enumerate(
      zip(attributes, positive_indices(source, attributes, split, present))):
    if len(indices) > max_examples:
      # A random subset, not the first ones: sources may be sorted (e.g. by identity).
      indices = np.sort(rng.choice(indices, max_examples, replace=False))
    try:
      slabs[position] = mean_latent(generator, source, split, indices, batch_size)
    except NoUsableExamples as error:
      # One attribute without usable images must not throw away a trained model.
      logging.warning("attribute %r has no usable %s example in split %r (%s): no "
                      "prototype, %s_attribute cannot %s it", name, kind, split, error, edit,
                      edit)
  if not slabs:
    return None
  shape = next(iter(slabs.values())).shape
  prototype = np.full(shape, np.nan, np.float32)
  for position, mean in slabs.items():
    start, stop = latent_swap.slab_boundaries(shape[-1], len(attributes))[position]
    prototype[..., start:stop] = mean[..., start:stop]
  return prototype

