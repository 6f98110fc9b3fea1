"""folder:DIR: CSV labels in mixed styles, hash split, alignment or centre crop."""

import numpy as np
import tensorflow as tf

from pipelines import folder
from tests.pipelines import fixtures


def test_labels_split_and_skips(tmp_path):
  expected = fixtures.make_folder(str(tmp_path))
  source = folder.open_source(str(tmp_path), 32)
  assert source.attribute_names == ("Smiling", "Eyeglasses")
  seen = []
  for split in ("train", "val", "test"):
    for key, labels in zip(source.keys(split), source.labels(split)):
      assert folder.hash_split(key) == split
      np.testing.assert_array_equal(labels, expected["labels"][key])
      seen.append(key)
  assert sorted(seen) == sorted(expected["labels"])
  assert source.skipped_counts() == {r: len(n) for r, n in expected["skipped"].items()}
  assert source.landmarks("train") is not None
  images = list(source.aligned_images("train", tf.data.Dataset.range(len(source.labels("train")))))
  assert len(images) == len(source.labels("train"))


def test_without_landmarks_center_crops(tmp_path):
  fixtures.make_folder(str(tmp_path), num_images=9, with_landmarks=False)
  source = folder.open_source(str(tmp_path), 24)
  assert source.landmarks("train") is None
  batch, labels = next(iter(source.batches("train", tf.data.Dataset.range(2).repeat(), 2)))
  assert batch.shape == (2, 24, 24, 3) and labels.shape == (2, 2)


def test_flag_values():
  assert [folder.parse_flag(v) for v in ("1", "-1", "0", "TRUE", "false", "maybe")] == [1, 0, 0, 1, 0, None]
