"""The transfer modes behind `python -m elegant_tf.transfer` and the web page.

The command's docstring (elegant_tf/transfer.py) describes the modes, the grids they
write and the flags. Here are the pieces it is made of: reading and aligning the
input photos (through photo_edit), the swap, linear and matrix modes on a
loaded TransferModel (run_mode), the grid and atomic writes, and the checks
that turn bad use into one UsageError before anything is written.

A request that cannot be run as asked is a TransferRequestError naming the
parameter that holds the wrong value; its message speaks of values ("mode
'linear' takes exactly 1 exemplar"), since a Python caller or the web page typed
no flag. The transfer command maps the parameter to its flag.
"""

import os
from typing import Optional, Sequence

import numpy as np

from elegant_tf.apps import photo_edit
from elegant_tf.models import latent_swap
from pipelines import atomic_files
from pipelines import face_detection
from pipelines import image_decoding
from pipelines import image_grid
from pipelines import uint8_pixels
from pipelines import usage

MODES = ("swap", "linear", "matrix", "add", "remove")
# Modes that edit by label alone, with the model's prototype slabs (no exemplar).
LABEL_ONLY_MODES = ("add", "remove")
# --steps bounds: linear writes steps + 1 images, matrix (steps + 1)^2; past these the
# grid is no longer readable and its PNG grows into hundreds of megapixels at 256 px.
MAX_STEPS = {"linear": 64, "matrix": 16}
# Edited codes decoded per call: the decoder's activations, not the grid, would
# otherwise fill memory (a 17 x 17 matrix at 256 px is 289 full-size decodes).
DECODE_CHUNK = 16
ALIGN_MODES = photo_edit.ALIGN_MODES
# Output formats, by --out's extension.
OUTPUT_EXTENSIONS = (".png", ".jpg", ".jpeg")


class TransferRequestError(usage.UsageError):
  """A transfer request that cannot be run as asked: `parameter` (such as "exemplars",
  "steps", "landmarks", "out") names the argument whose value must change; the
  message names the value and what is wrong with it."""

  def __init__(self, message: str, parameter: str):
    super().__init__(message)
    self.parameter = parameter


def attribute_indices(names: Sequence[str], model_names: Sequence[str]) -> list[int]:
  """Positions of `names` among the model's attributes; usage.UsageError for unknown/repeated."""
  if not names:
    raise usage.UsageError("no attribute chosen; the model knows: " + ",".join(model_names))
  unknown = [name for name in names if name not in model_names]
  if unknown:
    raise usage.UsageError(f"unknown attribute(s) {','.join(unknown)}; the model was trained on: "
                           + ",".join(model_names))
  repeated = sorted({name for name in names if list(names).count(name) > 1})
  if repeated:
    raise usage.UsageError(f"attribute {','.join(repeated)} is chosen twice: {','.join(names)}")
  return [list(model_names).index(name) for name in names]


def check_list_entries(parameter: str, values: Sequence[str]) -> None:
  """TransferRequestError for an empty entry in a comma-separated list (`a.png,` would
  otherwise count as two exemplars)."""
  if any(not value.strip() for value in values):
    raise TransferRequestError(f"{','.join(values)!r} has an empty entry; separate the "
                               "names with single commas, with none at either end", parameter)


def check_mode(mode: str, num_attributes: int, num_exemplars: int) -> None:
  """TransferRequestError for an unknown mode, or exemplars the mode cannot use (the
  number of exemplars is what must change: the mode is what was asked for)."""
  if mode not in MODES:
    raise TransferRequestError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}", "mode")
  if mode in ("swap", "linear") and num_exemplars != 1:
    raise TransferRequestError(f"mode {mode!r} takes exactly 1 exemplar, got {num_exemplars}",
                               "exemplars")
  if mode in LABEL_ONLY_MODES and num_exemplars:
    raise TransferRequestError(f"mode {mode!r} edits by label alone and takes no exemplar, "
                               f"got {num_exemplars}", "exemplars")
  if mode == "matrix" and (num_attributes, num_exemplars) not in ((1, 3), (2, 2)):
    raise TransferRequestError(
        "mode 'matrix' takes 1 attribute with 3 exemplars or 2 attributes with 2 exemplars; "
        f"got {num_attributes} attribute(s) and {num_exemplars} exemplar(s)", "exemplars")


