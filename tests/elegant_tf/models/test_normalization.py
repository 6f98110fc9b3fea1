import numpy as np
import pytest
import tensorflow as tf

from elegant_tf.models import normalization
from tests.elegant_tf import model_checks


def test_each_pixel_channel_vector_has_unit_norm():
  x = np.random.default_rng(0).normal(size=(2, 5, 7, 6)).astype("float32") * 3
  y = np.asarray(normalization.PixelL2Normalization()(x))
  np.testing.assert_allclose(np.linalg.norm(y, axis=-1), 1.0, rtol=1e-5)
  # Direction is kept: y is a positive multiple of x at every pixel.
  np.testing.assert_allclose(y * np.linalg.norm(x, axis=-1, keepdims=True), x, rtol=1e-4)


def test_scale_and_shift_are_scalars_initialised_to_identity():
  layer = normalization.PixelL2Normalization()
  layer.build((None, 4, 4, 8))
  assert [tuple(w.shape) for w in layer.weights] == [(), ()]
  layer.scale.assign(2.0)
  layer.shift.assign(0.5)
  x = np.ones((1, 1, 1, 4), "float32")
  np.testing.assert_allclose(np.asarray(layer(x)), 2.0 * 0.5 + 0.5, rtol=1e-6)


def test_zero_pixel_stays_finite():
  y = np.asarray(normalization.PixelL2Normalization()(np.zeros((1, 2, 2, 3), "float32")))
  assert np.all(np.isfinite(y))


def test_does_not_mix_examples_of_a_batch():
  x = np.random.default_rng(1).normal(size=(4, 3, 3, 5)).astype("float32")
  layer = normalization.PixelL2Normalization()
  whole = np.asarray(layer(x))
  np.testing.assert_allclose(whole[:1], np.asarray(layer(x[:1])), rtol=1e-6)


def test_shared_layer_checks(tmp_path):
  x = np.random.default_rng(2).normal(size=(2, 3, 3, 4)).astype("float32")
  model_checks.run_layer_test(lambda: normalization.PixelL2Normalization(epsilon=1e-6), (x,),
                              tmp_path, expected_shapes=[(2, 3, 3, 4)])


def _autodiff_scaled_unit_pixel_vectors(x, scale, epsilon):
  """The plain formula, differentiated by TensorFlow: the reference for the hand-written one."""
  squares = tf.reduce_sum(tf.square(tf.cast(x, tf.float32)), axis=-1, keepdims=True)
  return tf.cast(scale, x.dtype) * (x / tf.cast(tf.sqrt(squares + epsilon), x.dtype))


def _value_gradient_and_second_derivative(function, x, weights, scale=1.5):
  """sum(f(x) * weights), its gradients (x, scale), and the gradients of |dx|^2 with
  respect to x and the scale (what R1 takes, for D's input and D's weights)."""
  scale = tf.constant(scale, tf.float32)
  with tf.GradientTape(persistent=True) as outer:
    outer.watch([x, scale])
    with tf.GradientTape() as inner:
      inner.watch([x, scale])
      value = tf.reduce_sum(tf.cast(function(x, scale, 1e-8) * weights, tf.float32))
    gradient, scale_gradient = inner.gradient(value, [x, scale])
    penalty = tf.reduce_sum(tf.square(tf.cast(gradient, tf.float32)))
  return (value, gradient, scale_gradient, *outer.gradient(penalty, [x, scale]))


@pytest.mark.parametrize("compiled", [False, True])
def test_hand_written_gradient_matches_autodiff_to_second_order(compiled):
  rng = np.random.default_rng(3)
  x = tf.constant(rng.normal(size=(2, 3, 4, 16)).astype("float32") * 2)
  x = tf.tensor_scatter_nd_update(x, [[0, 0, 0]], tf.zeros((1, 16)))  # an all-zero pixel
  weights = tf.constant(rng.normal(size=(2, 3, 4, 16)).astype("float32"))
  run = tf.function(_value_gradient_and_second_derivative) if compiled else (
      _value_gradient_and_second_derivative)
  fused = run(normalization.scaled_unit_pixel_vectors, x, weights)
  reference = run(_autodiff_scaled_unit_pixel_vectors, x, weights)
  for got, want in zip(fused, reference):
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)


def test_bfloat16_gradient_stays_near_float32():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(2, 3, 3, 256)).astype("float32")
  weights = rng.normal(size=(2, 3, 3, 256)).astype("float32")
  _, want, *_ = _value_gradient_and_second_derivative(
      normalization.scaled_unit_pixel_vectors, tf.constant(x), tf.constant(weights))
  _, got, *_ = _value_gradient_and_second_derivative(
      normalization.scaled_unit_pixel_vectors, tf.constant(x, tf.bfloat16),
      tf.constant(weights, tf.bfloat16))
  assert got.dtype == tf.bfloat16
  # bfloat16 keeps 8 bits of mantissa: about 2-3 significant digits per element.
  np.testing.assert_allclose(np.asarray(tf.cast(got, tf.float32)), np.asarray(want), atol=5e-3)
