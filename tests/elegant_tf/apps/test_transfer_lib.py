"""The transfer modes on a loaded model: grid rows, linear end points, matrix corners,
label-only edits, and the checks that turn bad input into one UsageError."""

import errno
import os
import re

import numpy as np
import pytest
from PIL import Image

from elegant_tf.apps import photo_edit
from elegant_tf.apps import transfer_lib
from elegant_tf.inference import model_loading
from pipelines import fixtures
from pipelines import image_decoding
from pipelines import usage
from tests import helpers
from tests.elegant_tf import tiny


@pytest.fixture(scope="module")
def models(untrained_model, untrained_tflite, tmp_path_factory):
  """The session's tiny untrained export and its .tflite file, loaded (the modes' algebra
  does not need training), and test faces in a folder of this module's."""
  tmp_path = tmp_path_factory.mktemp("transfer_lib")
  helpers.write_noise_faces(tmp_path)
  return {"saved": model_loading.load(untrained_model["version_dir"]),
          "tflite": model_loading.load(untrained_tflite), "tmp": tmp_path}


def _faces(models, count):
  tmp = models["tmp"]
  return [transfer_lib.read_image(str(tmp / f"face{k}.{'png' if k % 2 else 'jpg'}"), 32)
          for k in range(count)]


@pytest.mark.parametrize("backend", ["saved", "tflite"])
def test_swap_grid_and_multi_attribute_swap(models, backend):
  model = models[backend]
  image, exemplar = _faces(models, 2)
  rows, names = transfer_lib.run_mode(model, "swap", image, exemplar[None][:1],
                                          ["Bangs", "Eyeglasses"])
  assert names == ["input", "exemplar", "edited", "exemplar_edited"]
  expected = model.transfer(image[None], exemplar[None], np.ones((1, 2), np.float32))
  np.testing.assert_allclose(rows[0][2], expected["edited"][0], atol=1e-5)
  np.testing.assert_allclose(rows[0][0], image)


@pytest.mark.parametrize("backend", ["saved", "tflite"])
def test_linear_starts_at_reconstruction_and_ends_at_the_swap(models, backend):
  model = models[backend]
  image, exemplar = _faces(models, 2)
  rows, names = transfer_lib.run_mode(model, "linear", image, [exemplar], ["Bangs"], steps=3)
  assert len(rows) == 1 and len(rows[0]) == 2 + 4 and names[-1] == "step_3"
  reconstruction = model.transfer(image[None], exemplar[None], np.zeros((1, 2), np.float32))
  swap = model.transfer(image[None], exemplar[None], np.array([[0, 1]], np.float32))
  np.testing.assert_allclose(rows[0][2], reconstruction["edited"][0], atol=1e-4)
  np.testing.assert_allclose(rows[0][-1], swap["edited"][0], atol=1e-4)
  assert not np.allclose(rows[0][3], rows[0][2], atol=1e-7)


def test_matrix_one_attribute_three_exemplars_has_swaps_at_the_corners(models):
  model = models["saved"]
  image, *exemplars = _faces(models, 4)
  rows, _ = transfer_lib.run_mode(model, "matrix", image, exemplars, ["Eyeglasses"], steps=2)
  assert [len(row) for row in rows] == [4, 3, 3, 3]
  grid = rows[1:]
  weights = np.array([[1, 0]], np.float32)
  for (r, c), exemplar in zip([(0, 2), (2, 0), (2, 2)], exemplars):
    swap = model.transfer(image[None], exemplar[None], weights)["edited"][0]
    np.testing.assert_allclose(grid[r][c], swap, atol=1e-4)
  own = model.transfer(image[None], image[None], weights * 0)["edited"][0]
  np.testing.assert_allclose(grid[0][0], own, atol=1e-4)


def test_matrix_two_attributes_far_corner_swaps_both(models):
  model = models["saved"]
  image, exemplar = _faces(models, 2)
  # With the same exemplar twice, the far corner is the two-attribute swap.
  rows, _ = transfer_lib.run_mode(model, "matrix", image, [exemplar, exemplar],
                                      ["Eyeglasses", "Bangs"], steps=2)
  assert [len(row) for row in rows] == [3, 3, 3, 3]
  both = model.transfer(image[None], exemplar[None], np.ones((1, 2), np.float32))["edited"][0]
  only_glasses = model.transfer(image[None], exemplar[None],
                                np.array([[1, 0]], np.float32))["edited"][0]
  np.testing.assert_allclose(rows[3][2], both, atol=1e-4)
  np.testing.assert_allclose(rows[3][0], only_glasses, atol=1e-4)


