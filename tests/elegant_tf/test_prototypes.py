"""Prototype slabs: slab i is the mean latent slab over the positives of attribute i."""

import numpy as np
import pytest
import tensorflow as tf

from elegant_tf import latent_swap
from elegant_tf import prototypes
from pipelines import face_source
from tests.elegant_tf import tiny


class _FixedFaces(face_source.FaceSource):
  """Six known images with known labels, so the expected means are computable directly."""

  def __init__(self, labels):
    super().__init__(("Eyeglasses", "Bangs", "Smiling"), 32)
    rng = np.random.default_rng(0)
    self.images = rng.uniform(-1, 1, (len(labels), 32, 32, 3)).astype(np.float32)
    self._labels = np.asarray(labels, np.uint8)

  def labels(self, split):
    return self._labels

  def batches(self, split, indices, batch_size, deterministic=True):
    images, labels = tf.constant(self.images), tf.constant(self._labels, tf.float32)
    return indices.batch(batch_size, drop_remainder=True).map(
        lambda i: (tf.gather(images, i), tf.gather(labels, i)))


@pytest.fixture(scope="module")
def generator():
  return tiny.untrained_generator()


def test_each_slab_is_the_mean_over_that_attributes_positives(generator):
  # Source columns: Eyeglasses, Bangs, Smiling; the model is trained on Bangs, Eyeglasses.
  labels = [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [0, 1, 0]]
  source = _FixedFaces(labels)
  result = prototypes.compute_prototypes(generator, source, ["Bangs", "Eyeglasses"],
                                         batch_size=2)
  latents = np.asarray(generator.encode(source.images)[0])
  (start_0, stop_0), (start_1, stop_1) = latent_swap.slab_boundaries(16, 2)
  bangs_mean = latents[[1, 2, 5]].mean(axis=0)  # Three positives, not a batch multiple.
  glasses_mean = latents[[0, 1, 4]].mean(axis=0)
  np.testing.assert_allclose(result[..., start_0:stop_0], bangs_mean[..., start_0:stop_0],
                             atol=1e-6)
  np.testing.assert_allclose(result[..., start_1:stop_1], glasses_mean[..., start_1:stop_1],
                             atol=1e-6)
  assert result.shape == (4, 4, 16) and result.dtype == np.float32


def test_max_examples_subsamples_without_repeats(generator):
  source = _FixedFaces([[1, 1, 0]] * 6)
  result = prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs"],
                                         max_examples=6, batch_size=4)
  latents = np.asarray(generator.encode(source.images)[0])
  np.testing.assert_allclose(result, latents.mean(axis=0), atol=1e-6)


def test_attribute_without_positives_is_named(generator):
  source = _FixedFaces([[1, 0, 0], [1, 0, 1]])
  with pytest.raises(ValueError, match="'Bangs' has no positive"):
    prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs"])
