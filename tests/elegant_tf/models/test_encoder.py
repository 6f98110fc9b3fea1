import numpy as np

from elegant_tf.models import encoder
from tests.elegant_tf import model_checks


def test_latent_and_skip_shapes_follow_depth_and_widths():
  widths = [8, 16, 32, 32]
  latent, skips = encoder.Encoder(widths)(np.zeros((2, 64, 64, 3), "float32"))
  assert tuple(latent.shape) == (2, 4, 4, 32)
  assert [tuple(s.shape) for s in skips] == [(2, 32, 32, 8), (2, 16, 16, 16), (2, 8, 8, 32)]


def test_paper_shapes_at_256():
  enc = encoder.Encoder()
  latent, skips = enc(np.zeros((1, 256, 256, 3), "float32"))
  assert tuple(latent.shape) == (1, 8, 8, 512)
  assert len(skips) == 4 and enc.latent_channels == 512


def test_kernels_initialised_with_std_002_and_zero_bias():
  enc = encoder.Encoder([256, 256])
  enc(np.zeros((1, 32, 32, 3), "float32"))
  conv = enc.blocks[1].layers[0]
  assert abs(float(np.std(conv.kernel.numpy())) - 0.02) < 0.002
  assert not np.any(conv.bias.numpy())


def test_shared_layer_checks(tmp_path):
  x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  model_checks.run_layer_test(lambda: encoder.Encoder([4, 8, 8]), (x,), tmp_path,
                              expected_shapes=[(2, 4, 4, 8), (2, 16, 16, 4), (2, 8, 8, 8)])


def test_without_normalization_the_latent_follows_the_amplitude():
  # Zero biases and LeakyReLU make every block positively homogeneous: with the
  # per-pixel normalization the latent ignores the image's amplitude, without it
  # the latent of an image at twice the amplitude is twice as large.
  x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  normed, plain = encoder.Encoder([4, 8, 8]), encoder.Encoder([4, 8, 8], normalized=False)
  np.testing.assert_allclose(np.asarray(normed(2 * x)[0]), np.asarray(normed(x)[0]), atol=1e-5)
  np.testing.assert_allclose(np.asarray(plain(2 * x)[0]), 2 * np.asarray(plain(x)[0]),
                             rtol=1e-4, atol=1e-7)
  assert not any("normalization" in v.path for v in plain.weights)
  assert not encoder.Encoder.from_config(plain.get_config()).normalized


def test_unnormalized_shared_layer_checks(tmp_path):
  x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  model_checks.run_layer_test(lambda: encoder.Encoder([4, 8, 8], normalized=False), (x,),
                              tmp_path, expected_shapes=[(2, 4, 4, 8), (2, 16, 16, 4), (2, 8, 8, 8)])