def check_steps(mode: str, steps: int) -> None:
  if steps < 1:
    raise TransferRequestError(f"{steps} steps: there must be at least 1", "steps")
  if mode in MAX_STEPS and steps > MAX_STEPS[mode]:
    raise TransferRequestError(f"{steps} steps are too many for mode {mode!r}: at most "
                               f"{MAX_STEPS[mode]}", "steps")


def read_landmarks(path: str) -> dict:
  """{file name: float32 [5, 2]} from `name x1 y1 ... x5 y5` lines (CelebA's format).

  Lines that do not parse (CelebA's count and header lines) are skipped; a file that
  is not UTF-8 text (a binary file given by mistake) is a TransferRequestError.
  """
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except UnicodeDecodeError as error:
    raise TransferRequestError(f"{path}: not a text file (not UTF-8)", "landmarks") from error
  except OSError as error:
    raise TransferRequestError(f"{path}: cannot read ({error.strerror})", "landmarks") from error
  if "\0" in text:
    raise TransferRequestError(f"{path}: not a text file (contains NUL bytes)", "landmarks")
  table = {}
  for line in text.splitlines():
    fields = line.split()
    if len(fields) != 11:
      continue
    try:
      points = np.array([float(v) for v in fields[1:]], np.float32).reshape(5, 2)
    except ValueError:
      continue
    table[fields[0]] = points
  if not table:
    raise TransferRequestError(f"{path}: no 'name x1 y1 ... x5 y5' line found", "landmarks")
  return table


def check_landmarks(path: str, points: np.ndarray) -> None:
  """TransferRequestError for landmarks that cannot be aligned: non-finite or pupils together."""
  try:
    photo_edit.check_landmarks(os.path.basename(path), points)
  except ValueError as error:
    raise TransferRequestError(str(error), "landmarks") from error


def read_photo(path: str) -> np.ndarray:
  """uint8 [H, W, 3] of an image file, upright as its EXIF orientation says; usage.UsageError
  naming the file when it cannot be used."""
  try:
    contents = image_decoding.read_image_file(path)
  except image_decoding.FileTooLargeError as error:
    raise usage.UsageError(f"cannot read image {error}") from error
  except OSError as error:
    raise usage.UsageError(f"cannot read image {path}: {error.strerror}") from error
  try:
    return photo_edit.decode_photo(contents, path)
  except ValueError as error:
    raise usage.UsageError(str(error)) from error


def resolve_align(align: Optional[str], landmarks_file: Optional[str]) -> str:
  """`align` as given, or its default: landmarks when a landmarks file is given, else auto."""
  if align is None:
    return "landmarks" if landmarks_file else "auto"
  if align not in ALIGN_MODES:
    raise TransferRequestError(f"unknown align {align!r}; valid: {', '.join(ALIGN_MODES)}",
                               "align")
  if align == "landmarks" and not landmarks_file:
    raise TransferRequestError("align 'landmarks' needs a landmarks file", "landmarks")
  if align != "landmarks" and landmarks_file:
    raise TransferRequestError(f"a landmarks file is used only with align 'landmarks', not "
                               f"{align!r}", "landmarks")
  return align


def check_face(face: int, align: str) -> None:
  """TransferRequestError for a face index that cannot apply (negative, or without the
  detector)."""
  if face < 0:
    raise TransferRequestError(f"face {face} does not exist: faces are numbered from 0 (the "
                               "largest)", "face")
  if face and align != "auto":
    raise TransferRequestError(f"face {face} picks a detected face; it needs align 'auto', not "
                               f"{align!r}", "face")


