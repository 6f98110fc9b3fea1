"""The transfer command: its flags, grids and images written, one-line refusals, photos
in and out (`python -m elegant_tf.transfer`)."""

import os

import numpy as np
import pytest
from PIL import Image

from elegant_tf import transfer
from elegant_tf.apps import photo_edit
from tests import helpers

GAP = 2  # image_grid.tile's default gap.


@pytest.fixture(scope="module")
def models(untrained_model, untrained_tflite, tmp_path_factory):
  """The session's tiny untrained export (the command's checks do not need training), its
  .tflite file, and test faces in a folder of this module's."""
  tmp_path = tmp_path_factory.mktemp("transfer")
  helpers.write_noise_faces(tmp_path)
  return {"version_dir": untrained_model["version_dir"], "tflite_path": untrained_tflite,
          "tmp": tmp_path}


def _cli(capsys, *args):
  """The transfer command in this process: its flags, checks, output and exit status."""
  return helpers.run_in_process(transfer.run, *args, capsys=capsys)


def test_cli_writes_grid_and_each_image_from_a_tflite_file(models, capsys):
  tmp = models["tmp"]
  out = tmp / "out" / "linear.png"
  # The test faces are noise, already "aligned": centre-cropped, not detected.
  result = _cli(capsys, f"--model={models['tflite_path']}", "--mode=linear",
                f"--input={tmp / 'face0.jpg'}", f"--exemplars={tmp / 'face1.png'}",
                "--attributes=Bangs", "--steps=2", f"--out={out}", "--each", "--align=center")
  assert result.returncode == 0, result.stderr[-2000:]
  grid = np.asarray(Image.open(out))
  assert grid.shape == (32, 5 * 32 + 4 * GAP, 3)
  each = sorted(os.listdir(tmp / "out"))
  assert "linear_step_2.png" in each and "linear_input.png" in each and len(each) == 6
  assert np.asarray(Image.open(tmp / "out" / "linear_step_0.png")).shape == (32, 32, 3)


def test_cli_refuses_an_existing_output_without_overwrite(models, capsys):
  tmp = models["tmp"]
  out = tmp / "existing" / "swap.png"
  out.parent.mkdir()
  out.write_bytes(b"an earlier result")
  command = [f"--model={models['version_dir']}", "--mode=swap", f"--input={tmp / 'face0.jpg'}",
             f"--exemplars={tmp / 'face1.png'}", "--attributes=Bangs", "--align=center",
             f"--out={out}"]
  refused = _cli(capsys, *command)
  assert refused.returncode == 2
  assert refused.stderr.strip().splitlines()[-1] == (
      f"transfer: {out} exists; pass --overwrite to replace it")
  assert out.read_bytes() == b"an earlier result"
  # An existing --each image is refused too, before anything is written.
  (out.parent / "new_edited.png").write_bytes(b"another result")
  each = _cli(capsys, *command[:-1], f"--out={out.parent / 'new.png'}", "--each")
  assert each.returncode == 2 and "new_edited.png exists" in each.stderr
  assert sorted(os.listdir(out.parent)) == ["new_edited.png", "swap.png"]
  replaced = _cli(capsys, *command, "--overwrite")
  assert replaced.returncode == 0, replaced.stderr[-2000:]
  assert np.asarray(Image.open(out)).shape == (32, 4 * 32 + 3 * GAP, 3)


def test_cli_bad_use_exits_2_with_one_line_and_writes_nothing(models, capsys):
  tmp = models["tmp"]
  out = tmp / "bad" / "x.png"
  common = [f"--model={models['version_dir']}", f"--out={out}", "--align=center"]
  unreadable = _cli(capsys, *common, "--mode=swap", f"--input={tmp / 'broken.png'}",
                    f"--exemplars={tmp / 'face1.png'}", "--attributes=Bangs")
  assert unreadable.returncode == 2
  assert unreadable.stderr.strip().splitlines()[-1].startswith("transfer: cannot read image")
  unknown = _cli(capsys, *common, "--mode=swap", f"--input={tmp / 'face0.jpg'}",
                 f"--exemplars={tmp / 'face1.png'}", "--attributes=Smile")
  assert unknown.returncode == 2 and "unknown attribute(s) Smile" in unknown.stderr
  too_many = _cli(capsys, *common, "--mode=linear", f"--input={tmp / 'face0.jpg'}",
                  f"--exemplars={tmp / 'face1.png'}", "--attributes=Bangs", "--steps=65")
  assert too_many.returncode == 2
  assert too_many.stderr.strip().splitlines()[-1] == (
      "transfer: --steps: 65 steps are too many for mode 'linear': at most 64")
  assert not out.parent.exists()


