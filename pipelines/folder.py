"""`folder:DIR`: the user's own faces, as image files plus CSV labels.

DIR holds images (JPEG/PNG/BMP/..., any size, subfolders allowed) and
`attributes.csv`: a header row `filename,<attribute>,...`, then one row per
image with values 0/1, -1/1, true/false or yes/no. An optional `landmarks.csv`
(`filename` then 10 numbers: left pupil x y, right pupil x y, nose x y, left and
right mouth corner x y) aligns faces onto the template; without it images are
centre-cropped and resized. `folder:DIR,landmarks=auto` finds the landmarks with the
face detector (pipelines.face_detection; the largest face of each image) once, with
a progress bar, and caches them in DIR/landmarks.csv; images without a face, or that
cannot be decoded, are skipped and counted by reason. An existing landmarks.csv is
always used as it is, never overwritten (delete it to detect again; images it does not
list are then skipped as "no landmarks"). The split is a hash of the filename: 80% train,
10% val, 10% test, stable across runs and machines. Both CSV files must be UTF-8;
a repeated column name is an error; a file listed twice with different labels is
skipped and counted. Symbolic links are followed inside DIR only: links leading
outside it and link loops are skipped and counted.
"""

import csv
import errno
import hashlib
import os
from typing import Optional

import keras
import numpy as np

from pipelines import atomic_files
from pipelines import data_spec
from pipelines import face_detection
from pipelines import face_source
from pipelines import image_decoding

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# `folder:DIR,key=value` options and their valid values.
OPTIONS = {"landmarks": ("auto",)}
# landmarks.csv's header: CelebA's column names (list_landmarks_align_celeba.txt).
LANDMARK_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                    "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")
NO_FACE = "no face found"
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "-1", "false", "no", "n", "f"}


def scan_images(root: str, ledger: Optional[image_decoding.SkipLedger] = None) -> dict:
  """Return {relative path with '/': size in bytes} of image files under root.

  Only stat calls (no reads), so a 200k-image folder opens in about a second.
  Symbolic links are followed only inside the data folder: a link leading outside it
  is skipped ("outside the data folder"), and a link loop (a link to itself, or to a
  folder already scanned) is skipped ("symlink loop"); both are counted in `ledger`.
  """
  found = {}
  real_root = os.path.realpath(root)
  visited = {real_root}
  stack = [""]

  def skip(reason, name):
    if ledger is not None:
      ledger.skip(reason, name)

  while stack:
    relative = stack.pop()
    with os.scandir(os.path.join(root, relative)) as entries:
      for entry in entries:
        name = f"{relative}/{entry.name}" if relative else entry.name
        is_image = entry.name.lower().endswith(IMAGE_EXTENSIONS)
        if entry.is_symlink():
          real = os.path.realpath(entry.path)
          if os.path.commonpath([real_root, real]) != real_root:
            skip("outside the data folder", name)
            continue
        try:
          is_dir = entry.is_dir()
          size = entry.stat().st_size if is_image and not is_dir else None
        except OSError as error:  # ELOOP: a link to itself; or a link to nothing.
          if error.errno == errno.ELOOP:
            skip("symlink loop", name)
          elif is_image:
            skip("unreadable file or record", name)
          continue
        if is_dir:
          real = os.path.realpath(entry.path)
          if real in visited:
            skip("symlink loop", name)
            continue
          visited.add(real)
          stack.append(name)
        elif is_image:
          found[name] = size
  return found


# The reasons scan_images skips a name for.
SCAN_REASONS = ("outside the data folder", "symlink loop")


def scanned_out(ledger: image_decoding.SkipLedger) -> frozenset:
  """The names scan_images skipped (check_listed_files' `scanned_out`)."""
  return frozenset(key for reason in SCAN_REASONS for key in ledger.skipped_keys(reason))


def hash_split(filename: str) -> str:
  """Deterministic split of a filename: 80% train, 10% val, 10% test."""
  bucket = int(hashlib.md5(filename.encode("utf-8")).hexdigest()[:8], 16) % 10
  return "train" if bucket < 8 else ("val" if bucket == 8 else "test")


def parse_flag(value: str) -> Optional[int]:
  """0/1 of a label cell, or None if it is not a recognised boolean."""
  value = value.strip().lower()
  if value in _TRUE:
    return 1
  if value in _FALSE:
    return 0
  return None