def check_paste_back(paste_back: bool, mode: str) -> None:
  """TransferRequestError for paste_back in linear and matrix mode (they write grids)."""
  if paste_back and mode not in ("swap",) + LABEL_ONLY_MODES:
    raise TransferRequestError(f"pasting back works with mode swap, add or remove, not "
                               f"{mode!r}", "paste_back")


def label_only_edit(model, mode: str):
  """The model's add_attribute or remove_attribute; TransferRequestError if it has none."""
  edit = model.add_attribute if mode == "add" else model.remove_attribute
  if edit is None:
    kind = "presence" if mode == "add" else "absence"
    raise TransferRequestError(
        f"{model.source} has no {kind} prototypes for mode {mode!r} (a run directory or a "
        "model exported before label-only removal); export it from its run directory with "
        "python -m elegant_tf.export", "model")
  return edit


def label_only_mode(model, mode: str, image, weights) -> tuple[list, list]:
  """[input | edited]: the chosen attributes added or removed by label alone."""
  edited = label_only_edit(model, mode)(image[None], weights[None])[0]
  return [[image, edited]], ["input", "edited"]


def align_photo(path: str, image_size: int, align: str, landmarks: Optional[dict] = None,
                face: int = 0, detector=None) -> photo_edit.AlignedFace:
  """Read `path` and align its face (photo_edit.prepare_face); usage.UsageError on bad input,
  a TransferRequestError when the landmarks or the face index `face` are what must change."""
  pixels = read_photo(path)
  points = None
  if align == "landmarks":
    points = landmarks.get(os.path.basename(path), landmarks.get(path))
    if points is None:
      raise TransferRequestError(f"the landmarks have no line for {os.path.basename(path)}",
                                 "landmarks")
    check_landmarks(path, points)
  try:
    return photo_edit.prepare_face(pixels, image_size, align, points, face, detector,
                                   name=path)
  except face_detection.FaceNotFound as error:
    # Past the faces found, the index is what must change; no face at all is the photo's fault.
    if face:
      raise TransferRequestError(str(error), "face") from error
    raise usage.UsageError(str(error)) from error
  except ValueError as error:
    raise usage.UsageError(str(error)) from error


def read_image(path: str, image_size: int, landmarks: Optional[dict] = None) -> np.ndarray:
  """float32 [S, S, 3] in [-1, 1]: decoded, aligned (with landmarks) or centre-cropped."""
  align = "center" if landmarks is None else "landmarks"
  return align_photo(path, image_size, align, landmarks).crop


def mix_slabs(latent, other, weights) -> np.ndarray:
  """swap_latent_slabs on numpy arrays: slab i = (1 - w_i) * latent + w_i * other (w: [n])."""
  return np.asarray(latent_swap.swap_latent_slabs(
      np.asarray(latent, np.float32), np.asarray(other, np.float32),
      np.asarray(weights, np.float32)))


def _decode_codes(model, image, latent, skips, codes: list) -> list:
  """Decode several edited codes of one image, DECODE_CHUNK at a time."""
  decoded = []
  for start in range(0, len(codes), DECODE_CHUNK):
    chunk = codes[start:start + DECODE_CHUNK]
    repeat = lambda array: np.repeat(array[:1], len(chunk), axis=0)
    edited = model.decode(repeat(image[None]), np.concatenate(chunk), repeat(latent),
                          [repeat(skip) for skip in skips])
    decoded.extend(np.asarray(edited))
  return decoded


def swap_mode(model, image, exemplar, weights) -> tuple[list, list]:
  outputs = model.transfer(image[None], exemplar[None], np.asarray(weights, np.float32)[None])
  return ([[image, exemplar, outputs["edited"][0], outputs["exemplar_edited"][0]]],
          ["input", "exemplar", "edited", "exemplar_edited"])


