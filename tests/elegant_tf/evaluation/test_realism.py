"""Tests of FID, KID and the Inception feature extractor."""

import numpy as np
import pytest

from elegant_tf.evaluation import realism


def _gaussian(seed, count=400, dim=8, shift=0.0, scale=1.0):
  rng = np.random.default_rng(seed)
  return rng.normal(shift, scale, (count, dim))


def test_fid_is_zero_for_identical_sets_and_matches_closed_form():
  a = _gaussian(0)
  assert abs(realism.frechet_distance(a, a)) < 1e-8
  # Same covariance, shifted mean: FID is the squared shift.
  np.testing.assert_allclose(realism.frechet_distance(a, a + 2.0), 4.0 * a.shape[1],
                             rtol=1e-8)
  # Diagonal covariances: sum over dimensions of (s_a - s_b)^2.
  diagonal_a = np.diag([1.0, 4.0])
  diagonal_b = np.diag([9.0, 1.0])
  rng = np.random.default_rng(1)
  x = rng.multivariate_normal([0, 0], diagonal_a, 200_000)
  y = rng.multivariate_normal([0, 0], diagonal_b, 200_000)
  np.testing.assert_allclose(realism.frechet_distance(x, y), (1 - 3) ** 2 + (2 - 1) ** 2,
                             rtol=0.02)


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
  same, same_std = realism.kernel_inception_distance(_gaussian(0), _gaussian(1),
                                                     subset_size=200, num_subsets=20)
  shifted, _ = realism.kernel_inception_distance(_gaussian(0), _gaussian(1, shift=1.0),
                                                 subset_size=200, num_subsets=20)
  assert abs(same) < 3 * same_std + 1e-3
  assert shifted > 10 * abs(same)


def test_too_few_features_give_nan():
  assert np.isnan(realism.frechet_distance(np.zeros((1, 4)), np.zeros((5, 4))))
  row = realism.realism_row("Bangs", np.zeros((1, 4)), np.zeros((5, 4)))
  assert np.isnan(row["fid"]) and np.isnan(row["kid_x1000"])


def test_weights_resolution(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  assert realism.resolve_weights(None) is None
  with pytest.raises(FileNotFoundError, match="^Inception weights file .* does not exist$"):
    realism.resolve_weights(str(tmp_path / "missing.h5"))
  cached = tmp_path / "models" / realism.CACHE_FILE
  cached.parent.mkdir()
  cached.write_bytes(b"")
  assert realism.resolve_weights(None) == str(cached)


def test_real_inception_v3_with_random_weights_runs_at_75_px():
  extractor = realism.InceptionFeatures(None, input_size=75, batch_size=2)
  images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
  features = extractor(images)
  assert features.shape == (3, realism.FEATURE_DIM)
  assert not extractor.imagenet and "RANDOM" in extractor.description
  assert np.isfinite(features).all()


def test_few_images_path_matches_the_matrix_square_root():
  a, b = _gaussian(2, count=20, dim=50), _gaussian(3, count=30, dim=50, scale=2.0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  # Reference by another route: S_a S_b is similar to a PSD matrix, so the trace of
  # its square root is the sum of the square roots of its (real, >= 0) eigenvalues.
  eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real
  trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
  expected = (np.sum(np.square(a.mean(0) - b.mean(0))) + np.trace(cov_a) + np.trace(cov_b)
              - 2.0 * trace_sqrt)
  np.testing.assert_allclose(realism.frechet_distance(a, b), expected, rtol=1e-6)