@pytest.mark.parametrize("mode,attributes,exemplars,message", [
    ("swap", ["Glasses"], 1, "unknown attribute"),
    ("swap", ["Bangs"], 2, "^mode 'swap' takes exactly 1 exemplar, got 2$"),
    ("matrix", ["Bangs"], 2, "^mode 'matrix' takes 1 attribute with 3 exemplars"),
    ("matrix", ["Bangs", "Eyeglasses"], 3, "2 attributes with 2 exemplars; got 2 attribute"),
])
def test_bad_use_is_one_clear_problem(models, mode, attributes, exemplars, message):
  image = _faces(models, 1)[0]
  with pytest.raises(usage.UsageError, match=message):
    transfer_lib.run_mode(models["saved"], mode, image, [image] * exemplars, attributes)


@pytest.mark.parametrize("mode,attributes,exemplars,steps", [
    ("linear", ["Bangs"], 1, 65),
    ("matrix", ["Bangs"], 3, 17),
    ("matrix", ["Bangs", "Eyeglasses"], 2, 17),
])
def test_too_many_steps_is_refused_naming_the_limit(models, mode, attributes, exemplars, steps):
  image = _faces(models, 1)[0]
  with pytest.raises(usage.UsageError,
                     match=f"^{steps} steps are too many for mode '{mode}': at most {steps - 1}$"):
    transfer_lib.run_mode(models["saved"], mode, image, [image] * exemplars, attributes,
                              steps=steps)


def test_largest_matrix_decodes_in_chunks_like_one_batch(models, monkeypatch):
  image, *exemplars = _faces(models, 4)
  steps = 16  # The most matrix allows: 289 cells, decoded 16 at a time.
  rows, _ = transfer_lib.run_mode(models["saved"], "matrix", image, exemplars, ["Bangs"],
                                      steps=steps)
  monkeypatch.setattr(transfer_lib, "DECODE_CHUNK", (steps + 1) ** 2)
  whole, _ = transfer_lib.run_mode(models["saved"], "matrix", image, exemplars, ["Bangs"],
                                       steps=steps)
  assert len(rows) == steps + 2 and len(rows[1]) == steps + 1
  for row, other in zip(rows, whole):
    np.testing.assert_allclose(np.stack(row), np.stack(other), atol=1e-5)


def test_image_bomb_is_refused_naming_the_file_and_the_limit(tmp_path):
  path = tmp_path / "bomb.png"
  path.write_bytes(helpers.png_header_only(8000, 6000))  # 48 MP declared.
  with pytest.raises(usage.UsageError) as raised:
    transfer_lib.read_image(str(path), 32)
  assert str(raised.value) == (f"cannot read image {path}: too large (over 40,000,000 pixels "
                               "or 65,535 a side)")
  # A 665 KB-class GIF bomb: a 64 x 64 screen around an 8000 x 8000 frame (64 MP).
  path.write_bytes(helpers.gif_of_zeros((64, 64), [(0, 0, 8000, 8000)]))
  with pytest.raises(usage.UsageError, match="GIF frame larger than its screen"):
    transfer_lib.read_image(str(path), 32)


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
  monkeypatch.setattr(image_decoding, "MAX_FILE_BYTES", 1000)
  path = tmp_path / "large.bmp"
  path.write_bytes(fixtures.encode(np.zeros((20, 20, 3), np.uint8), "BMP"))  # 1,254 bytes.
  with pytest.raises(usage.UsageError, match=re.escape(
      f"cannot read image {path}: larger than 1,000 bytes, the most an image file may hold")):
    transfer_lib.read_image(str(path), 32)
  # A device reports size 0 and never ends: the read stops one byte past the limit.
  with pytest.raises(usage.UsageError, match="larger than 1,000 bytes"):
    transfer_lib.read_image("/dev/zero", 32)