def linear_mode(model, image, exemplar, weights, steps: int) -> tuple[list, list]:
  latents, skips = model.encode(np.stack([image, exemplar]))
  latent, own_skips = latents[:1], [skip[:1] for skip in skips]
  codes = [mix_slabs(latent, latents[1:2], np.asarray(weights) * k / steps)
           for k in range(steps + 1)]
  decoded = _decode_codes(model, image, latent, own_skips, codes)
  return ([[image, exemplar] + decoded],
          ["input", "exemplar"] + [f"step_{k}" for k in range(steps + 1)])


def matrix_mode(model, image, exemplars: list, attribute_positions: list, num_attributes: int,
                steps: int) -> tuple[list, list]:
  latents, skips = model.encode(np.stack([image] + list(exemplars)))
  latent, own_skips = latents[:1], [skip[:1] for skip in skips]
  one_hot = np.eye(num_attributes, dtype=np.float32)
  fractions = [k / steps for k in range(steps + 1)]
  codes = []
  if len(attribute_positions) == 1:
    chosen = one_hot[attribute_positions[0]]
    top_right, bottom_left, bottom_right = [mix_slabs(latent, latents[k:k + 1], chosen)
                                            for k in (1, 2, 3)]
    for u in fractions:
      for v in fractions:
        codes.append((1 - u) * (1 - v) * latent + (1 - u) * v * top_right
                     + u * (1 - v) * bottom_left + u * v * bottom_right)
  else:
    swapped_1 = mix_slabs(latent, latents[1:2], one_hot[attribute_positions[0]])
    swapped_2 = mix_slabs(latent, latents[2:3], one_hot[attribute_positions[1]])
    for a in fractions:
      for b in fractions:
        codes.append(a * swapped_1 + b * swapped_2 + (1 - a - b) * latent)
  decoded = _decode_codes(model, image, latent, own_skips,
                          [code.astype(np.float32) for code in codes])
  rows = [[image] + list(exemplars)]
  rows += [decoded[r * (steps + 1):(r + 1) * (steps + 1)] for r in range(steps + 1)]
  names = ["input"] + [f"exemplar_{k + 1}" for k in range(len(exemplars))]
  names += [f"cell_{r}_{c}" for r in range(steps + 1) for c in range(steps + 1)]
  return rows, names


def slab_weights(positions: Sequence[int], num_attributes: int, strength: float) -> np.ndarray:
  """float32 [n]: `strength` at the chosen attributes' positions, 0 elsewhere."""
  if not 0.0 <= strength <= 1.0:
    raise TransferRequestError(f"strength {strength} must lie in [0, 1]", "strength")
  weights = np.zeros(num_attributes, np.float32)
  weights[list(positions)] = strength
  return weights


def run_mode(model, mode: str, image, exemplars: list, attribute_names: Sequence[str],
                 steps: int = 4, strength: float = 1.0) -> tuple[list, list]:
  """(grid rows, result names in row-major order) of one mode; checks the use first."""
  positions = attribute_indices(list(attribute_names), model.attribute_names)
  check_mode(mode, len(positions), len(exemplars))
  check_steps(mode, steps)
  weights = slab_weights(positions, len(model.attribute_names), strength)
  if mode in LABEL_ONLY_MODES:
    return label_only_mode(model, mode, image, weights)
  if mode == "swap":
    return swap_mode(model, image, exemplars[0], weights)
  if mode == "linear":
    return linear_mode(model, image, exemplars[0], weights, steps)
  return matrix_mode(model, image, exemplars, positions, len(model.attribute_names), steps)


def write_image(path: str, pixels: np.ndarray) -> None:
  """Write uint8 pixels atomically, as JPEG for .jpg/.jpeg and PNG otherwise."""
  if path.lower().endswith((".jpg", ".jpeg")):
    atomic_files.write_jpeg_atomically(path, pixels)
  else:
    atomic_files.write_png_atomically(path, pixels)


