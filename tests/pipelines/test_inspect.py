"""inspect: the report's numbers and the contact sheet."""

import io
import os

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
