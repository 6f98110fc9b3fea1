"""folder:DIR: CSV labels in mixed styles, hash split, alignment or centre crop."""

import re

import numpy as np
import pytest
import tensorflow as tf

from pipelines import face_detection
from pipelines import folder
from pipelines import fixtures
from pipelines import image_decoding


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


def _write_faces(root, count=4):
  rng = np.random.default_rng(0)
  root.mkdir(exist_ok=True)
  for k in range(count):
    (root / f"face{k}.png").write_bytes(
        fixtures.encode(rng.integers(0, 256, (40, 40, 3), np.uint8), "PNG"))


def test_duplicate_rows_with_conflicting_labels_are_both_skipped_and_counted(tmp_path):
  _write_faces(tmp_path)
  (tmp_path / "attributes.csv").write_text(
      "filename,Smiling\nface0.png,1\nface1.png,1\nface0.png,0\nface2.png,0\nface2.png,0\n"
      "face3.png,1\nface0.png,1\n")
  source = folder.open_source(str(tmp_path), 32)
  keys = sorted(key for split in ("train", "val", "test") for key in source.keys(split))
  assert keys == ["face1.png", "face2.png", "face3.png"]  # An identical repeat is kept once.
  assert source.skipped_counts() == {"conflicting duplicate rows": 1}
  assert source.ledger.skipped_keys("conflicting duplicate rows") == ["face0.png"]


def test_duplicate_column_names_are_refused_naming_the_column(tmp_path):
  _write_faces(tmp_path)
  (tmp_path / "attributes.csv").write_text("filename,Smiling,Bangs,Smiling\nface0.png,1,0,1\n")
  with pytest.raises(ValueError, match="the header names column 'Smiling' more than once"):
    folder.open_source(str(tmp_path), 32)


@pytest.mark.parametrize("name", ["attributes.csv", "landmarks.csv"])
def test_latin1_csv_is_refused_naming_the_file(tmp_path, name):
  _write_faces(tmp_path)
  (tmp_path / "attributes.csv").write_text("filename,Smiling\nface0.png,1\n")
  text = ("filename,Sourire\nfacé0.png,1\n" if name == "attributes.csv" else
          "filename,lx,ly,rx,ry,nx,ny,mlx,mly,mrx,mry\nfacé0.png" + ",1" * 10 + "\n")
  (tmp_path / name).write_bytes(text.encode("latin-1"))
  with pytest.raises(ValueError, match=re.escape(f"{tmp_path / name} is not UTF-8 text")):
    folder.open_source(str(tmp_path), 32)


def test_symlink_loops_and_links_outside_are_skipped_and_counted(tmp_path):
  root = tmp_path / "faces"
  _write_faces(root)
  outside = tmp_path / "elsewhere"
  _write_faces(outside, 1)
  (root / "self.png").symlink_to(root / "self.png")  # ELOOP on stat.
  (root / "again").symlink_to(root, target_is_directory=True)  # A folder loop.
  (root / "secret.png").symlink_to(outside / "face0.png")
  (root / "away").symlink_to(outside, target_is_directory=True)
  (root / "inside.png").symlink_to(root / "face1.png")  # Inside the folder: followed.
  (root / "attributes.csv").write_text(
      "filename,Smiling\n" + "".join(f"face{k}.png,{k % 2}\n" for k in range(4))
      + "inside.png,1\nsecret.png,1\nself.png,0\n")
  source = folder.open_source(str(root), 32)
  keys = sorted(key for split in ("train", "val", "test") for key in source.keys(split))
  assert keys == ["face0.png", "face1.png", "face2.png", "face3.png", "inside.png"]
  assert source.skipped_counts() == {"outside the data folder": 2, "symlink loop": 2}
  assert source.ledger.skipped_keys("outside the data folder") == ["away", "secret.png"]
  assert source.ledger.skipped_keys("symlink loop") == ["again", "self.png"]


class _LookupDetector(face_detection.FaceDetector):
  """Knows each test image's landmarks by its pixels; counts the images it is shown."""

  def __init__(self, root, expected_landmarks, faceless):
    self.table, self.calls = {}, 0
    for name, points in expected_landmarks.items():
      with open(root / name, "rb") as handle:
        image, _, _ = image_decoding.decode_to_rgb(handle.read())
      if name not in faceless:
        self.table[image.tobytes()] = points

  def detect(self, image):
    self.calls += 1
    points = self.table.get(image.tobytes())
    return [] if points is None else [face_detection.DetectedFace((0, 0, 9, 9), points, 0.9)]


def test_landmarks_auto_detects_once_caches_and_counts_skips(tmp_path):
  expected = fixtures.make_folder(str(tmp_path), num_images=12, with_landmarks=False)
  faceless = {"face_004.png", "people/face_005.bmp"}
  detector = _LookupDetector(tmp_path, expected["landmarks"], faceless)
  (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a whole jpeg")
  with open(tmp_path / "attributes.csv", "a") as handle:
    handle.write("broken.jpg,1,0\n")
  source = folder.open_source(f"{tmp_path},landmarks=auto", 32, face_detector=detector,
                              progress=False)
  assert detector.calls == 12  # Every decodable listed image, once; not the broken one.
  skipped = source.skipped_counts()
  assert skipped[folder.NO_FACE] == 2
  assert skipped["corrupt or truncated image"] == 1
  assert "no landmarks" not in skipped  # Counted once, by their own reason.
  keys = [key for split in ("train", "val", "test") for key in source.keys(split)]
  assert sorted(keys) == sorted(set(expected["labels"]) - faceless)
  for split in ("train", "val", "test"):
    for key, points in zip(source.keys(split), source.landmarks(split)):
      np.testing.assert_allclose(points, expected["landmarks"][key], atol=0.006)
  cache = (tmp_path / "landmarks.csv").read_text()
  assert cache.splitlines()[0].startswith("filename,lefteye_x,lefteye_y")
  assert len(cache.splitlines()) == 1 + 10
  # Opened again: the cache is read, nothing is detected, the file is left as it was.
  again = folder.open_source(f"{tmp_path},landmarks=auto", 32, face_detector=detector,
                             progress=False)
  assert detector.calls == 12
  assert (tmp_path / "landmarks.csv").read_text() == cache
  assert sorted(k for s in ("train", "val", "test") for k in again.keys(s)) == sorted(keys)


def test_landmarks_auto_never_overwrites_the_users_landmarks(tmp_path):
  fixtures.make_folder(str(tmp_path), num_images=6, with_landmarks=True)
  before = (tmp_path / "landmarks.csv").read_bytes()
  detector = _LookupDetector(tmp_path, {}, set())
  source = folder.open_source(f"{tmp_path},landmarks=auto", 32, face_detector=detector,
                              progress=False)
  assert detector.calls == 0 and source.landmarks("train") is not None
  assert (tmp_path / "landmarks.csv").read_bytes() == before


def test_unknown_folder_option_is_refused_naming_the_valid_ones(tmp_path):
  with pytest.raises(ValueError, match=re.escape("unknown option 'landmarks=yes'; valid: "
                                                 "landmarks=auto")):
    folder.open_source(f"{tmp_path},landmarks=yes", 32)
