"""tfrecord:DIR: random access by index, in memory or by pread, and clear errors."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import pairs
from pipelines import tfrecord


def _write(directory, count=12):
  rng = np.random.default_rng(0)
  records, images = [], []
  for n in range(count):
    image = np.full((16, 16, 3), n * 20, np.uint8)
    images.append(image)
    labels = np.array([n % 2, n % 3 == 0], np.uint8)
    jpeg = tf.io.encode_png(image).numpy()  # Lossless, so pixels can be compared.
    records.append((tfrecord.serialize_example(jpeg, labels, f"img{n}"), labels, f"img{n}"))
  del rng
  tfrecord.write_shard(directory, "train", 0, records[:7], 2)
  tfrecord.write_shard(directory, "train", 1, records[7:], 2)
  tfrecord.write_manifest(directory, {
      "format": tfrecord.FORMAT_VERSION, "source": "test", "image_size": 16,
      "attribute_names": ["A", "B"], "skipped": {}, "converted": {},
      "splits": {"train": {"shards": ["train-00000", "train-00001"]}}})
  return images


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30])
def test_random_access_returns_the_right_images(tmp_path, cache_bytes):
  images = _write(str(tmp_path))
  source = tfrecord.open_source(str(tmp_path), 16, cache_bytes=cache_bytes)
  assert len(source.labels("train")) == 12 and len(source.labels("val")) == 0
  order = [11, 0, 7, 3]
  got = list(source.aligned_images("train", tf.data.Dataset.from_tensor_slices(order)))
  for (image, labels, index), want in zip(got, order):
    assert int(index) == want
    np.testing.assert_allclose(image.numpy(), images[want], atol=1)
    np.testing.assert_array_equal(labels.numpy(), source.labels("train")[want])
  batch = next(iter(pairs.attribute_pairs(source, ["A"], 3)))
  np.testing.assert_array_equal(batch["labels_a"][:, 0], 1)


def test_unprepared_and_too_large(tmp_path):
  with pytest.raises(FileNotFoundError, match="pipelines.prepare"):
    tfrecord.open_source(str(tmp_path), 16)
  _write(str(tmp_path))
  with pytest.raises(ValueError, match="prepared at 16 px"):
    tfrecord.open_source(str(tmp_path), 32)
