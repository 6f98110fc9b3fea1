"""Prototype slabs: slab i is the mean latent slab over the positives of attribute i."""

import numpy as np
import pytest
import tensorflow as tf

from elegant_tf.exporting import prototypes
from elegant_tf.models import latent_swap
from pipelines import celeba
from pipelines import face_source
from pipelines import fixtures
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


def test_absence_prototypes_average_each_attributes_negatives(generator):
  labels = [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [0, 1, 0]]
  source = _FixedFaces(labels)
  result = prototypes.compute_prototypes(generator, source, ["Bangs", "Eyeglasses"],
                                         batch_size=2, present=False)
  latents = np.asarray(generator.encode(source.images)[0])
  (start_0, stop_0), (start_1, stop_1) = latent_swap.slab_boundaries(16, 2)
  no_bangs_mean = latents[[0, 3, 4]].mean(axis=0)
  no_glasses_mean = latents[[2, 3, 5]].mean(axis=0)
  np.testing.assert_allclose(result[..., start_0:stop_0], no_bangs_mean[..., start_0:stop_0],
                             atol=1e-6)
  np.testing.assert_allclose(result[..., start_1:stop_1], no_glasses_mean[..., start_1:stop_1],
                             atol=1e-6)


def test_max_examples_subsamples_without_repeats(generator):
  source = _FixedFaces([[1, 1, 0]] * 6)
  result = prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs"],
                                         max_examples=6, batch_size=4)
  latents = np.asarray(generator.encode(source.images)[0])
  np.testing.assert_allclose(result, latents.mean(axis=0), atol=1e-6)


class _FacesWithBadFiles(_FixedFaces):
  """_FixedFaces whose `bad` examples cannot be decoded: skipped before batching, as the
  real sources do, so batches still drop their remainder."""

  def __init__(self, labels, bad):
    super().__init__(labels)
    self.bad = tf.constant(sorted(bad), tf.int64)

  def batches(self, split, indices, batch_size, deterministic=True):
    images, labels = tf.constant(self.images), tf.constant(self._labels, tf.float32)
    good = indices.filter(lambda i: tf.reduce_all(tf.not_equal(i, self.bad)))
    return good.batch(batch_size, drop_remainder=True).map(
        lambda i: (tf.gather(images, i), tf.gather(labels, i)))


@pytest.mark.parametrize("labels, bad, batch_size, positives", [
    # Three positives, one bad, one batch of three: it never fills.
    ([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1]], {1}, 32, [0, 3]),
    # Five positives, one bad, batches of three: the last, partial batch is dropped.
    ([[1, 0, 0]] * 5 + [[0, 1, 0]], {3}, 3, [0, 1, 2, 4]),
])
def test_bad_files_are_skipped_and_every_decodable_positive_averaged(
    generator, labels, bad, batch_size, positives):
  source = _FacesWithBadFiles(labels, bad)
  result = prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs"],
                                         batch_size=batch_size)
  latents = np.asarray(generator.encode(source.images)[0])
  start, stop = latent_swap.slab_boundaries(16, 2)[0]
  np.testing.assert_allclose(result[..., start:stop],
                             latents[positives].mean(axis=0)[..., start:stop], atol=1e-6)


def test_attribute_without_usable_positive_warns_and_gets_no_prototype(generator, caplog):
  # Bangs has no positive at all; Smiling's only positive cannot be decoded.
  source = _FacesWithBadFiles([[1, 0, 0], [1, 0, 1]], bad={1})
  result = prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs", "Smiling"])
  latents = np.asarray(generator.encode(source.images)[0])
  boundaries = latent_swap.slab_boundaries(16, 3)
  (start, stop) = boundaries[0]
  np.testing.assert_allclose(result[..., start:stop], latents[0][..., start:stop], atol=1e-6)
  for name, (start, stop) in zip(["Bangs", "Smiling"], boundaries[1:]):
    assert np.isnan(result[..., start:stop]).all()
    assert f"attribute {name!r} has no usable positive" in caplog.text


def test_no_attribute_with_a_usable_positive_gives_no_prototypes(generator, caplog):
  source = _FacesWithBadFiles([[1, 1, 0], [0, 0, 1]], bad={0})
  assert prototypes.compute_prototypes(generator, source, ["Eyeglasses", "Bangs"]) is None
  assert "'Eyeglasses' has no usable positive" in caplog.text


def test_celeba_folder_with_bad_files_gives_prototypes(generator, tmp_path):
  # The fixture's truncated, garbage, empty, missing, too-small and misplaced files are
  # all Eyeglasses positives of the train split, among a dozen good ones.
  fixtures.make_celeba(str(tmp_path))
  source = celeba.open_source(str(tmp_path), 32)
  result = prototypes.compute_prototypes(generator, source, ["Bangs", "Eyeglasses"])
  assert result.shape == (4, 4, 16) and np.isfinite(result).all()
  # Every decodable positive counts: the mean equals the mean over the good ones.
  labels = source.labels("train")
  eyeglasses = source.attribute_names.index("Eyeglasses")
  skipped = {key for reason in source.skipped_counts()
             for key in source.ledger.skipped_keys(reason)}
  keys = source.keys("train")
  good = [i for i in np.flatnonzero(labels[:, eyeglasses]) if keys[i] not in skipped]
  assert len(good) < len(np.flatnonzero(labels[:, eyeglasses]))
  images = np.concatenate([
      images.numpy() for images, _ in source.batches(
          "train", tf.data.Dataset.from_tensor_slices(np.asarray(good, np.int64)), 1)])
  assert len(images) == len(good)
  start, stop = latent_swap.slab_boundaries(16, 2)[1]
  expected = np.asarray(generator.encode(images)[0]).mean(axis=0)
  np.testing.assert_allclose(result[..., start:stop], expected[..., start:stop], atol=1e-5)


def test_edit_with_prototypes_swaps_in_the_chosen_slabs_eagerly_and_in_a_graph(generator):
  rng = np.random.default_rng(0)
  slabs = rng.normal(size=(4, 4, 16)).astype(np.float32)
  image = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  weights = np.array([[1, 0], [0, 0.5]], np.float32)
  latent, skips = generator.encode(image)
  expected = generator.edit(image, latent_swap.swap_latent_slabs(
      latent, np.broadcast_to(slabs, latent.shape), weights), latent, skips)
  eager = prototypes.edit_with_prototypes(generator, image, slabs, weights)
  np.testing.assert_allclose(eager, expected, atol=1e-5)
  traced = tf.function(lambda x, w: prototypes.edit_with_prototypes(generator, x, slabs, w))
  np.testing.assert_allclose(traced(image, weights), eager, atol=1e-5)
  unchanged = prototypes.edit_with_prototypes(generator, image, slabs, np.zeros_like(weights))
  np.testing.assert_allclose(unchanged, generator.edit(image, latent, latent, skips), atol=1e-5)
