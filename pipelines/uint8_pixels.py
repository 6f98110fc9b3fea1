"""8-bit pixels from the model's [-1, 1] floats: one rounding rule, in NumPy and in the graph.

The rule, everywhere an image leaves the model as uint8 (grids, PNG/JPEG files, the
SavedModel's PNG bytes, pasted-back photos, contact sheets):

  level = (x + 1) * 127.5 in float32, rounded to the nearest integer with exact halves
  to even, then clipped to [0, 255]; NaN becomes 0 (black).

Why round half to even: it is IEEE's default and what both `np.rint` and `tf.round` do,
so the NumPy and graph versions agree bit for bit without extra ops; the exported
SavedModel already rounded this way (models exported before this module give the same
pixels); and it does not push every exact half up. The older `floor(level + 0.5)` also
turned some values just below a half up, where float32 rounds `level + 0.5` to the next
integer. NaN has no level: black is what a broken output should look like, and a cast of
NaN to uint8 is otherwise undefined (NumPy and TensorFlow give different bytes).
"""

import numpy as np
import tensorflow as tf


def levels_to_uint8(levels) -> np.ndarray:
  """Floats in 8-bit levels ([0, 255], may overshoot) -> uint8 by the module's rule."""
  # float64 holds every float32 exactly, so float32 input rounds as it would alone.
  levels = np.asarray(levels, np.float64)
  levels = np.where(np.isnan(levels), 0.0, levels)
  return np.clip(np.rint(levels), 0, 255).astype(np.uint8)


def to_levels(images) -> np.ndarray:
  """[-1, 1] float images -> float32 8-bit levels, not yet rounded (for blending first)."""
  return (np.asarray(images, np.float32) + np.float32(1.0)) * np.float32(127.5)


def to_uint8(images) -> np.ndarray:
  """[-1, 1] float images (any shape) -> uint8 by the module's rule."""
  return levels_to_uint8(to_levels(images))


def to_uint8_graph(images) -> tf.Tensor:
  """to_uint8 in TensorFlow ops, for exported graphs; the same bytes as to_uint8."""
  levels = (tf.cast(images, tf.float32) + 1.0) * 127.5
  levels = tf.where(tf.math.is_nan(levels), tf.zeros_like(levels), levels)
  return tf.cast(tf.clip_by_value(tf.round(levels), 0.0, 255.0), tf.uint8)
