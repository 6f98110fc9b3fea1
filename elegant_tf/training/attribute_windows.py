"""Where each attribute lives on an aligned face, estimated from the training pairs.

The local discriminator (--local_discriminator_weight) judges only the square
window of the face where the exchanged attribute is drawn. On aligned faces
that place is nearly fixed (glasses on the eyes, a moustache above the mouth),
and the pair stream says where: A has attribute i and B lacks it, so the mean
of A - B over many pairs keeps what the attribute changes and averages the
faces' other differences away. The window is the square of the chosen size
centred on that mean difference. No masks or landmarks are needed,
so it works for CelebA and for a user's folder as well as for synthetic faces.
"""

import itertools
import logging
from typing import Iterable, Sequence

import numpy as np

# Pair batches read per attribute to estimate its window (1,024 pairs at batch 16:
# with 128 the faces' own differences still outweighed a smile).
ESTIMATION_BATCHES = 64


def window_size(image_size: int) -> int:
  """Side of the local discriminator's window: half the image (32 px at 64)."""
  return image_size // 2


def centred_window(difference_map: np.ndarray, size: int) -> tuple[int, int]:
  """(top, left) of the size x size square centred on the mass of `difference_map`
  ([H, W], non-negative) above its median, moved inside the map if it sticks out.

  The median is the floor the faces' own differences leave after averaging; above
  it, the mass is the attribute's. Centring on it (rather than taking the square
  with the largest sum, which any square around a small attribute ties for) keeps
  the attribute in the middle of the window, with context on every side."""
  height, width = difference_map.shape
  if not 0 < size <= min(height, width):
    raise ValueError(f"window size {size} does not fit a {height}x{width} map")
  mass = np.maximum(difference_map - np.median(difference_map), 0.0)
  if not mass.sum():
    return (height - size) // 2, (width - size) // 2
  rows, columns = np.indices(mass.shape)
  centre_row = (rows * mass).sum() / mass.sum()
  centre_column = (columns * mass).sum() / mass.sum()
  # Pixel k covers [k, k + 1): the square [top, top + size) is centred at top + size / 2;
  # halves round up.
  top = int(np.clip(np.floor(centre_row + 1 - size / 2), 0, height - size))
  left = int(np.clip(np.floor(centre_column + 1 - size / 2), 0, width - size))
  return top, left


def mean_differences(pair_batches: Iterable[dict], attribute_count: int) -> np.ndarray:
  """[n, H, W]: for each attribute, |mean over its pairs of (A - B)| summed over colour
  channels. pair_batches: numpy dicts of the pair stream (image_a, image_b, attribute)."""
  totals, counts = None, np.zeros(attribute_count)
  for batch in pair_batches:
    attribute = int(batch["attribute"][0])
    difference = np.sum(np.asarray(batch["image_a"], np.float64)
                        - np.asarray(batch["image_b"], np.float64), axis=0)
    if totals is None:
      totals = np.zeros((attribute_count,) + difference.shape)
    totals[attribute] += difference
    counts[attribute] += len(batch["image_a"])
  if totals is None or not counts.all():
    missing = [i for i in range(attribute_count) if not counts[i]]
    raise ValueError(f"no pairs for attribute positions {missing} to place their windows")
  return np.abs(totals / counts[:, None, None, None]).sum(axis=-1)


def estimate_windows(pair_stream, attribute_names: Sequence[str], image_size: int,
                     batches_per_attribute: int = ESTIMATION_BATCHES) -> np.ndarray:
  """int32 [n, 3]: each attribute's window as (top, left, size), from the first
  batches_per_attribute rounds of a round-robin pair stream (a tf.data dataset
  or any iterable of batch dicts)."""
  count = len(attribute_names)
  batches = itertools.islice(iter(pair_stream), count * batches_per_attribute)
  maps = mean_differences(({k: np.asarray(v) for k, v in batch.items()} for batch in batches),
                          count)
  size = window_size(image_size)
  windows = np.array([centred_window(maps[i], size) + (size,) for i in range(count)], np.int32)
  logging.info("local discriminator windows (%d px, top,left): %s", size, ", ".join(
      f"{name} {top},{left}" for name, (top, left, _) in zip(attribute_names, windows)))
  return windows
