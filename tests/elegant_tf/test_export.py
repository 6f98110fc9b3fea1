"""The export command: it exports a run from `python -m`, and refuses bad use."""

import os

import tensorflow as tf

from elegant_tf import export
from tests import helpers


def test_cli_exports_a_run(tiny_export):
  # The session's export is the command's own (conftest.tiny_export, a subprocess).
  export_dir = tiny_export["export_dir"]
  assert tiny_export["stdout"].strip().splitlines()[-1] == os.path.join(export_dir, "7")
  assert sorted(os.listdir(export_dir)) == ["7"]
  loaded = tf.saved_model.load(tiny_export["version_dir"])
  assert loaded.signatures["add_attribute"] is not None


def test_cli_refuses_an_existing_version_and_a_folder_that_is_no_run(tiny_run, tmp_path,
                                                                       capsys):
  run_dir = tiny_run["config"].run_dir
  (tmp_path / "7").mkdir()
  again = helpers.run_in_process(export.run, f"--run_dir={run_dir}", f"--export_dir={tmp_path}",
                                 "--version=7", capsys=capsys)
  assert again.returncode == 2 and "never overwritten" in again.stderr
  assert sorted(os.listdir(tmp_path)) == ["7"] and not os.listdir(tmp_path / "7")
  missing = helpers.run_in_process(export.run, f"--run_dir={tmp_path / 'nope'}",
                                   f"--export_dir={tmp_path}", capsys=capsys)
  assert missing.returncode == 2 and "not a training run directory" in missing.stderr
