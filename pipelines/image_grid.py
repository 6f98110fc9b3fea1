"""Image grids: pictures of a batch, for PNG files and TensorBoard."""

import numpy as np
import tensorflow as tf

from pipelines import atomic_files


def to_uint8(images) -> np.ndarray:
  """[-1, 1] floats -> uint8."""
  images = np.asarray(images, np.float32)
  return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def residual_to_image(residual) -> np.ndarray:
  """A residual in [-2, 2] shown around mid-grey (grey = unchanged)."""
  return np.clip(np.asarray(residual, np.float32) / 2.0, -1.0, 1.0)


def tile(rows, gap: int = 2) -> np.ndarray:
  """rows: list of lists of [H, W, 3] images in [-1, 1] -> one uint8 [H', W', 3] grid."""
  height, width = np.asarray(rows[0][0]).shape[:2]
  columns = max(len(row) for row in rows)
  grid = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3),
                 255, np.uint8)
  for r, row in enumerate(rows):
    for c, image in enumerate(row):
      y, x = r * (height + gap), c * (width + gap)
      grid[y:y + height, x:x + width] = to_uint8(image)
  return grid


def write_png(path: str, grid: np.ndarray) -> None:
  """Write a uint8 grid as PNG; local files atomically (no half-written PNG after a kill)."""
  content = tf.io.encode_png(grid).numpy()
  if "://" in path:  # gs:// and other object stores: an upload appears whole or not at all.
    tf.io.write_file(path, content)
  else:
    atomic_files.write_atomically(path, content)
