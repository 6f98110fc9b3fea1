"""Transfer face attributes by example from the command line, in the paper's modes.

  python -m elegant_tf.transfer --model=saved_models/elegant_demo --mode=swap \\
      --input=me.jpg --exemplars=glasses.png --attributes=Eyeglasses --out=swap.png

--model: a SavedModel (model or version folder), a .tflite file, or a training run
directory (newest checkpoint). Photos of any size and common format. Every face is
aligned onto the paper's 5-point template first: --align=auto (the default without
--landmarks) finds the landmarks with a face detector (MTCNN; the largest face, or
--face=N for the input), --align=landmarks takes them from --landmarks (the default
when it is given), --align=center centre-crops a square (for faces already aligned).
--paste_back (swap mode) writes the input photo itself, same size, with the model's
change (edited minus reconstructed face) added back at the photo's resolution: pixels
the edit did not change are the input's own, sharp. --out ends in .png or .jpg.

Modes and the grid each writes (every cell is one S x S image):
  swap     1 exemplar, any subset of the attributes (all swapped in one pass):
           [input | exemplar | input with the exemplar's attributes |
            exemplar with the input's]
  linear   1 exemplar: [input | exemplar | step 0 .. step m], step k decodes the
           input's code with the chosen slabs moved k/m of the way to the exemplar's
           (step 0 = reconstruction, step m = the swap).
  matrix   1 attribute, 3 exemplars: first row [input | exemplar 1 | 2 | 3], then an
           (m+1) x (m+1) bilinear grid whose corners are the input (top left) and the
           input with exemplar 1's (top right), 2's (bottom left), 3's (bottom right)
           attribute.
  matrix   2 attributes, 2 exemplars: first row [input | exemplar 1 | exemplar 2],
           then cell (a, b) = a z_D1 + b z_D2 + (1 - a - b) z_input, where D1 takes
           attribute 1 from exemplar 1 and D2 attribute 2 from exemplar 2; a grows
           down, b right, and the far corner swaps both.
  add      no exemplar: [input | input with the attributes added], by label alone
           (the model's presence prototypes: the mean slab of training faces with each).
  remove   no exemplar: [input | input with the attributes removed] (absence
           prototypes: the mean slab of training faces without each).
Bad use (unknown attribute, wrong exemplar count, unreadable or too small image,
no face found, a binary or degenerate --landmarks file, too many --steps, --out naming a
directory or an existing file without --overwrite, a run directory whose flags.txt
does not parse) prints one line and exits with status 2 before anything is
written. Files are written atomically; a failed write (a full disk) is reported
the same way and leaves no new file behind.
"""

import sys

from absl import flags

from elegant_tf.apps import transfer_lib
from elegant_tf.inference import model_loading
from pipelines import atomic_files
from pipelines import usage


def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("model", None,
                      "Trained model: SavedModel model folder (newest version) or version "
                      "folder, a .tflite file from `python -m elegant_tf.tflite`, or a training "
                      "run directory (its newest checkpoint).")
  flags.DEFINE_enum("mode", "swap", list(transfer_lib.MODES),
                    "swap: exchange the attributes with one exemplar; linear: --steps from "
                    "the input to the swap; matrix: 1 attribute x 3 exemplars or 2 attributes "
                    "x 2 exemplars, a grid of (steps+1)^2 images; add / remove: no exemplar, "
                    "the attributes added or removed by label alone (an exported model's "
                    "prototypes).")
  flags.DEFINE_string("input", None, "The face to edit (any size; JPEG, PNG, BMP, GIF, ...).")
  flags.DEFINE_list("exemplars", [], "Comma-separated exemplar faces whose attributes are "
                    "taken (swap/linear: 1; matrix: 3 for one attribute, 2 for two).")
  flags.DEFINE_list("attributes", [], "Comma-separated attribute names, as trained (see the "
                    "model's metadata); swap takes any subset, all exchanged in one pass.")
  flags.DEFINE_integer("steps", 4, "Interpolation intervals for linear and matrix (m); at "
                       f"most {transfer_lib.MAX_STEPS['linear']} for linear, "
                       f"{transfer_lib.MAX_STEPS['matrix']} for matrix.")
  flags.DEFINE_float("strength", 1.0, "Swap strength in [0, 1] for swap, add and remove, and "
                     "the end point of linear (1 = full swap).")
  flags.DEFINE_string("landmarks", None,
                      "Optional 5-point landmark file (`name x1 y1 ... x5 y5` per line, pupils, "
                      "nose, mouth corners, CelebA's format): align the images with it "
                      "(implies --align=landmarks).")
  flags.DEFINE_enum("align", None, list(transfer_lib.ALIGN_MODES),
                    "How faces are aligned onto the template: auto = find the five landmarks "
                    "with the face detector (MTCNN); landmarks = from --landmarks; center = "
                    "centre-crop a square (faces already aligned). Default: landmarks when "
                    "--landmarks is given, else auto.")
  flags.DEFINE_integer("face", 0, "With --align=auto: which face of --input to edit when the "
                       "detector finds several, counted from 0 by size (0 = the largest). "
                       "Exemplars always give their largest face.")
  flags.DEFINE_bool("paste_back", False,
                    "swap, add and remove: write --input's own photo, at its size, with the change "
                    "the edit made added back (pixels it did not change stay the photo's own) "
                    "instead of the grid; with --each also <out>_exemplar_edited, the "
                    "exemplar's photo.")
  flags.DEFINE_string("out", None, "Output image (.png or .jpg): the grid, or the edited "
                      f"photo with --paste_back ({atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_bool("each", False, "Also write every image of the grid as <out>_<name> "
                    "(same extension as --out).")
  flags.DEFINE_bool("overwrite", False, "Replace --out (and the --each images) if they exist; "
                    "without it an existing file is an error and nothing is written.")
  usage.require_flags("model", "input", "out")


