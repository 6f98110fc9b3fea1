"""usage.py: every command's bad use ends the same way, one line and exit status 2."""

import pytest

from elegant_tf.training import train_config
from pipelines import usage


def test_a_usage_error_is_one_line_on_stderr_and_exit_2(capsys):
  with pytest.raises(SystemExit) as exited:
    usage.fail("export", usage.UsageError("--version=0 must be a positive integer"))
  assert exited.value.code == 2
  assert capsys.readouterr().err == "export: --version=0 must be a positive integer\n"


def test_several_problems_are_joined_into_one_line(capsys):
  with pytest.raises(SystemExit):
    usage.fail("train", train_config.ConfigError("invalid settings:\n  --a=1 bad\n  --b=2 bad"))
  assert capsys.readouterr().err == "train: invalid settings: --a=1 bad; --b=2 bad\n"


def test_config_errors_are_usage_errors_and_stray_words_are_refused():
  assert issubclass(train_config.ConfigError, usage.UsageError)
  usage.check_no_arguments(["prog"])
  with pytest.raises(usage.UsageError, match="unexpected arguments: typo"):
    usage.check_no_arguments(["prog", "typo"])


def test_run_turns_a_usage_error_from_main_into_exit_2(capsys):
  def main(argv):
    raise usage.UsageError(f"bad {argv[1:]}")

  with pytest.raises(SystemExit) as exited:
    usage.run("demo", main, argv=["demo"])
  assert exited.value.code == 2
  assert capsys.readouterr().err.strip() == "demo: bad []"


def test_a_flagfile_that_includes_itself_is_refused_before_main_runs(tmp_path, capsys):
  # absl would warn "Ignoring flagfile" and run with the defaults.
  first, second = tmp_path / "first.flags", tmp_path / "second.flags"
  first.write_text(f"# A cycle through another file.\n--flagfile={second}\n")
  second.write_text(f"--flagfile={first}\n")
  ran = []
  for path in (first, second):
    with pytest.raises(SystemExit) as exited:
      usage.run("train", ran.append, argv=["train", f"--flagfile={path}"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().startswith(
        f"train: --flagfile={path} includes itself (")
  with pytest.raises(SystemExit) as exited:
    usage.run("train", ran.append, argv=["train", f"--flagfile={tmp_path / 'missing.flags'}"])
  assert exited.value.code == 2 and "cannot read it (No such file or directory)" in (
      capsys.readouterr().err)
  assert ran == []



@pytest.mark.parametrize("args, message", [
    (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
    (["--usage_test_count=many"], "--usage_test_count=many"),
    (["--usage_test_kind=other"], "value should be one of <a|b>"),
    ([], "Flag --usage_test_needed must have a value other than None"),
])
def test_absl_flag_errors_are_bad_use_too(args, message, capsys):
  # absl alone prints "FATAL Flags parsing error" over several lines and exits 1.
  from absl import app
  from absl import flags
  from absl.testing import flagsaver
  app.define_help_flags()
  ran = []
  with flagsaver.flagsaver():
    flags.DEFINE_integer("usage_test_count", 1, "A count.")
    flags.DEFINE_enum("usage_test_kind", "a", ["a", "b"], "A kind.")
    flags.DEFINE_string("usage_test_needed", None, "Required.")
    flags.mark_flag_as_required("usage_test_needed")
    with pytest.raises(SystemExit) as exited:
      usage.run("demo", ran.append, argv=["demo", "--usage_test_needed=x", *args]
                if args else ["demo"])
  assert exited.value.code == 2 and ran == []
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and err.startswith("demo: ")
  assert message in err


def test_an_unexpected_error_keeps_its_traceback():
  def main(argv):
    raise KeyError("an internal bug")

  with pytest.raises(KeyError, match="an internal bug"):
    usage.run("demo", main, argv=["demo"])


def test_for_flag_puts_the_flag_before_the_library_message():
  error = ValueError("x is not a model")
  assert str(usage.for_flag("model", error)) == "--model: x is not a model"
  assert str(usage.for_flag("data", error, "folder:x")) == "--data=folder:x: x is not a model"
  assert isinstance(usage.for_flag("model", error), usage.UsageError)