def _png(path, height, width):
  Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)
  return str(path)


def test_tiny_image_is_refused_naming_its_size(tmp_path):
  path = _png(tmp_path / "dot.png", 1, 1)
  with pytest.raises(usage.UsageError, match=r"dot.png is too small \(1x1\) for this "
                     r"32-pixel model"):
    transfer_lib.read_image(path, 32)
  transfer_lib.read_image(_png(tmp_path / "quarter.png", 8, 8), 32)  # S/4 is still accepted.


@pytest.mark.parametrize("points, message", [
    (np.full((5, 2), 20.0), "the pupils are 0.0 pixels apart; at least 4 are needed"),
    ([[10, 20], [12, 20], [11, 25], [10, 30], [12, 30]], "the pupils are 2.0 pixels apart"),
    ([[10, 20], [np.nan, 20], [20, 25], [12, 30], [28, 30]], "are not all finite numbers"),
    ([[10, 20], [np.inf, 20], [20, 25], [12, 30], [28, 30]], "are not all finite numbers"),
])
def test_degenerate_landmarks_are_refused(tmp_path, points, message):
  path = _png(tmp_path / "face.png", 40, 40)
  landmarks = {"face.png": np.asarray(points, np.float32)}
  with pytest.raises(usage.UsageError, match=re.escape(message)):
    transfer_lib.read_image(path, 32, landmarks)


def test_binary_landmarks_file_is_refused(tmp_path):
  for name, contents in [("latin.bin", b"\xff\xd8\xff\xe0 JFIF \x00\x10"),
                         ("nul.bin", b"face.png 1 2 3 4 5 6 7 8 9 10\x00\x00")]:
    path = tmp_path / name
    path.write_bytes(contents)
    with pytest.raises(transfer_lib.TransferRequestError,
                       match=f"^{re.escape(str(path))}: not a text file") as raised:
      transfer_lib.read_landmarks(str(path))
    assert raised.value.parameter == "landmarks"


def test_a_full_disk_is_one_problem_and_leaves_no_new_file(tmp_path, monkeypatch):
  image = np.zeros((32, 32, 3), np.float32)
  out = tmp_path / "grid.png"
  calls = []
  original = transfer_lib.atomic_files.write_png_atomically

  def fill_the_disk_at_the_second_file(path, pixels):
    calls.append(path)
    if len(calls) == 2:
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    original(path, pixels)

  monkeypatch.setattr(transfer_lib.atomic_files, "write_png_atomically",
                      fill_the_disk_at_the_second_file)
  with pytest.raises(usage.UsageError) as raised:
    transfer_lib.write_results(str(out), [[image, image]], ["input", "edited"], each=True)
  assert str(raised.value) == (f"cannot write {tmp_path / 'grid_input.png'}: "
                               f"{os.strerror(errno.ENOSPC)}")
  assert os.listdir(tmp_path) == []


def test_out_naming_a_directory_is_refused(tmp_path):
  image = np.zeros((32, 32, 3), np.float32)
  (tmp_path / "folder.png").mkdir()
  with pytest.raises(usage.UsageError, match="folder.png is a directory"):
    transfer_lib.write_results(str(tmp_path / "folder.png"), [[image]], ["input"], each=False)


def test_photo_flags_defaults_and_conflicts():
  assert transfer_lib.resolve_align(None, None) == "auto"
  assert transfer_lib.resolve_align(None, "marks.txt") == "landmarks"
  assert transfer_lib.resolve_align("center", None) == "center"
  # Each error names the parameter whose value must change; the command maps it to its flag.
  refusals = [
      (lambda: transfer_lib.check_mode("linear", 1, 0), "exemplars",
       "^mode 'linear' takes exactly 1 exemplar, got 0$"),
      (lambda: transfer_lib.check_steps("matrix", 0), "steps",
       "^0 steps: there must be at least 1$"),
      (lambda: transfer_lib.resolve_align("landmarks", None), "landmarks",
       "^align 'landmarks' needs a landmarks file$"),
      (lambda: transfer_lib.resolve_align("auto", "marks.txt"), "landmarks",
       "^a landmarks file is used only with align 'landmarks', not 'auto'$"),
      (lambda: transfer_lib.check_face(-1, "auto"), "face",
       r"^face -1 does not exist: faces are numbered from 0 \(the largest\)$"),
      (lambda: transfer_lib.check_face(1, "center"), "face",
       "^face 1 picks a detected face; it needs align 'auto', not 'center'$"),
      (lambda: transfer_lib.check_paste_back(True, "linear"), "paste_back",
       "^pasting back works with mode swap, add or remove, not 'linear'$"),
  ]
  for refused, parameter, message in refusals:
    with pytest.raises(transfer_lib.TransferRequestError, match=message) as raised:
      refused()
    assert raised.value.parameter == parameter
  transfer_lib.check_face(2, "auto")
  transfer_lib.check_paste_back(True, "swap")
  transfer_lib.check_paste_back(True, "remove")
  transfer_lib.check_paste_back(False, "linear")