def _report_faces(path: str, found: int, which: str) -> None:
  """Tell the user, on stderr, when a photo held several faces and which one is used."""
  if found > 1:
    print(f"transfer: {found} faces found in {path}; using {which}", file=sys.stderr)


def main(argv):
  usage.check_no_arguments(argv)
  try:
    transfer(flags.FLAGS)
  except transfer_lib.TransferRequestError as error:
    # The library names the parameter whose value must change; here it is the flag of that name.
    raise usage.for_flag(error.parameter, error) from error


def transfer(flag_values) -> None:
  """The command's work on the parsed flags; transfer_lib's errors name parameters."""
  if not flag_values.out.lower().endswith(transfer_lib.OUTPUT_EXTENSIONS):
    raise usage.UsageError(f"--out={flag_values.out} must end in .png or .jpg")
  transfer_lib.check_list_entries("exemplars", flag_values.exemplars)
  transfer_lib.check_list_entries("attributes", flag_values.attributes)
  transfer_lib.check_output_paths([flag_values.out])  # Before the slow part.
  usage.check_not_overwriting([flag_values.out], flag_values.overwrite)
  transfer_lib.check_mode(flag_values.mode, len(flag_values.attributes),
                          len(flag_values.exemplars))
  transfer_lib.check_steps(flag_values.mode, flag_values.steps)
  align = transfer_lib.resolve_align(flag_values.align, flag_values.landmarks)
  transfer_lib.check_face(flag_values.face, align)
  transfer_lib.check_paste_back(flag_values.paste_back, flag_values.mode)
  try:
    model = model_loading.load(flag_values.model)
  except model_loading.ModelFileError as error:
    raise usage.for_flag("model", error) from error
  transfer_lib.attribute_indices(flag_values.attributes, model.attribute_names)
  landmarks = (transfer_lib.read_landmarks(flag_values.landmarks) if flag_values.landmarks
               else None)
  photo = transfer_lib.align_photo(flag_values.input, model.image_size, align, landmarks,
                                   flag_values.face)
  _report_faces(flag_values.input, photo.faces_found,
                f"face {flag_values.face} (0 = the largest; --face=N picks another)")
  exemplar_photos = []
  for path in flag_values.exemplars:
    exemplar_photos.append(transfer_lib.align_photo(path, model.image_size, align, landmarks))
    _report_faces(path, exemplar_photos[-1].faces_found,
                  "the largest (--face picks a face of --input only)")
  if flag_values.paste_back and flag_values.mode in transfer_lib.LABEL_ONLY_MODES:
    pasted = (transfer_lib.pasted_label_only(model, flag_values.mode, photo,
                                             flag_values.attributes, flag_values.strength), None)
    written = transfer_lib.write_pasted_back(flag_values.out, *pasted, flag_values.each,
                                             flag_values.overwrite)
  elif flag_values.paste_back:
    pasted = transfer_lib.pasted_swap(model, photo, exemplar_photos[0], flag_values.attributes,
                                      flag_values.strength)
    written = transfer_lib.write_pasted_back(flag_values.out, *pasted, flag_values.each,
                                             flag_values.overwrite)
  else:
    exemplars = [exemplar.crop for exemplar in exemplar_photos]
    rows, names = transfer_lib.run_mode(model, flag_values.mode, photo.crop, exemplars,
                                            flag_values.attributes, flag_values.steps,
                                            flag_values.strength)
    written = transfer_lib.write_results(flag_values.out, rows, names, flag_values.each,
                                         flag_values.overwrite)
  for path in written:
    print(path)


def run():
  """Entry point of `python -m elegant_tf.transfer` and the elegant-transfer console script."""
  define_flags()
  usage.run("transfer", main)


if __name__ == "__main__":
  run()
