"""Every command's bad use ends the same way: one line on stderr naming the problem, exit
status 2, and nothing written. In process (helpers.run_in_process): the same absl parsing
and checks as `python -m`, without starting TensorFlow again per case."""

import pytest

from elegant_tf import classifier
from elegant_tf import demo
from elegant_tf import evaluate
from elegant_tf import export
from elegant_tf import tflite
from elegant_tf import transfer
from tests import helpers


@pytest.mark.parametrize("command, name, flag", [
    (classifier.run, "classifier", "out"),
    (demo.run, "demo", "model"),
    (evaluate.run, "evaluate", "model"),
    (export.run, "export", "run_dir"),
    (tflite.run, "tflite", "saved_model"),
    (transfer.run, "transfer", "model"),
])
def test_a_missing_required_flag_is_one_line_and_exit_2(command, name, flag, capsys):
  result = helpers.run_in_process(command, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"{name}: ") and f"--{flag}" in lines[0]


@pytest.mark.parametrize("command, name, args, named", [
    (evaluate.run, "evaluate", ["--no_such_flag"], "no_such_flag"),
    (evaluate.run, "evaluate", ["--model=m", "--out=o", "--num_pairs=many"], "--num_pairs"),
    (tflite.run, "tflite", ["--saved_model=s", "--out=o.tflite", "--quantize=int3"],
     "--quantize"),
    (tflite.run, "tflite", ["--saved_model=s", "--out=o.onnx"], "must end in .tflite"),
    (transfer.run, "transfer", ["--model=m", "--input=i.png", "--out=o.png",
                                "--strength=strong"], "--strength"),
])
def test_an_unknown_flag_or_a_bad_value_is_one_line_and_exit_2(command, name, args, named,
                                                                 capsys):
  # absl alone says "FATAL Flags parsing error" over two lines and exits 1, like a crash.
  result = helpers.run_in_process(command, *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"{name}: ") and named in lines[0], lines


def test_tflite_and_the_classifier_refuse_to_replace_an_output_without_overwrite(
    tmp_path, capsys):
  old = tmp_path / "model.tflite"
  old.write_bytes(b"an earlier conversion")
  result = helpers.run_in_process(tflite.run, f"--saved_model={tmp_path / 'none'}",
                                  f"--out={old}", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip() == f"tflite: {old} exists; pass --overwrite to replace it"
  assert old.read_bytes() == b"an earlier conversion"
  # With --overwrite the check passes, and the missing SavedModel is the next problem.
  result = helpers.run_in_process(tflite.run, f"--saved_model={tmp_path / 'none'}",
                                  f"--out={old}", "--overwrite", capsys=capsys)
  assert result.returncode == 2 and "exists" not in result.stderr

  (tmp_path / "classifier.json").write_text("{}")
  result = helpers.run_in_process(classifier.run, f"--out={tmp_path}", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip() == (f"classifier: {tmp_path / 'classifier.json'} exists; pass "
                                   "--overwrite to replace it")
  assert (tmp_path / "classifier.json").read_text() == "{}"


def test_an_internal_error_while_exporting_keeps_its_traceback(tmp_path, capsys, monkeypatch):
  # Before: the whole export sat in `except ValueError`, so a bug in Keras tracing
  # printed one line, exit 2, and no traceback.
  from elegant_tf.exporting import export_lib
  (tmp_path / "flags.txt").write_text("--train_steps=1\n")
  monkeypatch.setattr(export_lib, "open_run", lambda run_dir: (None, None, None))

  def broken_export(*args, **kwargs):
    raise ValueError("a bug while tracing")

  monkeypatch.setattr(export_lib, "export_trained", broken_export)
  with pytest.raises(ValueError, match="a bug while tracing"):
    helpers.run_in_process(export.run, f"--run_dir={tmp_path}",
                           f"--export_dir={tmp_path / 'models'}", capsys=capsys)
  # A user's problem with the run is still bad use.
  monkeypatch.setattr(export_lib, "open_run", lambda run_dir: (_ for _ in ()).throw(
      FileNotFoundError(f"{run_dir} has no checkpoint yet")))
  result = helpers.run_in_process(export.run, f"--run_dir={tmp_path}",
                                  f"--export_dir={tmp_path / 'models'}", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip() == f"export: {tmp_path} has no checkpoint yet"


@pytest.mark.parametrize("command, name, args, empty", [
    (evaluate.run, "evaluate", ["--model=m", "--out="], "out"),
    (export.run, "export", ["--run_dir=r", "--export_dir="], "export_dir"),
    (tflite.run, "tflite", ["--saved_model=", "--out=o.tflite"], "saved_model"),
])
def test_an_empty_required_flag_is_refused_like_a_missing_one(command, name, args, empty,
                                                              capsys):
  # absl's required mark accepts `--out=`; an empty --out would name the current folder.
  result = helpers.run_in_process(command, *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"{name}: ")
  assert f"--{empty} must not be empty" in lines[0]
