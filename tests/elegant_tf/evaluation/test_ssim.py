"""Tests of the masked SSIM."""

import numpy as np
import tensorflow as tf

from elegant_tf.evaluation import ssim


def _noisy_pair(seed=0, size=32, noise=0.2):
  rng = np.random.default_rng(seed)
  clean = rng.uniform(-1, 1, (3, size, size, 3)).astype(np.float32)
  noisy = np.clip(clean + rng.normal(0, noise, clean.shape), -1, 1).astype(np.float32)
  return clean, noisy


def test_identical_images_score_one():
  clean, _ = _noisy_pair()
  assert abs(ssim.ssim(clean, clean) - 1.0) < 1e-6


def test_whole_image_mean_matches_tensorflow():
  clean, noisy = _noisy_pair()
  expected = float(tf.reduce_mean(tf.image.ssim((clean + 1) / 2, (noisy + 1) / 2, 1.0)))
  np.testing.assert_allclose(ssim.ssim(clean, noisy), expected, atol=1e-5)


def test_mask_separates_damaged_and_intact_halves():
  clean, noisy = _noisy_pair(size=48, noise=0.5)
  damaged = clean.copy()
  damaged[:, :, 24:] = noisy[:, :, 24:]  # Right half damaged, left half intact.
  right = np.zeros(clean.shape[:3], bool)
  right[:, :, 30:] = True  # Windows centred here see only damaged pixels.
  left = np.zeros_like(right)
  left[:, :, :18] = True
  assert ssim.ssim(damaged, clean, left) > 0.999
  assert ssim.ssim(damaged, clean, right) < 0.8


def test_empty_mask_gives_nan_and_map_shape_is_valid_windows():
  clean, noisy = _noisy_pair()
  assert np.isnan(ssim.ssim(clean, noisy, np.zeros(clean.shape[:3], bool)))
  assert ssim.ssim_map(clean, noisy, batch_size=2).shape == (3, 22, 22)
