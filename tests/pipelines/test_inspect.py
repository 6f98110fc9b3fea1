"""inspect: the report's numbers and the contact sheet."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipelines import alignment
from pipelines import celeba
from pipelines import folder
from pipelines import inspect
from pipelines import fixtures
from tests import helpers


def test_report_and_sheet(tmp_path):
  root = str(tmp_path / "celeba")
  expected = fixtures.make_celeba(root, num_good=12)
  source = celeba.open_source(root, 32)
  sheet = str(tmp_path / "sheet.png")
  text = io.StringIO()
  result = inspect.report(source, ["Black_Hair", "Blond_Hair"], "train", 6, sheet,
                          check_all=True, out=text)
  output = text.getvalue()
  # --check_all: the counts are of the usable images, without those found undecodable.
  undecodable = {key for reason in result["skipped"] for key in source.ledger.skipped_keys(reason)}
  usable = [key for key in source.keys("train") if key not in undecodable]
  assert 0 < len(usable) < len(source.labels("train"))
  assert result["sizes"]["train"] == len(usable)
  positives, negatives = result["counts"]["Black_Hair"]
  assert positives + negatives == result["sizes"]["train"]
  assert "mutually exclusive" in output
  for reason, names in expected["skipped"].items():
    assert result["skipped"][reason] == len(names)
    assert reason in output
  assert os.path.getsize(sheet) > 0 and result["samples"] == 6


def test_sheet_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
  root = str(tmp_path / "celeba")
  fixtures.make_celeba(root, num_good=12)
  sheet = tmp_path / "sheet.png"
  sheet.write_bytes(b"the previous sheet")

  def crash(*args, **kwargs):  # A kill after the bytes are written, before completion.
    raise KeyboardInterrupt("killed")

  monkeypatch.setattr(os, "replace", crash)
  with pytest.raises(KeyboardInterrupt):
    inspect.report(celeba.open_source(root, 32), ["Bangs"], "train", 4, str(sheet),
                   out=io.StringIO())
  assert sheet.read_bytes() == b"the previous sheet"
  assert sorted(os.listdir(tmp_path)) == ["celeba", "sheet.png"]


def test_check_all_counts_only_the_usable_images(tmp_path, monkeypatch):
  root = str(tmp_path / "faces")
  fixtures.make_folder(root, num_images=40, with_landmarks=False)
  source = folder.open_source(root, 32)
  keys, labels = source.keys("train"), source.labels("train")
  smiling = source.attribute_names.index("Smiling")
  broken = next(key for key, row in zip(keys, labels) if row[smiling])
  with open(os.path.join(root, broken), "wb") as handle:
    handle.write(b"not an image at all")
  monkeypatch.chdir(tmp_path)
  text = io.StringIO()
  result = inspect.report(source, ["Smiling"], "train", 4, None, check_all=True, out=text)
  assert result["sizes"]["train"] == len(keys) - 1
  assert result["counts"]["Smiling"] == (int(labels[:, smiling].sum()) - 1,
                                         len(keys) - int(labels[:, smiling].sum()))
  assert f"train: {len(keys) - 1} usable of {len(keys)} listed" in text.getvalue()
  assert sum(result["skipped"].values()) >= 1 and result["samples"] == 0
  assert sorted(os.listdir(tmp_path)) == ["faces"]  # No sheet unless --sheet names one.


@pytest.mark.parametrize("args, message", [
    (["--data=nonsense"], "inspect: --data=nonsense: unknown data kind 'nonsense'"),
    (["--data=folder:{tmp}/missing"], "inspect: --data=folder:{tmp}/missing: folder:{tmp}/missing needs "),
    (["--data=synthetic", "--split=everything"], "inspect: --split: unknown split 'everything'"),
    (["--data=synthetic", "--sheet_images=0"], "inspect: --sheet_images=0 must be at least 1"),
])
def test_cli_bad_use_exits_2_with_one_line(tmp_path, monkeypatch, capsys, args, message):
  monkeypatch.chdir(tmp_path)
  result = helpers.run_in_process(inspect.run, *[arg.format(tmp=tmp_path) for arg in args],
                                  capsys=capsys)
  assert result.returncode == 2, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith(message.format(tmp=tmp_path))
  assert os.listdir(tmp_path) == []


def test_the_old_flag_name_still_works(tmp_path, monkeypatch, capsys):
  # --samples was renamed --sheet_images (one noun per kind of count); scripts that use
  # the old name reach the same flag.
  monkeypatch.chdir(tmp_path)
  result = helpers.run_in_process(inspect.run, "--data=synthetic", "--samples=0", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == "inspect: --sheet_images=0 must be at least 1"


@pytest.mark.parametrize("args, named", [
    (["--no_such_flag"], "no_such_flag"),
    (["--sheet_images=many"], "--sheet_images"),
    (["--check_all=perhaps"], "--check_all"),
])
def test_cli_flag_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, named):
  # absl alone says "FATAL Flags parsing error" over two lines and exits 1, like a crash.
  monkeypatch.chdir(tmp_path)
  result = helpers.run_in_process(inspect.run, "--data=synthetic", *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("inspect: ") and named in lines[0], lines
  assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_the_command_runs_from_python_m(tmp_path):
  # A subprocess: the one test that the command runs from `python -m`.
  result = subprocess.run([sys.executable, "-m", "pipelines.inspect", "--data=nonsense"],
                          cwd=tmp_path, env=helpers.subprocess_env(), capture_output=True,
                          text=True, timeout=1200)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith(
      "inspect: --data=nonsense: unknown data kind 'nonsense'")
  assert os.listdir(tmp_path) == []


def test_landmark_dots_land_where_the_alignment_puts_the_landmarks():
  template = alignment.template_landmarks(64)
  # A photo twice as large, shifted: the similarity maps its landmarks onto the template.
  photo_points = template * 2.0 + np.array([13.0, 7.0], np.float32)
  marked = inspect.draw_landmarks(np.zeros((64, 64, 3), np.uint8), photo_points)
  red = np.all(marked == inspect.DOT_COLOUR, axis=-1)
  assert red.sum() == 5 * 9
  for x, y in np.round(template).astype(int):
    assert red[y - 1:y + 2, x - 1:x + 2].all()


def test_sheet_with_landmarks_differs_only_by_the_dots(tmp_path):
  fixtures.make_folder(str(tmp_path / "faces"), num_images=12)
  source = folder.open_source(str(tmp_path / "faces"), 48)
  sheets = {}
  for with_landmarks in (False, True):
    path = tmp_path / f"sheet_{with_landmarks}.png"
    inspect.report(source, None, "train", 4, str(path), out=io.StringIO(),
                   with_landmarks=with_landmarks)
    sheets[with_landmarks] = np.asarray(Image.open(path))
  changed = np.any(sheets[True] != sheets[False], axis=-1)
  assert changed.sum() >= 4 * 5 * 4  # At least most of 5 dots on each of the 4 tiles.
  assert np.all(sheets[True][changed] == inspect.DOT_COLOUR)


def test_samples_are_bounded_by_the_sheets_pixels_before_any_data_is_read():
  # --sheet_images=20000 --image_size=256 was killed at 21.8 GB.
  with pytest.raises(ValueError, match=r"--sheet_images=20000 is too many at --image_size=256: "
                     r"at most 976 \(a sheet holds at most 64,000,000 pixels"):
    inspect.check_flags(20000, 256, None)
  inspect.check_flags(976, 256, None)
  with pytest.raises(ValueError, match="--sheet_images=0 must be at least 1"):
    inspect.check_flags(0, 64, None)


def test_a_sheet_that_cannot_be_written_is_refused_before_any_data_is_read(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  with pytest.raises(ValueError, match=r"cannot write .*a_file/sheets/sheet.png: .*a_file is "
                     "a file, not a folder"):
    inspect.check_flags(4, 64, str(blocker / "sheets" / "sheet.png"))
  inspect.check_flags(4, 64, str(tmp_path / "new" / "folders" / "sheet.png"))
