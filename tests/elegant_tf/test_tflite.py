"""The tflite command: it converts and verifies from `python -m`, and refuses bad use."""

import pytest

from elegant_tf import tflite
from pipelines import usage
from tests import helpers


@pytest.mark.slow
def test_cli_converts_and_verifies(untrained_model, tmp_path):
  # A subprocess: the one test that the command runs from `python -m`.
  out = tmp_path / "cli.tflite"
  result = helpers.run_module("elegant_tf.tflite",
                              f"--saved_model={untrained_model['version_dir']}",
                              f"--out={out}", "--verify_pairs=2")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "| max abs diff |" in result.stdout and out.exists()


def test_cli_bad_use_exits_2_and_writes_nothing(tmp_path, capsys):
  bad = helpers.run_in_process(tflite.run, f"--saved_model={tmp_path}",
                               f"--out={tmp_path / 'x.tflite'}", "--verify_pairs=0",
                               capsys=capsys)
  assert bad.returncode == 2 and "neither a SavedModel" in bad.stderr
  assert not (tmp_path / "x.tflite").exists()


def test_an_out_that_cannot_be_written_is_refused_before_converting(tmp_path):
  with pytest.raises(usage.UsageError, match="is a directory; give a .tflite file name"):
    tflite.check_out(str(tmp_path))
  (tmp_path / "a_file").write_text("in the way")
  with pytest.raises(usage.UsageError, match="a_file is a file, not a folder"):
    tflite.check_out(str(tmp_path / "a_file" / "model.tflite"))
  tflite.check_out(str(tmp_path / "new" / "model.tflite"))