def write_results(out: str, rows: list, names: list, each: bool,
                  overwrite: bool = True) -> list[str]:
  """Write the grid (and each image as <out stem>_<name><out's extension>); return the
  paths written.

  Every file is written atomically. With overwrite=False nothing is written when
  any of the files exists (usage.UsageError).
  """
  stem, extension = os.path.splitext(out)
  images = [image for row in rows for image in row]
  each_paths = [f"{stem}_{name}{extension}" for name in names] if each else []
  contents = [(out, image_grid.tile(rows))]
  contents += [(path, uint8_pixels.to_uint8(image)) for path, image in zip(each_paths, images)]
  return write_files(contents, overwrite)


def write_files(contents: list, overwrite: bool = True) -> list[str]:
  """Write [(path, uint8 pixels)] atomically, all or none (see write_results)."""
  paths = [path for path, _ in contents]
  check_output_paths(paths)
  usage.check_not_overwriting(paths, overwrite)
  new_paths = [path for path in paths if not os.path.exists(path)]
  written = []
  try:
    for path, pixels in contents:
      write_image(path, pixels)
      written.append(path)
  except OSError as error:
    # The failed file was left as it was (atomic write); the new files of this call that
    # did get written are removed, so a failed run leaves no partial set behind.
    for done in written:
      if done in new_paths:
        os.remove(done)
    reason = error.strerror or str(error)
    raise usage.UsageError(f"cannot write {path}: {reason}") from error
  return written


def check_output_paths(paths: Sequence[str]) -> None:
  """TransferRequestError when an output path names a directory or cannot be written (a
  file where a folder must be, a read-only folder); missing folders are created."""
  for path in paths:
    try:
      atomic_files.check_output_file(path, "a .png or .jpg")
    except ValueError as error:
      raise TransferRequestError(str(error), "out") from error


def pasted_swap(model, photo: photo_edit.AlignedFace, exemplar: photo_edit.AlignedFace,
                attribute_names: Sequence[str], strength: float = 1.0) -> tuple:
  """(input photo, exemplar photo), uint8 at their own sizes: swap mode's two edits, each
  pasted back as the change it made (photo_edit.paste_back)."""
  positions = attribute_indices(list(attribute_names), model.attribute_names)
  weights = slab_weights(positions, len(model.attribute_names), strength)
  outputs = photo_edit.edit_and_reconstruct(model, photo.crop, exemplar.crop, weights)
  return (photo_edit.paste_back(photo, outputs["edited"], outputs["reconstructed"]),
          photo_edit.paste_back(exemplar, outputs["exemplar_edited"],
                                outputs["exemplar_reconstructed"]))


def pasted_label_only(model, mode: str, photo: photo_edit.AlignedFace,
                      attribute_names: Sequence[str], strength: float = 1.0) -> np.ndarray:
  """uint8 input photo at its size with the chosen attributes added or removed by label
  alone, pasted back as the change the edit made."""
  edit = label_only_edit(model, mode)
  positions = attribute_indices(list(attribute_names), model.attribute_names)
  weights = slab_weights(positions, len(model.attribute_names), strength)
  # Row 2, zero weights, is the reconstruction the change is measured against.
  outputs = edit(np.stack([photo.crop, photo.crop]), np.stack([weights, np.zeros_like(weights)]))
  return photo_edit.paste_back(photo, np.asarray(outputs[0]), np.asarray(outputs[1]))


def write_pasted_back(out: str, photo: np.ndarray, exemplar: Optional[np.ndarray], each: bool,
                      overwrite: bool) -> list[str]:
  """Write the edited input photo (pasted_swap's or pasted_label_only's) to `out`, and with
  --each the edited exemplar photo, if any, as <out stem>_exemplar_edited<extension>."""
  contents = [(out, photo)]
  if each and exemplar is not None:
    stem, extension = os.path.splitext(out)
    contents.append((f"{stem}_exemplar_edited{extension}", exemplar))
  return write_files(contents, overwrite)