@pytest.mark.parametrize("args, line", [
    (["--mode=linear"], "--exemplars: mode 'linear' takes exactly 1 exemplar, got 0"),
    (["--mode=add", "--exemplars=b.png"],
     "--exemplars: mode 'add' edits by label alone and takes no exemplar, got 1"),
    (["--mode=swap", "--exemplars=b.png", "--steps=0"],
     "--steps: 0 steps: there must be at least 1"),
    (["--mode=linear", "--exemplars=b.png", "--paste_back"],
     "--paste_back: pasting back works with mode swap, add or remove, not 'linear'"),
    (["--mode=swap", "--exemplars=b.png", "--align=landmarks"],
     "--landmarks: align 'landmarks' needs a landmarks file"),
    (["--mode=swap", "--exemplars=b.png", "--align=center", "--face=1"],
     "--face: face 1 picks a detected face; it needs align 'auto', not 'center'"),
])
def test_cli_names_the_flag_of_the_parameter_transfer_lib_refuses(args, line, tmp_path, capsys):
  # transfer_lib names the parameter (TransferRequestError.parameter) and no flag; the
  # command adds the flag of that name. Checked before the model is read: none is needed.
  result = _cli(capsys, f"--model={tmp_path / 'none'}", f"--input={tmp_path / 'a.png'}",
                "--attributes=Bangs", f"--out={tmp_path / 'out.png'}", *args)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines() == [f"transfer: {line}"]
  assert os.listdir(tmp_path) == []


def test_cli_refuses_bad_outputs_landmarks_and_run_dirs_with_one_line(models, capsys):
  tmp = models["tmp"]
  out = tmp / "refused" / "x.png"
  out.parent.mkdir()
  swap = ["--mode=swap", f"--input={tmp / 'face0.jpg'}", f"--exemplars={tmp / 'face1.png'}",
          "--attributes=Bangs"]
  (out.parent / "dir.png").mkdir()
  directory = _cli(capsys, f"--model={models['version_dir']}", *swap,
                   f"--out={out.parent / 'dir.png'}")
  assert directory.returncode == 2
  assert directory.stderr.strip().splitlines()[-1] == (
      f"transfer: --out: {out.parent / 'dir.png'} is a directory; give a .png or .jpg file name")
  (tmp / "landmarks.bin").write_bytes(bytes(range(256)))
  binary = _cli(capsys, f"--model={models['version_dir']}", *swap, f"--out={out}",
                f"--landmarks={tmp / 'landmarks.bin'}")
  assert binary.returncode == 2
  assert binary.stderr.strip().splitlines()[-1] == (
      f"transfer: --landmarks: {tmp / 'landmarks.bin'}: not a text file (not UTF-8)")
  (tmp / "same_point.txt").write_text(
      "".join(f"face{k}.{'png' if k % 2 else 'jpg'}" + " 20 20" * 5 + "\n" for k in range(2)))
  degenerate = _cli(capsys, f"--model={models['version_dir']}", *swap, f"--out={out}",
                    f"--landmarks={tmp / 'same_point.txt'}")
  assert degenerate.returncode == 2
  assert degenerate.stderr.strip().splitlines()[-1] == (
      "transfer: --landmarks: landmarks for face0.jpg: the pupils are 0.0 pixels apart; at "
      "least 4 are needed to align the face")
  run_dir = tmp / "run"
  run_dir.mkdir()
  (run_dir / "flags.txt").write_text("# Resolved flags\n--image_size=32\n--no_such_switch\n")
  run = _cli(capsys, f"--model={run_dir}", *swap, f"--out={out}")
  assert run.returncode == 2
  assert run.stderr.strip().splitlines()[-1] == (
      f"transfer: {run_dir / 'flags.txt'}: Unknown command line flag 'no_such_switch'")
  assert os.listdir(out.parent) == ["dir.png"]


