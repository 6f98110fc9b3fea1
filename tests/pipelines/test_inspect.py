"""inspect: the report's numbers and the contact sheet."""

import io
import os

import pytest

from pipelines import celeba
from pipelines import inspect
from tests.pipelines import fixtures


def test_report_and_sheet(tmp_path):
  root = str(tmp_path / "celeba")
  expected = fixtures.make_celeba(root, num_good=12)
  source = celeba.open_source(root, 32)
  sheet = str(tmp_path / "sheet.png")
  text = io.StringIO()
  result = inspect.report(source, ["Black_Hair", "Blond_Hair"], "train", 6, sheet,
                          check_all=True, out=text)
  output = text.getvalue()
  assert result["sizes"]["train"] == len(source.labels("train"))
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
