"""celeba:DIR: labels, official split, bad files counted, pairs correct."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import celeba
from pipelines import data_spec
from pipelines import pairs
from pipelines import fixtures


@pytest.fixture(scope="module")
def celeba_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("celeba"))
  return root, fixtures.make_celeba(root)


def _read_all(source, split):
  indices = tf.data.Dataset.range(len(source.labels(split)))
  return list(source.aligned_images(split, indices))


def test_labels_and_splits(celeba_dir):
  root, expected = celeba_dir
  source = data_spec.open_source(f"celeba:{root}", 32)
  assert source.attribute_names == fixtures.ATTRIBUTES
  # Files found bad only when decoded are still listed (their labels are known).
  read_time = {"corrupt or truncated image", "unsupported format", "landmarks outside image",
               "too small for the image size"}
  late = {name for reason in read_time for name in expected["skipped"][reason]}
  for split in ("train", "val", "test"):
    keys = source.keys(split)
    good = sorted(k for k, s in expected["split"].items() if s == split)
    assert sorted(set(keys) - late) == good
    for key, labels in zip(keys, source.labels(split)):
      if key in expected["labels"]:
        np.testing.assert_array_equal(labels, expected["labels"][key])
    np.testing.assert_allclose(source.landmarks(split)[0],
                               np.round(expected["landmarks"][keys[0]]))


def test_bad_files_are_skipped_and_counted(celeba_dir):
  root, expected = celeba_dir
  source = celeba.open_source(root, 32)
  # Cheap checks happen at open time, before any decoding.
  opened = source.skipped_counts()
  for reason in ("listed but missing", "empty file", "present but not listed", "bad attribute row"):
    assert opened[reason] == len(expected["skipped"][reason]), reason
  delivered = [int(index) for _, _, index in _read_all(source, "train")]
  _read_all(source, "train")  # A second epoch must not double the counts.
  counts = source.skipped_counts()
  assert counts == {reason: len(names) for reason, names in expected["skipped"].items()}
  train_keys = source.keys("train")
  bad = {name for names in expected["skipped"].values() for name in names}
  assert not bad & {train_keys[i] for i in delivered}
  assert len(delivered) + sum(1 for k in train_keys if k in bad) == len(train_keys)
  converted = source.converted_counts()
  for reason, names in expected["converted"].items():
    assert converted.get(reason, 0) >= len(names), reason


def test_pairs_have_and_lack_the_attribute(celeba_dir):
  root, _ = celeba_dir
  source = celeba.open_source(root, 32)
  attributes = ["Bangs", "Male"]
  for step, batch in enumerate(pairs.attribute_pairs(source, attributes, 4, seed=3).take(4)):
    position = int(np.ravel(batch["attribute"])[0])  # Scalar or per-example.
    assert position == step % 2
    assert batch["image_a"].shape == (4, 32, 32, 3)
    assert float(tf.reduce_min(batch["image_a"])) >= -1 and float(tf.reduce_max(batch["image_a"])) <= 1
    np.testing.assert_array_equal(batch["labels_a"][:, position], 1)
    np.testing.assert_array_equal(batch["labels_b"][:, position], 0)


def test_in_the_wild_layout_and_errors(tmp_path):
  expected = fixtures.make_celeba(str(tmp_path), num_good=6, layout="img_celeba")
  source = celeba.open_source(str(tmp_path), 32)
  assert source.layout == "img_celeba"
  assert len(source.labels("train")) > 0
  with pytest.raises(ValueError, match="did you mean 'Eyeglasses'"):
    pairs.attribute_columns(source, ["Eyeglases"])
  with pytest.raises(FileNotFoundError, match="list_eval_partition.txt"):
    (tmp_path / "list_eval_partition.txt").unlink()
    celeba.open_source(str(tmp_path), 32)
  del expected


def test_symlink_loops_and_links_outside_are_skipped_and_counted_as_in_folder(tmp_path):
  root, outside = tmp_path / "celeba", tmp_path / "elsewhere"
  images = root / "img_align_celeba"
  images.mkdir(parents=True)
  outside.mkdir()
  names = [f"{k:06d}.jpg" for k in range(4)]
  for name in names:
    (images / name).write_bytes(b"not decoded when opening")
  (outside / "private.jpg").write_bytes(b"not ours")
  (images / "self.jpg").symlink_to(images / "self.jpg")  # ELOOP on stat.
  (images / "again").symlink_to(images, target_is_directory=True)  # A folder loop.
  (images / "secret.jpg").symlink_to(outside / "private.jpg")
  (images / "away").symlink_to(outside, target_is_directory=True)
  listed = names + ["secret.jpg", "self.jpg"]
  (root / "list_attr_celeba.txt").write_text(
      f"{len(listed)}\nSmiling Male\n" + "".join(f"{name} 1 -1\n" for name in listed))
  (root / "list_eval_partition.txt").write_text("".join(f"{name} 0\n" for name in listed))
  (root / "list_landmarks_align_celeba.txt").write_text(
      f"{len(listed)}\nlefteye_x lefteye_y\n"
      + "".join(f"{name} 1 2 3 4 5 6 7 8 9 10\n" for name in listed))
  source = celeba.open_source(str(root), 32)
  assert source.keys("train") == names
  assert source.skipped_counts() == {"outside the data folder": 2, "symlink loop": 2}
  assert source.ledger.skipped_keys("outside the data folder") == ["away", "secret.jpg"]
  assert source.ledger.skipped_keys("symlink loop") == ["again", "self.jpg"]

