"""Image grids: pictures of a batch, for PNG files and TensorBoard."""

import numpy as np
import tensorflow as tf

from pipelines import atomic_files
from pipelines import uint8_pixels


def residual_to_image(residual) -> np.ndarray:
  """A residual in [-2, 2] shown around mid-grey (grey = unchanged)."""
  return np.clip(np.asarray(residual, np.float32) / 2.0, -1.0, 1.0)


def tile_uint8(tiles, columns: int, gap: int = 0, margin: int = 0, background: int = 255,
               space_below: int = 0) -> np.ndarray:
  """Place uint8 [H, W, 3] tiles, all one size, in rows of `columns`: one uint8 picture.

  A tile of None leaves its cell blank. `gap` pixels lie between cells, `margin` around
  them all, and `space_below` under each tile (room for a caption); all `background`.
  Every grid of the project (training samples, transfer strips, contact sheets) is this.
  """
  tiles = list(tiles)
  height, width = next(np.shape(t) for t in tiles if t is not None)[:2]
  rows = max(1, -(-len(tiles) // columns))
  cell_height = height + space_below
  grid = np.full((2 * margin + rows * cell_height + (rows - 1) * gap,
                  2 * margin + columns * width + (columns - 1) * gap, 3), background, np.uint8)
  for n, image in enumerate(tiles):
    if image is not None:
      y = margin + (n // columns) * (cell_height + gap)
      x = margin + (n % columns) * (width + gap)
      grid[y:y + height, x:x + width] = image
  return grid


def tile(rows, gap: int = 2) -> np.ndarray:
  """rows: list of lists of [H, W, 3] images in [-1, 1] -> one uint8 [H', W', 3] grid,
  white between the images and where a row is shorter than the longest."""
  columns = max(len(row) for row in rows)
  tiles = [uint8_pixels.to_uint8(row[c]) if c < len(row) else None
           for row in rows for c in range(columns)]
  return tile_uint8(tiles, columns, gap=gap)


def write_png(path: str, grid: np.ndarray) -> None:
  """Write a uint8 grid as PNG; local files atomically (no half-written PNG after a kill)."""
  content = tf.io.encode_png(grid).numpy()
  if "://" in path:  # gs:// and other object stores: an upload appears whole or not at all.
    tf.io.write_file(path, content)
  else:
    atomic_files.write_atomically(path, content)
