import numpy as np

from elegant_tf.evaluation import psnr


def test_known_error_gives_known_db():
  # Error 0.2 on the [-1, 1] scale is 0.1 of the range: MSE 0.01, 20 dB.
  target = np.zeros((1, 4, 4, 3), np.float32)
  assert abs(psnr.psnr(target + 0.2, target) - 20.0) < 1e-4
  assert psnr.psnr(target, target) == float("inf")


def test_mask_selects_pixels_and_an_empty_mask_is_nan():
  target = np.zeros((1, 4, 4, 3), np.float32)
  predicted = target.copy()
  predicted[:, :2] = 0.2  # Damage the top half only.
  top = np.zeros((1, 4, 4), bool)
  top[:, :2] = True
  assert abs(psnr.psnr(predicted, target, top) - 20.0) < 1e-4
  assert psnr.psnr(predicted, target, ~top) == float("inf")
  assert np.isnan(psnr.psnr(predicted, target, np.zeros((1, 4, 4))))


def test_uint8_photos_score_as_the_same_picture_in_minus_one_to_one():
  rng = np.random.default_rng(0)
  a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
  b = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # Many b > a: uint8 would wrap.
  mask = rng.random((8, 8)) > 0.5
  as_float = lambda x: x.astype(np.float64) / 127.5 - 1.0
  np.testing.assert_allclose(psnr.psnr(a, b, mask, value_range=255.0),
                             psnr.psnr(as_float(a), as_float(b), mask), rtol=1e-5)
  error = (a.astype(np.float64) - b)[mask]
  np.testing.assert_allclose(psnr.psnr(a, b, mask, value_range=255.0),
                             10 * np.log10(255.0 ** 2 / np.mean(error ** 2)), rtol=1e-5)
