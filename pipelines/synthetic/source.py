"""The synthetic faces as a FaceSource (`--data=synthetic[:LAYOUT]`)."""

from typing import Mapping, Optional

import numpy as np
import tensorflow as tf

from pipelines import data_spec
from pipelines import face_source
from pipelines.synthetic.params import (ATTRIBUTES, DEFAULT_LAYOUT,
                                        DEFAULT_SPLIT_SIZES, LAYOUTS,
                                        MAX_IMAGE_SIZE, MIN_IMAGE_SIZE,
                                        SPLIT_BASES, FaceParams,
                                        check_frequencies, check_layout,
                                        labels_of, sample_faces,
                                        sample_states)
from pipelines.synthetic.render import render_batch

class SyntheticFaces(face_source.FaceSource):
  """The procedural faces as a FaceSource with disjoint train/val/test splits."""

  def __init__(self, image_size: int, seed: int = 0,
               split_sizes: Optional[Mapping] = None,
               attribute_frequencies: Optional[Mapping] = None,
               layout: str = DEFAULT_LAYOUT):
    if not MIN_IMAGE_SIZE <= int(image_size) <= MAX_IMAGE_SIZE:
      raise data_spec.DataSpecError(f"image_size must be in [{MIN_IMAGE_SIZE}, "
                                    f"{MAX_IMAGE_SIZE}], got {image_size}")
    super().__init__(ATTRIBUTES, image_size)
    self.seed = int(seed)
    self.layout = check_layout(layout)
    self.split_sizes = dict(DEFAULT_SPLIT_SIZES)
    for split, size in (split_sizes or {}).items():
      self.check_split(split)
      if not 0 < int(size) <= 10**9:
        raise ValueError(f"size of split {split!r} must be in [1, 1e9], "
                         f"got {size}")
      self.split_sizes[split] = int(size)
    self.attribute_frequencies = dict(
        zip(ATTRIBUTES, check_frequencies(attribute_frequencies)))
    self._frequencies = check_frequencies(attribute_frequencies)
    self._labels = {}

  def _global(self, split: str, indices) -> np.ndarray:
    self.check_split(split)
    indices = np.asarray(indices, np.int64).reshape(-1)
    size = self.split_sizes[split]
    if indices.size and (indices.min() < 0 or indices.max() >= size):
      raise ValueError(f"indices of split {split!r} must be in [0, {size})")
    return indices + SPLIT_BASES[split]

  def params(self, split: str, indices) -> FaceParams:
    """FaceParams of split-local `indices`."""
    return sample_faces(self.seed, self._global(split, indices),
                        self.attribute_frequencies, self.layout)

  def labels(self, split: str) -> np.ndarray:
    self.check_split(split)
    if split not in self._labels:
      ids = self._global(split, np.arange(self.split_sizes[split]))
      self._labels[split] = sample_states(
          self.seed, ids, self._frequencies).astype(np.uint8)
    return self._labels[split]

  def batches(self, split: str, indices: tf.data.Dataset, batch_size: int,
              deterministic: bool = True) -> tf.data.Dataset:
    self.check_split(split)
    size, n = self.image_size, len(ATTRIBUTES)

    def render(idx):
      params = self.params(split, idx)
      images, _ = render_batch(params, size, with_masks=False)
      return images, labels_of(params).astype(np.float32)

    def to_batch(idx):
      images, labels = tf.numpy_function(render, [idx],
                                         [tf.float32, tf.float32],
                                         stateful=False)
      images.set_shape([batch_size, size, size, 3])
      labels.set_shape([batch_size, n])
      return images, labels

    ds = indices.map(lambda i: tf.cast(i, tf.int64))
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=deterministic)


_OPTIONS = ("seed", "attribute_frequencies", "split_sizes")


def open_source(argument: str, image_size: int, **options) -> SyntheticFaces:
  """Entry point for `--data=synthetic[:LAYOUT]` (see pipelines.data_spec).

  `synthetic` and `synthetic:aligned` are the aligned faces, `synthetic:wild`
  the unaligned ones.
  """
  if argument and argument not in LAYOUTS:
    raise data_spec.DataSpecError(f"synthetic:{argument} names no layout; valid: "
                                  + ", ".join(f"synthetic:{name}" for name in LAYOUTS))
  unknown = sorted(k for k, v in options.items()
                   if k not in _OPTIONS and v is not None)
  if unknown:
    raise data_spec.DataSpecError(f"unknown options for synthetic data: {unknown}; valid "
                                  f"options: {', '.join(_OPTIONS)}")
  seed = options.get("seed")
  return SyntheticFaces(image_size, seed=0 if seed is None else seed,
                        split_sizes=options.get("split_sizes"),
                        attribute_frequencies=options.get(
                            "attribute_frequencies"),
                        layout=argument or DEFAULT_LAYOUT)
