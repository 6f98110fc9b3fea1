"""inference/transfer_model.py: the one default for a missing strength."""

import numpy as np

from elegant_tf.inference import transfer_model


def test_missing_strength_is_full_strength_and_a_given_one_is_kept_as_float32():
  attributes = [[1, 0], [0, 1]]
  np.testing.assert_array_equal(transfer_model.strength_or_ones(attributes, None),
                                np.ones((2, 2), np.float32))
  given = transfer_model.strength_or_ones(attributes, [[0.5, 0], [0, 0.25]])
  assert given.dtype == np.float32
  np.testing.assert_array_equal(given, [[0.5, 0], [0, 0.25]])
