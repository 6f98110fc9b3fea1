import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipelines import image_grid
from pipelines import uint8_pixels


def test_tile_places_images_with_gaps():
  black = -np.ones((2, 3, 3), np.float32)
  white = np.ones((2, 3, 3), np.float32)
  grid = image_grid.tile([[black, white], [white]], gap=1)
  assert grid.shape == (5, 7, 3) and grid.dtype == np.uint8
  assert grid[0, 0, 0] == 0 and grid[0, 4, 0] == 255 and grid[3, 0, 0] == 255
  assert grid[3, 4, 0] == 255  # Missing cell stays background.


def test_tile_uint8_lays_out_margin_gap_space_below_and_blank_cells():
  tiles = [np.full((2, 3, 3), k, np.uint8) for k in (10, 20, 30)] + [None, np.full((2, 3, 3), 50, np.uint8)]
  grid = image_grid.tile_uint8(tiles, columns=2, gap=1, margin=2, background=128, space_below=4)
  # 3 rows of (2 + 4) high, 1 apart, 2 around; 2 columns of 3 wide, 1 apart, 2 around.
  assert grid.shape == (2 * 2 + 3 * 6 + 2, 2 * 2 + 2 * 3 + 1, 3) and grid.dtype == np.uint8
  assert grid[2, 2, 0] == 10 and grid[2, 6, 0] == 20 and grid[9, 2, 0] == 30
  assert grid[9, 6, 0] == 128  # The None cell stays background.
  assert grid[16, 2, 0] == 50 and grid[4, 2, 0] == 128  # Row 3; the space below row 1.
  assert grid[0, 0, 0] == 128 and grid[2, 5, 0] == 128  # Margin; the gap between columns.


def test_residual_grey_means_unchanged():
  assert uint8_pixels.to_uint8(image_grid.residual_to_image(np.zeros(1)))[0] == 128


def test_write_png_round_trip(tmp_path):
  grid = image_grid.tile([[np.zeros((4, 4, 3), np.float32)]])
  path = str(tmp_path / "g.png")
  image_grid.write_png(path, grid)
  np.testing.assert_array_equal(tf.io.decode_png(tf.io.read_file(path)).numpy(), grid)


def _crash_before_rename(monkeypatch):
  """Simulate a kill after the bytes are written but before the file is complete."""
  def crash(*args, **kwargs):
    raise KeyboardInterrupt("killed")
  monkeypatch.setattr(os, "replace", crash)


def test_write_png_replaces_the_old_file_whole_or_not_at_all(tmp_path, monkeypatch):
  path = str(tmp_path / "latest.png")
  old = np.zeros((4, 4, 3), np.uint8)
  image_grid.write_png(path, old)
  _crash_before_rename(monkeypatch)
  with pytest.raises(KeyboardInterrupt):
    image_grid.write_png(path, np.full((8, 8, 3), 255, np.uint8))
  np.testing.assert_array_equal(np.asarray(Image.open(path)), old)
  assert os.listdir(tmp_path) == ["latest.png"]
