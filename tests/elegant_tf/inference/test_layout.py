"""inference/layout.py: version folders and metadata, the one place that defines them."""

import pytest

from elegant_tf.inference import layout


def _version(root, number, complete=True):
  folder = root / str(number)
  folder.mkdir(parents=True)
  if complete:
    (folder / "saved_model.pb").write_bytes(b"")
  return folder


def test_versions_count_up_and_ignore_other_names(tmp_path):
  assert layout.existing_versions(str(tmp_path / "absent")) == []
  assert layout.next_version(str(tmp_path)) == 1
  for number in (2, 10):
    _version(tmp_path, number)
  (tmp_path / ".incomplete-11").mkdir()  # An export in progress is not a version.
  assert layout.existing_versions(str(tmp_path)) == [2, 10]  # Numeric, not text, order.
  assert layout.next_version(str(tmp_path)) == 11


def test_newest_version_dir_takes_a_version_or_a_model_folder(tmp_path):
  _version(tmp_path, 1)
  newest = _version(tmp_path, 3)
  assert layout.newest_version_dir(str(tmp_path)) == str(newest)
  assert layout.newest_version_dir(str(newest)) == str(newest)
  with pytest.raises(layout.ModelFileError, match="neither a SavedModel version folder"):
    layout.newest_version_dir(str(tmp_path / "empty"))


def test_metadata_round_trip(tmp_path):
  folder = _version(tmp_path, 1)
  layout.write_metadata(str(folder), {"attribute_names": ["Bangs"], "image_size": 64})
  assert layout.read_metadata(str(folder)) == {"attribute_names": ["Bangs"], "image_size": 64}