def test_empty_list_entries_are_refused():
  # --exemplars=a.png, used to count as 2 exemplars.
  with pytest.raises(transfer_lib.TransferRequestError,
                     match="^'a.png,' has an empty entry; separate"):
    transfer_lib.check_list_entries("exemplars", ["a.png", ""])
  transfer_lib.check_list_entries("exemplars", ["a.png", "b.png"])


def test_an_out_that_cannot_be_written_is_refused_before_the_work(tmp_path):
  blocker = tmp_path / "a_file"
  blocker.write_text("in the way")
  with pytest.raises(transfer_lib.TransferRequestError,
                     match=r"^cannot write .*a_file/grid.png: .*a_file is a file, not a folder"):
    transfer_lib.check_output_paths([str(blocker / "grid.png")])
  transfer_lib.check_output_paths([str(tmp_path / "new" / "grid.png")])  # Created later.


def test_attribute_choice_errors_name_no_command_line_flag():
  # The web page shows these messages too, so they speak of attributes, not of --attributes.
  model_names = ["Eyeglasses", "Bangs"]
  assert transfer_lib.attribute_indices(["Bangs", "Eyeglasses"], model_names) == [1, 0]
  with pytest.raises(usage.UsageError, match="^attribute Bangs is chosen twice: Bangs,Bangs$"):
    transfer_lib.attribute_indices(["Bangs", "Bangs"], model_names)
  with pytest.raises(usage.UsageError, match="^no attribute chosen; the model knows"):
    transfer_lib.attribute_indices([], model_names)


def test_add_and_remove_modes_edit_by_label_alone_and_paste_back(models, tmp_path):
  rng = np.random.default_rng(3)
  presence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  model = models["saved"]  # Exported with presence and absence prototypes.
  image = rng.uniform(-1, 1, (32, 32, 3)).astype(np.float32)
  rows, names = transfer_lib.run_mode(model, "remove", image, [], ["Bangs"])
  assert names == ["input", "edited"]
  np.testing.assert_allclose(rows[0][1], model.remove_attribute(
      image[None], np.array([[0, 1]], np.float32))[0], atol=1e-5)
  rows, _ = transfer_lib.run_mode(model, "add", image, [], ["Bangs"], strength=0.5)
  np.testing.assert_allclose(rows[0][1], model.add_attribute(
      image[None], np.array([[0, 0.5]], np.float32))[0], atol=1e-5)
  with pytest.raises(usage.UsageError, match="^mode 'add' edits by label alone and takes no "
                     "exemplar, got 1$"):
    transfer_lib.run_mode(model, "add", image, [image], ["Bangs"])
  # The photo comes back at its size, changed only where the label-only edit changed the face.
  photo = rng.integers(0, 256, (48, 40, 3), np.uint8)
  aligned = photo_edit.prepare_face(photo, 32, "center")
  pasted = transfer_lib.pasted_label_only(model, "remove", aligned, ["Eyeglasses"])
  assert pasted.shape == photo.shape and pasted.dtype == np.uint8
  assert not np.array_equal(pasted, photo)
  # A model exported without absence prototypes cannot remove by label; it says how to fix it.
  older = model_loading.load(tiny.untrained_export(tmp_path / "older", prototypes=presence))
  with pytest.raises(usage.UsageError, match="has no absence prototypes for mode 'remove'"):
    transfer_lib.run_mode(older, "remove", image, [], ["Bangs"])