def check_listed_files(listed: list, present: dict, ledger: image_decoding.SkipLedger,
                       mentioned: frozenset = frozenset(),
                       scanned_out: frozenset = frozenset()) -> list:
  """Return the listed names that exist and are non-empty; record the rest and unlisted ones.

  `mentioned` are names listed on rows that were already skipped (bad rows): they
  are not "unlisted", and counting them twice would inflate the report.
  `scanned_out` are names the scan already skipped (links outside the folder,
  loops): not counted again as missing.
  """
  usable = []
  for name in listed:
    size = present.get(name)
    if size is None:
      if name not in scanned_out:
        ledger.skip("listed but missing", name)
    elif size == 0:
      ledger.skip("empty file", name)
    else:
      usable.append(name)
  for name in set(present) - set(listed) - set(mentioned):
    ledger.skip("present but not listed", name)
  return usable


def read_csv_rows(path: str) -> list:
  """All rows of a UTF-8 CSV file; ValueError naming the file if it is not UTF-8."""
  try:
    with open(path, newline="", encoding="utf-8-sig") as handle:
      return list(csv.reader(handle))
  except UnicodeDecodeError as error:
    raise data_spec.DataSpecError(
        f"{path} is not UTF-8 text (it holds byte 0x{error.object[error.start]:02x}, e.g. "
        "Latin-1); save it as UTF-8") from error


def read_csv_attributes(path: str, ledger: image_decoding.SkipLedger):
  """Parse attributes.csv into (attribute names, {filename: uint8 labels}, all names seen).

  A file listed twice with the same labels is kept once; listed twice with
  different labels, neither row can be trusted: both are skipped and counted as
  "conflicting duplicate rows" (one bad row should not stop a 200k-image run).
  """
  rows = read_csv_rows(path)
  if not rows:
    raise data_spec.DataSpecError(
        f"{path} is empty; it needs a header row 'filename,<attribute>,...'")
  names = [name.strip() for name in rows[0][1:]]
  if not names:
    raise data_spec.DataSpecError(
        f"{path}: the header names no attribute columns after the filename")
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise data_spec.DataSpecError(f"{path}: the header names column {repeated[0]!r} more than once")
  labels = {}
  conflicting = set()
  mentioned = set()
  for line, row in enumerate(rows[1:], start=2):
    if not row or all(not cell.strip() for cell in row):
      continue
    filename = row[0].strip()
    mentioned.add(filename)
    values = [parse_flag(cell) for cell in row[1:]]
    if len(values) != len(names) or None in values:
      ledger.skip("bad attribute row", filename or f"{os.path.basename(path)}:{line}")
      continue
    row_labels = np.array(values, np.uint8)
    if filename in conflicting:
      continue
    if filename in labels and not np.array_equal(labels[filename], row_labels):
      del labels[filename]
      conflicting.add(filename)
      ledger.skip("conflicting duplicate rows", filename)
      continue
    labels[filename] = row_labels
  return names, labels, frozenset(mentioned)


def read_csv_landmarks(path: str, ledger: image_decoding.SkipLedger) -> dict:
  """Parse landmarks.csv into {filename: float32 [5, 2]}."""
  landmarks = {}
  rows = read_csv_rows(path)
  for line, row in enumerate(rows, start=1):
    if not row:
      continue
    try:
      points = np.array([float(cell) for cell in row[1:]], np.float32)
    except ValueError:
      if line == 1:
        continue  # Header row.
      ledger.skip("bad landmark row", row[0].strip())
      continue
    if points.shape != (10,) or not np.isfinite(points).all():
      ledger.skip("bad landmark row", row[0].strip())
      continue
    landmarks[row[0].strip()] = points.reshape(5, 2)
  return landmarks


def split_options(argument: str) -> tuple:
  """(folder, {option: value}) of `DIR[,key=value...]`; ValueError for unknown options."""
  folder, options = argument, {}
  if os.path.isdir(os.path.expanduser(argument)):
    return folder, options  # A folder whose own name holds a comma.
  while "," in folder:
    head, _, tail = folder.rpartition(",")
    key, equals, value = tail.partition("=")
    if not equals:
      break
    valid = ", ".join(f"{k}={v}" for k, values in OPTIONS.items() for v in values)
    if key not in OPTIONS or value not in OPTIONS[key]:
      raise data_spec.DataSpecError(f"folder:{argument}: unknown option {tail!r}; valid: {valid}")
    options[key] = value
    folder = head
  return folder, options