# Photos in, photos out: non-aligned faces found by the detector, the edit pasted back.


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
  """Non-aligned synthetic faces MTCNN finds: a 480 x 528 photo with a large and a small
  face, a 480 x 640 exemplar; and noise."""
  from pipelines import fixtures
  tmp = tmp_path_factory.mktemp("photos")
  large, _ = fixtures.wild_photo(0, 256, pad=(120, 104, 40, 24))
  small, _ = fixtures.wild_photo(8, 128, pad=(200, 152, 40, 40))
  other, _ = fixtures.wild_photo(2, 256, pad=(100, 124, 300, 84))
  Image.fromarray(np.concatenate([large, small], axis=1)).save(tmp / "photo.png")
  Image.fromarray(other).save(tmp / "other.jpg", quality=92)
  noise = np.random.default_rng(0).integers(0, 256, (200, 260, 3), np.uint8)
  Image.fromarray(noise).save(tmp / "noise.png")
  return tmp


@pytest.mark.slow
def test_cli_edits_a_non_aligned_photo_and_pastes_it_back(photos):
  # A subprocess: the one test that the command runs from `python -m`.
  out = photos / "pasted" / "out.png"
  result = helpers.run_module("elegant_tf.transfer", f"--model={helpers.DEMO_MODEL}",
                              f"--input={photos / 'photo.png'}",
                              f"--exemplars={photos / 'other.jpg'}", "--attributes=Eyeglasses",
                              "--paste_back", f"--out={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split() == [str(out)]
  assert (f"transfer: 2 faces found in {photos / 'photo.png'}; using face 0 (0 = the largest; "
          "--face=N picks another)") in result.stderr
  photo = np.asarray(Image.open(photos / "photo.png"))
  edited = np.asarray(Image.open(out))
  assert edited.shape == photo.shape
  # The same detection and alignment in this process give the blend region.
  mask = photo_edit.paste_mask(photo_edit.prepare_face(photo, 64))
  assert 0 < (mask > 0).mean() < 0.5 and not (mask[:, 320:] > 0).any()  # The large face.
  assert np.array_equal(edited[mask == 0], photo[mask == 0])
  assert np.abs(edited[mask > 0.99].astype(int) - photo[mask > 0.99]).mean() > 2
  # The change is pasted, not the 64 px face: most of the face keeps the photo's pixels.
  assert (edited == photo).all(axis=-1)[mask > 0].mean() > 0.5


def test_cli_done_when_command_writes_a_jpeg_grid_of_detected_faces(photos, capsys):
  out = photos / "grid" / "out.jpg"
  result = _cli(capsys, f"--model={helpers.DEMO_MODEL}", f"--input={photos / 'photo.png'}",
                f"--exemplars={photos / 'other.jpg'}", "--attributes=Eyeglasses", f"--out={out}")
  assert result.returncode == 0, result.stderr[-2000:]
  with Image.open(out) as written:
    assert written.format == "JPEG" and written.size == (4 * 64 + 3 * GAP, 64)


def test_cli_no_face_exits_2_naming_the_file_and_writes_nothing(photos, capsys):
  out = photos / "refused" / "out.png"
  no_face = _cli(capsys, f"--model={helpers.DEMO_MODEL}", "--attributes=Eyeglasses", f"--out={out}",
                 "--paste_back", f"--input={photos / 'noise.png'}",
                 f"--exemplars={photos / 'other.jpg'}")
  assert no_face.returncode == 2
  assert no_face.stderr.strip().splitlines()[-1] == (
      f"transfer: no face found in {photos / 'noise.png'}")
  assert not out.parent.exists()
