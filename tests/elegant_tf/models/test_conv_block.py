import keras
import numpy as np

from elegant_tf.models import conv_block
from elegant_tf.models import normalization
from tests.elegant_tf import model_checks


def test_block_halves_size_normalizes_and_leaks():
  block = conv_block.downsampling_block(6, "b")
  x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
  y = np.asarray(block(x))
  assert y.shape == (2, 4, 4, 6)
  assert isinstance(block.layers[1], normalization.PixelL2Normalization)
  assert y.min() < 0  # LeakyReLU keeps (scaled) negatives.
  # Before the activation, each pixel's channel vector has unit norm.
  pre = np.asarray(block.layers[1](block.layers[0](x)))
  np.testing.assert_allclose(np.linalg.norm(pre, axis=-1), 1.0, rtol=1e-5)


def test_shared_layer_checks(tmp_path):
  x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
  model_checks.run_layer_test(lambda: conv_block.downsampling_block(6, "b"), (x,), tmp_path,
                              expected_shapes=[(2, 4, 4, 6)])


def test_unnormalized_block_leaks_right_after_the_convolution():
  block = conv_block.downsampling_block(6, "b", normalized=False)
  assert [type(layer) for layer in block.layers] == [keras.layers.Conv2D,
                                                     keras.layers.LeakyReLU]
  assert block.layers[1].negative_slope == 0.2
  x = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype("float32")
  pre = np.asarray(block.layers[0](x))
  np.testing.assert_allclose(np.asarray(block(x)), np.where(pre > 0, pre, 0.2 * pre), rtol=1e-6)


def test_shared_layer_checks_of_the_unnormalized_block(tmp_path):
  x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype("float32")
  model_checks.run_layer_test(lambda: conv_block.downsampling_block(6, "b", normalized=False),
                              (x,), tmp_path, expected_shapes=[(2, 4, 4, 6)])