def detect_landmarks(root: str, names: list, ledger: image_decoding.SkipLedger,
                     detector: Optional[face_detection.FaceDetector] = None,
                     progress: bool = True) -> dict:
  """{name: float32 [5, 2]} of the largest face in each image under `root`.

  Images that cannot be decoded are counted in `ledger` by the decoder's reason, images
  without a face as NO_FACE; neither is in the result.
  """
  detector = face_detection.default_detector(detector)
  bar = None
  if progress and names:
    bar = keras.utils.Progbar(len(names), unit_name="image")
  landmarks = {}
  for count, name in enumerate(names, start=1):
    try:
      with open(os.path.join(root, name), "rb") as handle:
        contents = handle.read()
    except OSError:
      ledger.skip("unreadable file or record", name)
      contents = None
    if contents is not None:
      image, reason, _ = image_decoding.decode_to_rgb(contents)
      if image is None:
        ledger.skip(reason, name)
      else:
        faces = detector.detect(image)
        if faces:
          landmarks[name] = face_detection.choose_face(faces, 0, name).landmarks
        else:
          ledger.skip(NO_FACE, name)
    if bar is not None:
      bar.update(count)
  return landmarks


def write_csv_landmarks(path: str, landmarks: dict) -> None:
  """Write {name: [5, 2]} as landmarks.csv (what read_csv_landmarks reads), atomically."""
  with atomic_files.atomic_open(path, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(("filename",) + LANDMARK_COLUMNS)
    for name in sorted(landmarks):
      writer.writerow([name] + [f"{value:.2f}" for value in
                                np.asarray(landmarks[name], np.float64).reshape(-1)])


class FileSource(image_decoding.IndexedImageSource):
  """Examples are files under a root folder; keys are paths relative to it."""

  def __init__(self, root: str, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.root = root

  def read_bytes(self, split, index):
    path = os.path.join(self.root, self._tables[split]["keys"][index])
    try:
      return image_decoding.read_image_file(path)  # Bounded: MAX_FILE_BYTES.
    except FileNotFoundError:
      return None


def build_tables(usable: list, labels: dict, landmarks: Optional[dict], split_of: dict,
                 ledger: image_decoding.SkipLedger) -> dict:
  """Group usable files into per-split key/label/landmark arrays (sorted by key)."""
  grouped = {split: [] for split in face_source.SPLITS}
  for name in sorted(usable):
    if landmarks is not None and name not in landmarks:
      ledger.skip("no landmarks", name)
      continue
    split = split_of.get(name)
    if split is None:
      ledger.skip("not in the split list", name)
      continue
    grouped[split].append(name)
  width = len(next(iter(labels.values()))) if labels else 0
  tables = {}
  for split, names in grouped.items():
    tables[split] = {
        "keys": names,
        "labels": (np.stack([labels[n] for n in names]) if names
                   else np.zeros((0, width), np.uint8)),
        "landmarks": (None if landmarks is None else
                      np.stack([landmarks[n] for n in names]).astype(np.float32) if names
                      else np.zeros((0, 5, 2), np.float32)),
    }
  return tables


def open_source(argument: str, image_size: int, deterministic: bool = True,
                face_detector: Optional[face_detection.FaceDetector] = None,
                progress: bool = True, **unused_options) -> FileSource:
  """Open `folder:DIR[,landmarks=auto]`; raises FileNotFoundError naming what is missing.

  `face_detector` (landmarks=auto) defaults to MTCNN; `progress` shows the detection's bar.
  """
  folder, options = split_options(argument)
  root = os.path.abspath(os.path.expanduser(folder))
  attributes_path = os.path.join(root, "attributes.csv")
  if not os.path.isfile(attributes_path):
    raise FileNotFoundError(
        f"folder:{folder} needs {attributes_path}: a header 'filename,<attribute>,...' "
        "and one row per image with 0/1, -1/1 or true/false values")
  ledger = image_decoding.SkipLedger()
  names, labels, mentioned = read_csv_attributes(attributes_path, ledger)
  landmarks_path = os.path.join(root, "landmarks.csv")
  landmarks = (read_csv_landmarks(landmarks_path, ledger)
               if os.path.isfile(landmarks_path) else None)
  present = scan_images(root, ledger)
  usable = check_listed_files(list(labels), present, ledger, mentioned, scanned_out(ledger))
  if landmarks is None and options.get("landmarks") == "auto":
    landmarks = detect_landmarks(root, sorted(usable), ledger, face_detector, progress)
    write_csv_landmarks(landmarks_path, landmarks)
    # Skipped above with their own reason: not counted again as "no landmarks".
    usable = [name for name in usable if name in landmarks]
  split_of = {name: hash_split(name) for name in usable}
  tables = build_tables(usable, labels, landmarks, split_of, ledger)
  return FileSource(root, names, image_size, tables, ledger, deterministic)
