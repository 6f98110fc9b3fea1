"""The contract every face data source fulfils, so that pair sampling is source-agnostic.

A source knows the labels of all its examples without decoding any image (pair
sampling needs them to pick positives and negatives), and turns a stream of
example indices into batches of decoded, aligned, resized images.
"""

import abc
from typing import Sequence

import numpy as np
import tensorflow as tf

from pipelines import data_spec

SPLITS = ("train", "val", "test")


class FaceSource(abc.ABC):
  """A labelled collection of face images, split into train / val / test.

  Images come out as float32 [batch, size, size, 3] in [-1, 1]; labels as
  float32 [batch, len(attribute_names)] in {0, 1}.
  """

  def __init__(self, attribute_names: Sequence[str], image_size: int):
    self.attribute_names = tuple(attribute_names)
    self.image_size = int(image_size)

  @abc.abstractmethod
  def labels(self, split: str) -> np.ndarray:
    """Return uint8 [num_examples, len(attribute_names)] 0/1 labels of a split."""

  @abc.abstractmethod
  def batches(self, split: str, indices: tf.data.Dataset, batch_size: int,
              deterministic: bool = True) -> tf.data.Dataset:
    """Map a dataset of int64 example indices to batches of (images, labels).

    Batches are exactly `batch_size` long (examples that cannot be decoded are
    skipped and counted, never returned half-empty).
    """

  def skipped_counts(self) -> dict:
    """Return {reason: count} of examples this source skipped (none by default)."""
    return {}

  # Sources that skip examples they cannot decode set this and answer is_unusable, so
  # an endless stream whose every example is unusable fails instead of waiting forever.
  may_skip = False

  def is_unusable(self, split: str, index: int) -> bool:
    """True once example `index` of `split` was found unusable (skipped when batching)."""
    del split, index
    return False

  def check_split(self, split: str) -> None:
    if split not in SPLITS:
      raise data_spec.DataSpecError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
