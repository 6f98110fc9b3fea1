import numpy as np
import tensorflow as tf

from pipelines import uint8_pixels


def test_levels_round_half_to_even_and_clip():
  levels = np.array([0.5, 1.5, 2.5, 127.5, 128.5, 254.5, 0.49, 0.51, -0.6, 255.4, 255.6, 300.0,
                     -7.0], np.float32)
  np.testing.assert_array_equal(uint8_pixels.levels_to_uint8(levels),
                                [0, 2, 2, 128, 128, 254, 0, 1, 0, 255, 255, 255, 0])


def test_just_below_a_half_rounds_down():
  # floor(level + 0.5), the rule this replaced, gives 1 here: float32 rounds the sum up to 1.0.
  below_half = np.nextafter(np.float32(0.5), np.float32(0.0))
  assert uint8_pixels.levels_to_uint8(below_half) == 0


def test_nan_is_black_and_infinities_clip():
  levels = np.array([np.nan, np.inf, -np.inf], np.float32)
  np.testing.assert_array_equal(uint8_pixels.levels_to_uint8(levels), [0, 255, 0])
  np.testing.assert_array_equal(uint8_pixels.to_uint8(levels), [0, 255, 0])


def test_to_uint8_maps_range_ends_and_middle():
  np.testing.assert_array_equal(uint8_pixels.to_uint8([-1.0, 0.0, 1.0, -3.0, 3.0]),
                                [0, 128, 255, 0, 255])


def test_every_level_survives_a_round_trip():
  # The inverse the data pipelines use (pixels / 127.5 - 1, in float32) comes back exactly.
  pixels = np.arange(256, dtype=np.uint8)
  images = pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
  np.testing.assert_array_equal(uint8_pixels.to_uint8(images), pixels)


def _inputs_with_exact_halves():
  """float32 images in and beyond [-1, 1], with x near every level's half-way point, where
  some float32 x give an exact half."""
  grid = np.linspace(-1.02, 1.02, 100_001, dtype=np.float32)
  middles = ((np.arange(255) + 0.5) / 127.5 - 1.0).astype(np.float32)
  # The 1000 float32 values around each middle, by stepping their bit patterns.
  near = (middles.view(np.int32)[:, None] + np.arange(-500, 500)).view(np.float32).ravel()
  near = near[np.isfinite(near)]
  levels = (near + np.float32(1.0)) * np.float32(127.5)
  halves = near[levels - np.floor(levels) == 0.5]
  assert len(halves) > 100  # The test must reach the rule's ties.
  return grid, halves


def _all(grid, halves):
  return np.concatenate([grid, halves, np.array([np.nan, np.inf, -np.inf], np.float32)])


def test_graph_and_numpy_give_the_same_bytes():
  images = _all(*_inputs_with_exact_halves())
  graph = tf.function(uint8_pixels.to_uint8_graph)(tf.constant(images)).numpy()
  assert graph.dtype == np.uint8
  np.testing.assert_array_equal(graph, uint8_pixels.to_uint8(images))


def test_exact_halves_go_to_even():
  _, images = _inputs_with_exact_halves()
  pixels = uint8_pixels.to_uint8(images)
  levels = (images + np.float32(1.0)) * np.float32(127.5)
  inside = (levels > 0) & (levels < 255)
  assert np.all(pixels[inside] % 2 == 0)
  np.testing.assert_array_equal(np.abs(pixels[inside] - levels[inside]), 0.5)
