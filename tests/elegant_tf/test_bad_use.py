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
from elegant_tf.inference import model_loading
from pipelines import data_spec
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
    (evaluate.run, "evaluate", ["--model=m", "--out=o", "--eval_pairs=many"], "--eval_pairs"),
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
      model_loading.ModelFileError(f"{run_dir} has no checkpoint yet")))
  result = helpers.run_in_process(export.run, f"--run_dir={tmp_path}",
                                  f"--export_dir={tmp_path / 'models'}", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip() == f"export: --run_dir: {tmp_path} has no checkpoint yet"


@pytest.mark.parametrize("command, name, args", [
    (demo.run, "demo", []),
    (evaluate.run, "evaluate", ["--out={tmp}/out"]),
    (transfer.run, "transfer", ["--input=a.png", "--exemplars=b.png", "--attributes=Bangs",
                                "--out={tmp}/out.png"]),
])
def test_a_path_that_is_no_model_names_the_flag_but_a_bug_in_loading_keeps_its_traceback(
    command, name, args, tmp_path, capsys, monkeypatch):
  args = [arg.format(tmp=tmp_path) for arg in args]
  # The library names the path only; the command adds the flag that held it.
  result = helpers.run_in_process(command, f"--model={tmp_path}", *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip() == (
      f"{name}: --model: {tmp_path} is neither a SavedModel (saved_model.pb), a model folder "
      "with numeric versions, a run directory (flags.txt + checkpoints/), nor a .tflite file")
  # Before: the commands caught every ValueError from loading, so a bug there was one
  # line "bad use" and exit 2 with no traceback.
  def broken_load(*unused_args, **unused_kwargs):
    raise ValueError("a bug while loading")

  monkeypatch.setattr(model_loading, "load", broken_load)
  with pytest.raises(ValueError, match="^a bug while loading$"):
    helpers.run_in_process(command, f"--model={tmp_path}", *args, capsys=capsys)


@pytest.mark.parametrize("command, name, args", [
    (classifier.run, "classifier", ["--out={tmp}/c"]),
    (evaluate.run, "evaluate", ["--model=saved_models/elegant_demo", "--out={tmp}/out"]),
])
def test_bad_data_names_the_flag_but_a_bug_in_opening_keeps_its_traceback(
    command, name, args, tmp_path, capsys, monkeypatch):
  args = [arg.format(tmp=tmp_path) for arg in args]
  monkeypatch.chdir(helpers.REPO)
  result = helpers.run_in_process(command, "--data=nonsense", *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().startswith(
      f"{name}: --data=nonsense: unknown data kind 'nonsense' in 'nonsense'; valid kinds: ")
  def broken_open(*unused_args, **unused_kwargs):
    raise ValueError("a bug while opening the data")

  monkeypatch.setattr(data_spec, "open_source", broken_open)
  with pytest.raises(ValueError, match="^a bug while opening the data$"):
    helpers.run_in_process(command, "--data=synthetic", *args, capsys=capsys)


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
