import numpy as np
import pytest

from elegant_tf.training import attribute_windows
from pipelines import data_spec
from pipelines import pairs


def test_window_is_centred_on_the_mass_above_the_floor():
  difference = np.full((16, 16), 0.5)  # The floor the faces' own differences leave.
  difference[9:12, 2:5] = 1.5  # A 3x3 blob centred on pixel (10, 3), i.e. at 10.5, 3.5.
  assert attribute_windows.centred_window(difference, 5) == (8, 1)
  assert attribute_windows.centred_window(difference, 9) == (6, 0)  # Moved inside.
  assert attribute_windows.centred_window(difference, 16) == (0, 0)
  # Two equal blobs: the window sits between them.
  difference[9:12, 11:14] = 1.5
  assert attribute_windows.centred_window(difference, 8) == (7, 4)


def test_a_flat_map_gives_the_central_window():
  assert attribute_windows.centred_window(np.ones((16, 16)), 6) == (5, 5)


def test_a_window_larger_than_the_map_is_refused():
  with pytest.raises(ValueError, match="window size 17 does not fit a 16x16 map"):
    attribute_windows.centred_window(np.ones((16, 16)), 17)


def _pair_batch(attribute, rng, place):
  """Random faces; A additionally carries a bright 4x4 square at `place` (the attribute)."""
  image_a = rng.uniform(-1, 1, (8, 32, 32, 3))
  image_b = rng.uniform(-1, 1, (8, 32, 32, 3))
  top, left = place
  image_a[:, top:top + 4, left:left + 4] += 3.0
  return {"image_a": image_a, "image_b": image_b, "attribute": np.full((8,), attribute)}


def test_windows_follow_where_a_and_b_differ_on_average():
  rng = np.random.default_rng(0)
  places = [(2, 20), (26, 6)]
  stream = [_pair_batch(i % 2, rng, places[i % 2]) for i in range(40)]
  windows = attribute_windows.estimate_windows(stream, ["Glasses", "Smile"], 32,
                                               batches_per_attribute=20)
  assert windows.shape == (2, 3) and windows.dtype == np.int32
  for (top, left, size), (square_top, square_left) in zip(windows, places):
    assert size == 16
    assert top <= square_top and square_top + 4 <= top + size
    assert left <= square_left and square_left + 4 <= left + size


def test_an_attribute_without_pairs_is_an_error_naming_it():
  rng = np.random.default_rng(0)
  with pytest.raises(ValueError, match=r"no pairs for attribute positions \[1\]"):
    attribute_windows.mean_differences([_pair_batch(0, rng, (0, 0))], 2)


def test_synthetic_glasses_sit_above_the_mustache():
  names = ["Eyeglasses", "Mustache"]
  source = data_spec.open_source("synthetic", 64, seed=0)
  stream = pairs.attribute_pairs(source, names, 16, seed=0)
  windows = attribute_windows.estimate_windows(stream, names, 64)
  (glasses_top, _, size), (mustache_top, _, _) = windows
  assert size == 32
  # Aligned faces: the eyes lie in the upper half of the crop, the mouth in the lower.
  assert glasses_top + size // 2 < 32 < mustache_top + size // 2
