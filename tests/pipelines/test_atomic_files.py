"""atomic_files: the target holds the old content or the new, never part of either."""

import os
import stat

import numpy as np
import pytest
from PIL import Image

from pipelines import atomic_files


def test_write_replaces_content_and_leaves_no_temporary(tmp_path):
  path = tmp_path / "sub" / "flags.txt"
  atomic_files.write_atomically(str(path), "one\n")
  atomic_files.write_atomically(str(path), "two\n")
  assert path.read_text() == "two\n"
  assert os.listdir(path.parent) == ["flags.txt"]
  umask = os.umask(0)
  os.umask(umask)
  assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_failure_mid_write_keeps_the_old_file(tmp_path):
  path = tmp_path / "results.json"
  path.write_text("old")
  with pytest.raises(RuntimeError):
    with atomic_files.atomic_open(str(path)) as f:
      f.write("half of the new")
      raise RuntimeError("killed")
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["results.json"]


def test_png(tmp_path):
  pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
  atomic_files.write_png_atomically(str(tmp_path / "a.png"), pixels)
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), pixels)


def test_outputs_go_into_missing_folders_and_a_file_in_the_way_is_named(tmp_path):
  # The rule of every output flag (atomic_files.MISSING_FOLDERS_HELP in their help).
  path = tmp_path / "new" / "folders" / "out.png"
  atomic_files.check_writable(str(path))
  atomic_files.write_png_atomically(str(path), np.zeros((2, 2, 3), np.uint8))
  assert path.is_file()
  with pytest.raises(ValueError, match=r"cannot write .*/out.png/x.png: .*out.png is a file"):
    atomic_files.check_writable(str(path / "x.png"))


def test_an_output_file_that_is_a_folder_or_under_a_file_is_refused(tmp_path):
  with pytest.raises(ValueError, match=r"^.*/taken.png is a directory; give a .png file name$"):
    (tmp_path / "taken.png").mkdir()
    atomic_files.check_output_file(str(tmp_path / "taken.png"), "a .png")
  (tmp_path / "a_file").write_text("in the way")
  with pytest.raises(ValueError, match=r"cannot write .*a_file/out.png: .*a_file is a file"):
    atomic_files.check_output_file(str(tmp_path / "a_file" / "out.png"), "a .png")
  atomic_files.check_output_file(str(tmp_path / "new" / "out.png"), "a .png")  # Created later.

