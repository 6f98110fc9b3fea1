"""Shared checks for every network: config round trip gives an identical model."""

import keras
import numpy as np


def assert_config_round_trip(model, call):
  """Rebuild `model` from its serialized config, copy weights, and compare outputs.

  call(model) runs the model on fixed inputs and returns a numpy array (or a
  list of them).
  """
  before = call(model)
  rebuilt = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
  call(rebuilt)  # Build its variables.
  rebuilt.set_weights(model.get_weights())
  after = call(rebuilt)
  for x, y in zip(np.atleast_1d(before) if not isinstance(before, list) else before,
                  np.atleast_1d(after) if not isinstance(after, list) else after):
    np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)
  assert type(rebuilt) is type(model)
  assert rebuilt.get_config() == model.get_config()
