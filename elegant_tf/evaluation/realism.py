"""Realism of edited faces: FID and KID on Inception-v3 pool features.

Protocol (printed with every result, because FID values are only comparable
under the same one): images in [-1, 1] are resized bilinearly (no
antialiasing) to 299x299 and fed as they are, since [-1, 1] is the input range
of Keras' InceptionV3 (`inception_v3.preprocess_input` maps [0, 255] there);
the features are the 2048-d global average pool of the last mixed block
(`include_top=False, pooling="avg"`). Keras' ImageNet weights differ from the
TF1 graph used by the reference FID code (pytorch-fid, TTUR), so absolute
values are close to but not identical with published numbers; compare models
with each other under this protocol.

Without ImageNet weights (no file given and none in the Keras cache; there is
no download here), the network keeps random weights. The code path is the
same, but the numbers measure nothing about realism, and every output says so.
"""

import os
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
CACHE_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
RANDOM_WEIGHTS_NOTICE = (
    "WARNING: Inception-v3 has RANDOM weights (no ImageNet file given with "
    "--inception_weights and none in the Keras cache), so FID/KID below only show that "
    "the pipeline runs; they say nothing about realism.")


def keras_cache_path() -> str:
  """Where keras.applications keeps downloaded ImageNet weights (KERAS_HOME honoured)."""
  home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
  return os.path.join(home, "models", CACHE_FILE)


def resolve_weights(path: Optional[str]) -> Optional[str]:
  """The weights file to load: `path` if given (must exist), else the cache file if present."""
  if path:
    if not os.path.exists(path):
      raise FileNotFoundError(f"Inception weights file {path} does not exist")
    return path
  cached = keras_cache_path()
  return cached if os.path.exists(cached) else None


class InceptionFeatures:
  """Images in [-1, 1] -> Inception-v3 pool features [N, 2048].

  weights_path: an ImageNet `..._notop.h5` file, or None for random weights.
  input_size: 299 for the protocol; tests pass 75 (the smallest InceptionV3
  accepts) to stay fast.
  """

  def __init__(self, weights_path: Optional[str] = None, input_size: int = INCEPTION_SIZE,
               batch_size: int = 32, seed: int = 0):
    keras.utils.set_random_seed(seed)
    self.network = keras.applications.InceptionV3(
        include_top=False, weights=None, pooling="avg",
        input_shape=(input_size, input_size, 3))
    if weights_path:
      self.network.load_weights(weights_path)
    # One traced graph instead of ~300 eager layer calls per batch.
    self._forward = tf.function(lambda batch: self.network(batch, training=False))
    self.imagenet = bool(weights_path)
    self.input_size = input_size
    self.batch_size = batch_size
    self.description = (
        f"Inception-v3 pool features ({FEATURE_DIM}-d, Keras applications), weights: "
        + (weights_path if weights_path else "RANDOM (not ImageNet)")
        + f"; images in [-1, 1] resized bilinearly to {input_size}x{input_size}")

  def __call__(self, images, progress=None) -> np.ndarray:
    images = np.asarray(images, np.float32)
    features = []
    for start in range(0, len(images), self.batch_size):
      batch = images[start:start + self.batch_size]
      count = len(batch)
      # Pad the last batch to full size so the traced graph is reused.
      batch = np.concatenate([batch, np.zeros((self.batch_size - count,) + batch.shape[1:],
                                              np.float32)])
      batch = tf.image.resize(batch, (self.input_size, self.input_size), method="bilinear")
      features.append(np.asarray(self._forward(batch), np.float64)[:count])
      if progress is not None:
        progress(count)
    return np.concatenate(features) if features else np.zeros((0, FEATURE_DIM))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
  values, vectors = np.linalg.eigh(matrix)
  return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _trace_sqrt_product(centred_a: np.ndarray, centred_b: np.ndarray) -> float:
  """Tr((S_a S_b)^(1/2)) for the sample covariances of two centred feature sets.

  With S = X^T X / (n - 1), the non-zero eigenvalues of S_a S_b are the
  squared singular values of X_a X_b^T / sqrt((n_a - 1)(n_b - 1)), so with
  fewer images than feature dimensions (the usual case on a CPU: hundreds of
  images, 2048 dimensions) the trace is a small SVD instead of two 2048^2
  eigendecompositions. Otherwise Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)) is used:
  the same eigenvalues, from a symmetric PSD matrix, so eigh is stable where a
  general matrix square root is not.
  """
  scale = (len(centred_a) - 1) * (len(centred_b) - 1)
  if min(len(centred_a), len(centred_b)) <= centred_a.shape[1]:
    singular = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False)
    return float(singular.sum() / np.sqrt(scale))
  cov_a = centred_a.T @ centred_a / (len(centred_a) - 1)
  cov_b = centred_b.T @ centred_b / (len(centred_b) - 1)
  root_a = _sqrt_psd(cov_a)
  cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
  return float(np.sum(np.sqrt(np.clip(cross, 0.0, None))))


def frechet_distance(features_a, features_b) -> float:
  """FID: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets."""
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  if len(a) < 2 or len(b) < 2:
    return float("nan")
  mean_a, mean_b = a.mean(0), b.mean(0)
  centred_a, centred_b = a - mean_a, b - mean_b
  traces = (np.sum(np.square(centred_a)) / (len(a) - 1)
            + np.sum(np.square(centred_b)) / (len(b) - 1))
  return (float(np.sum(np.square(mean_a - mean_b))) + float(traces)
          - 2.0 * _trace_sqrt_product(centred_a, centred_b))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3 of KID."""
  dim = x.shape[1]
  k_xx = (x @ x.T / dim + 1.0) ** 3
  k_yy = (y @ y.T / dim + 1.0) ** 3
  k_xy = (x @ y.T / dim + 1.0) ** 3
  m, n = len(x), len(y)
  return float((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
               + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
               - 2.0 * k_xy.mean())


def kernel_inception_distance(features_a, features_b, subset_size: int = 1000,
                              num_subsets: int = 100, seed: int = 0) -> tuple:
  """KID (Binkowski et al. 2018): mean and std of unbiased MMD^2 over random subsets.

  Unlike FID it is unbiased, so it stays meaningful with the few hundred images
  a CPU evaluation affords. Subsets are min(subset_size, both set sizes) large.
  """
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  size = min(subset_size, len(a), len(b))
  if size < 2:
    return float("nan"), float("nan")
  rng = np.random.default_rng(seed)
  values = [_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                           b[rng.choice(len(b), size, replace=False)])
            for _ in range(num_subsets)]
  return float(np.mean(values)), float(np.std(values))


def realism_row(name: str, edited_features, real_features) -> dict:
  """FID and KID (x1000, the usual unit) of one set of edits against its real reference."""
  kid, kid_std = kernel_inception_distance(edited_features, real_features)
  return {"attribute": name, "edited": len(edited_features), "real": len(real_features),
          "fid": frechet_distance(edited_features, real_features),
          "kid_x1000": 1000.0 * kid, "kid_std_x1000": 1000.0 * kid_std}
