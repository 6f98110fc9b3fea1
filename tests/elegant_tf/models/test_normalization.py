import numpy as np

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
