"""prepare: shards written atomically, resumed after interruption, same result."""

import os
import re

import numpy as np
import pytest

from pipelines import celeba
from pipelines import image_decoding
from pipelines import prepare
from pipelines import tfrecord
from pipelines import fixtures
from tests import helpers


def test_interrupted_run_resumes(tmp_path):
  root, out = str(tmp_path / "celeba"), str(tmp_path / "out")
  fixtures.make_celeba(root, num_good=18)
  spec = f"celeba:{root}"
  assert prepare.prepare(celeba.open_source(root, 32), spec, out, examples_per_shard=5,
                         stop_after_shards=2, verbose=False) is None
  first = sorted(os.listdir(out))
  assert "manifest.json" not in first
  assert [n for n in first if n.endswith(".tfrecord")] == ["train-00000.tfrecord", "train-00001.tfrecord"]
  # A crash mid-shard leaves a temporary file; the resumed run must remove it.
  open(os.path.join(out, "train-00002.tfrecord.tmp-999"), "wb").write(b"partial")
  stamp = os.path.getmtime(os.path.join(out, "train-00000.tfrecord"))
  manifest = prepare.prepare(celeba.open_source(root, 32), spec, out, examples_per_shard=5,
                             verbose=False)
  assert os.path.getmtime(os.path.join(out, "train-00000.tfrecord")) == stamp  # Not rewritten.
  assert not [n for n in os.listdir(out) if ".tmp-" in n]
  assert manifest["skipped"]["corrupt or truncated image"] == 1
  source = tfrecord.open_source(out, 32)
  reference = celeba.open_source(root, 32)
  bad = {"truncated.jpg", "garbage.jpg", "outside.jpg", "tiny.jpg"}
  for split in ("train", "val", "test"):
    want = [k for k in reference.keys(split) if k not in bad]
    assert source.keys(split) == want
    rows = [reference.keys(split).index(k) for k in want]
    np.testing.assert_array_equal(source.labels(split), reference.labels(split)[rows])
  assert source.skipped_counts()["corrupt or truncated image"] == 1


@pytest.mark.parametrize("names", [
    ["holiday.jpg", "notes.tmp-1.txt"],  # "notes.tmp-1.txt" used to be deleted.
    ["train-00000.tfrecord.tmp-12"],  # Looks like prepare's, but prepare never marked the folder.
    [prepare.STATE, "train-00000.tfrecord", "my.tmp-3"],  # An earlier prepare plus other files.
])
def test_out_folder_with_other_content_is_refused_and_left_alone(tmp_path, names):
  root, out = str(tmp_path / "celeba"), tmp_path / "out"
  fixtures.make_celeba(root, num_good=6)
  out.mkdir()
  for name in names:
    (out / name).write_bytes(b"precious")
  with pytest.raises(ValueError, match=f"--out={out} holds"):
    prepare.prepare(celeba.open_source(root, 32), f"celeba:{root}", str(out), verbose=False)
  assert sorted(os.listdir(out)) == sorted(names)
  assert all((out / name).read_bytes() == b"precious" for name in names)


@pytest.mark.slow
def test_cli_refuses_a_foreign_out_folder_with_one_line(tmp_path):
  # A subprocess: the one test that the command runs from `python -m`.
  out = tmp_path / "photos"
  out.mkdir()
  (out / "family.tmp-2024.png").write_bytes(b"precious")
  result = helpers.run_module("pipelines.prepare", f"--data=celeba:{tmp_path / 'none'}",
                              f"--out={out}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f"prepare: --out={out} holds files prepare did not write (family.tmp-2024.png); give a "
      "new or empty folder, or a folder of an earlier prepare to resume")
  assert os.listdir(out) == ["family.tmp-2024.png"]


@pytest.mark.parametrize("args, message", [
    (["--examples_per_shard=0"], "prepare: --examples_per_shard=0 must be at least 1"),
    (["--jpeg_quality=101"], "prepare: --jpeg_quality=101 must lie in [1, 100]"),
    (["--splits=train,everything"], "prepare: --splits=train,everything; valid: "),
])
def test_cli_bad_settings_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, args,
                                                                 message):
  root = str(tmp_path / "faces")
  fixtures.make_folder(root, num_images=6, with_landmarks=False)
  out = tmp_path / "prepared"
  result = helpers.run_in_process(prepare.run, f"--data=folder:{root}", f"--out={out}",
                                  "--image_size=32", *args, capsys=capsys)
  assert result.returncode == 2, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith(message)
  assert not out.exists()


@pytest.mark.parametrize("args, named", [
    (["--no_such_flag"], "no_such_flag"),
    (["--image_size=big"], "--image_size"),
    (["--splits=train", "--out="], "--out must not be empty"),
])
def test_cli_flag_errors_are_one_line_and_exit_2(tmp_path, capsys, args, named):
  # absl alone says "FATAL Flags parsing error" over two lines and exits 1, like a crash.
  out = tmp_path / "prepared"
  result = helpers.run_in_process(prepare.run, f"--data=folder:{tmp_path}", f"--out={out}",
                                  *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("prepare: ") and named in lines[0], lines
  assert not out.exists()


@pytest.mark.parametrize("spec", ["synthetic", "tfrecord:/prepared"])
def test_data_with_nothing_to_prepare_is_refused_up_front(spec):
  # --data=synthetic used to fail with "unknown options for synthetic data: ['deterministic']".
  with pytest.raises(ValueError, match=f"--data={spec}: prepare aligns stored photos once"):
    prepare.check_data(spec)
  prepare.check_data("folder:/photos")


@pytest.mark.parametrize("content, message", [
    ("{}", "is not a prepare state (it needs the settings, skipped and converted tables)"),
    ("garbage\x00", "is not JSON ("),
])
def test_a_damaged_state_file_is_named(tmp_path, content, message):
  path = tmp_path / prepare.STATE
  path.write_text(content)
  with pytest.raises(ValueError, match=re.escape(f"{path} {message}")):
    prepare._load_state(str(path), {"data": "folder:/photos"})


def test_merge_ledger_adds_each_key_once_by_reason():
  ledger = image_decoding.SkipLedger()
  ledger.skip("corrupt", "b.jpg")
  ledger.skip("corrupt", "a.jpg")
  ledger.convert("grey", "c.png")
  state = {"skipped": {"corrupt": ["a.jpg"], "missing": ["z.jpg"]}, "converted": {}}
  prepare.merge_ledger(state, ledger)
  prepare.merge_ledger(state, ledger)  # After every shard and at the end: still once.
  assert state == {"skipped": {"corrupt": ["a.jpg", "b.jpg"], "missing": ["z.jpg"]},
                   "converted": {"grey": ["c.png"]}}
