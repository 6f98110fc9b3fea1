"""tfds:celeb_a through tfds.testing.mock_data, and the not-prepared message."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from pipelines import tfds_celeba
from tests import helpers


def test_mock_celeb_a_maps_to_images_and_labels():
  with tfds.testing.mock_data(as_dataset_fn=helpers.mock_celeb_a_as_dataset):
    source = tfds_celeba.open_source("celeb_a", 32)
  assert len(source.attribute_names) == 40
  assert [len(source.labels(s)) for s in ("train", "val", "test")] == [8, 3, 3]
  np.testing.assert_array_equal(source.labels("train")[1][:3], [1, 0, 1])
  images, labels = next(iter(source.batches("train", tf.data.Dataset.range(8), 4)))
  assert images.shape == (4, 32, 32, 3) and labels.shape == (4, 40)
  assert source.skipped_counts() == {}


def test_random_mock_landmarks_are_counted_not_crashing():
  with tfds.testing.mock_data(num_examples=4):
    source = tfds_celeba.open_source("celeb_a", 32)
  list(source.aligned_images("train", tf.data.Dataset.range(4)))
  assert sum(source.skipped_counts().values()) <= 4


def test_unprepared_says_how_to_prepare(tmp_path):
  with pytest.raises(RuntimeError, match="tfds build celeb_a"):
    tfds_celeba.open_source("celeb_a", 32, tfds_data_dir=str(tmp_path))
