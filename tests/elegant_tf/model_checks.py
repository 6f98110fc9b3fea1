"""The one set of checks every network and layer goes through (after keras-hub's
`run_layer_test`): build and call, config round trip, one training step, save
and load. A network's own test adds only what is particular to it.
"""

import keras
import numpy as np
import tensorflow as tf


def _numpy_outputs(outputs) -> list:
  return [np.asarray(x) for x in tf.nest.flatten(outputs)]


def _assert_same_outputs(before: list, after: list, tolerance: float = 1e-6):
  assert len(before) == len(after)
  for x, y in zip(before, after):
    np.testing.assert_allclose(x, y, rtol=tolerance, atol=tolerance)


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
  _assert_same_outputs(before if isinstance(before, list) else [before],
                       after if isinstance(after, list) else [after])
  assert type(rebuilt) is type(model)
  assert rebuilt.get_config() == model.get_config()


def assert_one_training_step_changes_it(model, inputs: tuple):
  """Gradients reach the weights (finite) and one SGD step changes the outputs.

  What `fit` does per step, without `fit`'s single-input assumption: the
  networks here take several inputs (images and labels, latents and skips).
  """
  before = _numpy_outputs(model(*inputs))
  with tf.GradientTape() as tape:
    outputs = [tf.cast(x, tf.float32) for x in tf.nest.flatten(model(*inputs))]
    loss = tf.add_n([tf.reduce_mean(tf.square(x - 0.3)) for x in outputs])
  variables = model.trainable_variables
  assert variables, f"{type(model).__name__} has nothing to train"
  gradients = tape.gradient(loss, variables)
  reached = [(g, v) for v, g in zip(variables, gradients) if g is not None]
  assert reached, "no gradient reaches any weight"
  for gradient, variable in reached:
    assert np.all(np.isfinite(np.asarray(gradient))), variable.path
  keras.optimizers.SGD(0.1).apply_gradients(reached)
  after = _numpy_outputs(model(*inputs))
  assert any(np.abs(x - y).max() > 0 for x, y in zip(before, after)), "the step changed nothing"


def assert_save_and_load(model, inputs: tuple, directory):
  """A `.keras` file (config and weights) loads back into the same function."""
  if not isinstance(model, keras.Model):
    # A bare layer is saved the way it ships: inside a model.
    inner = model
    model = keras.Sequential([keras.Input(np.shape(inputs[0])[1:]), inner])
  path = str(directory / f"{type(model).__name__}.keras")
  expected = _numpy_outputs(model(*inputs))
  model.save(path)
  loaded = keras.saving.load_model(path)
  # Keras rebuilds a subclassed model from its saved input shape only when call takes
  # one input (it warns, and leaves fresh weights, for the decoder's and the
  # discriminators' several inputs): build by calling, then read the file's weights.
  loaded(*inputs)
  loaded.load_weights(path)
  _assert_same_outputs(expected, _numpy_outputs(loaded(*inputs)))


def run_layer_test(make, inputs: tuple, directory, expected_shapes=None):
  """Every check on a fresh `make()`: call, config round trip, save/load, one step.

  make: builds the network or layer. inputs: the positional arguments of its call
  (numpy). directory: a temporary folder (pytest's tmp_path). expected_shapes: the
  output shapes in tf.nest.flatten order, if the test wants them checked.
  """
  model = make()
  outputs = _numpy_outputs(model(*inputs))
  for output in outputs:
    assert np.all(np.isfinite(output))
  if expected_shapes is not None:
    assert [tuple(x.shape) for x in outputs] == [tuple(s) for s in expected_shapes]
  assert_config_round_trip(model, lambda m: _numpy_outputs(m(*inputs)))
  assert_save_and_load(model, inputs, directory)
  assert_one_training_step_changes_it(model, inputs)
  return model
