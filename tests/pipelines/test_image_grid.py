import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pipelines import image_grid


def test_tile_places_images_with_gaps():
  black = -np.ones((2, 3, 3), np.float32)
  white = np.ones((2, 3, 3), np.float32)
  grid = image_grid.tile([[black, white], [white]], gap=1)
  assert grid.shape == (5, 7, 3) and grid.dtype == np.uint8
  assert grid[0, 0, 0] == 0 and grid[0, 4, 0] == 255 and grid[3, 0, 0] == 255
  assert grid[3, 4, 0] == 255  # Missing cell stays background.


def test_to_uint8_maps_range_ends():
  np.testing.assert_array_equal(image_grid.to_uint8(np.array([-1.0, 0.0, 1.0, 3.0])),
                                [0, 128, 255, 255])


def test_residual_grey_means_unchanged():
  assert image_grid.to_uint8(image_grid.residual_to_image(np.zeros(1)))[0] == 128


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
