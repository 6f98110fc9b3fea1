"""`celeba:DIR`: the CelebA folder exactly as distributed.

Files used (all parsed by whitespace, never by column position):
  list_attr_celeba.txt       line 1 count, line 2 the 40 names, then `file v1 .. v40`, v in {-1, 1}
  list_eval_partition.txt    `file p`, p = 0 train / 1 val / 2 test (the official split)
  img_celeba/ + list_landmarks_celeba.txt              in-the-wild photos (the paper's choice)
  img_align_celeba/ + list_landmarks_align_celeba.txt  the 178x218 coarse crops
Landmark files: line 1 count, line 2 header, then `file x1 y1 .. x5 y5`.
In-the-wild images are preferred when present, as in the paper.
"""

import os

import numpy as np

from pipelines import data_spec
from pipelines import folder
from pipelines import image_decoding

LAYOUTS = (
    ("img_celeba", "list_landmarks_celeba.txt"),
    ("img_align_celeba", "list_landmarks_align_celeba.txt"),
)
_PARTITIONS = {"0": "train", "1": "val", "2": "test"}


def _data_lines(path: str):
  with open(path, encoding="utf-8") as handle:
    for line in handle:
      fields = line.split()
      if fields:
        yield fields


def read_attributes(path: str, ledger: image_decoding.SkipLedger):
  """Return (names, {file: uint8 labels}, all file names seen) from list_attr_celeba.txt."""
  lines = _data_lines(path)
  first = next(lines, None)
  # The count line is optional in practice (hand-edited copies drop it).
  header = next(lines, None) if first is not None and len(first) == 1 and first[0].isdigit() else first
  if header is None:
    raise data_spec.DataSpecError(f"{path} has no header line of attribute names")
  labels, mentioned = {}, set()
  for fields in lines:
    name, values = fields[0], fields[1:]
    mentioned.add(name)
    if len(values) != len(header) or any(v not in ("1", "-1", "0") for v in values):
      ledger.skip("bad attribute row", name)
      continue
    labels[name] = (np.array([int(v) for v in values]) > 0).astype(np.uint8)
  return header, labels, frozenset(mentioned)


def read_partition(path: str, ledger: image_decoding.SkipLedger) -> dict:
  """Return {file: split} from list_eval_partition.txt."""
  split_of = {}
  for fields in _data_lines(path):
    if len(fields) != 2 or fields[1] not in _PARTITIONS:
      ledger.skip("bad partition row", fields[0])
      continue
    split_of[fields[0]] = _PARTITIONS[fields[1]]
  return split_of


def read_landmarks(path: str, ledger: image_decoding.SkipLedger) -> dict:
  """Return {file: float32 [5, 2]} from a CelebA landmark file."""
  landmarks = {}
  for fields in _data_lines(path):
    if len(fields) == 1 or not fields[0].lower().endswith(folder.IMAGE_EXTENSIONS):
      continue  # Count line and header line.
    try:
      points = np.array([float(v) for v in fields[1:]], np.float32)
    except ValueError:
      points = np.zeros(0)
    if points.shape != (10,):
      ledger.skip("bad landmark row", fields[0])
      continue
    landmarks[fields[0]] = points.reshape(5, 2)
  return landmarks


def find_layout(root: str):
  """Return (image folder, landmark file) of the first complete layout in root."""
  for images, landmarks in LAYOUTS:
    if os.path.isdir(os.path.join(root, images)) and os.path.isfile(os.path.join(root, landmarks)):
      return images, landmarks
  raise FileNotFoundError(
      f"celeba:{root} has neither img_celeba/ + list_landmarks_celeba.txt nor "
      "img_align_celeba/ + list_landmarks_align_celeba.txt")


def open_source(argument: str, image_size: int, deterministic: bool = True,
                **unused_options) -> folder.FileSource:
  """Open `celeba:DIR`. Opening reads the text files and stats the images, no decoding."""
  root = os.path.abspath(os.path.expanduser(argument))
  for required in ("list_attr_celeba.txt", "list_eval_partition.txt"):
    if not os.path.isfile(os.path.join(root, required)):
      raise FileNotFoundError(f"celeba:{argument} is missing {required} (expected in {root})")
  images, landmark_file = find_layout(root)
  ledger = image_decoding.SkipLedger()
  names, labels, mentioned = read_attributes(os.path.join(root, "list_attr_celeba.txt"), ledger)
  split_of = read_partition(os.path.join(root, "list_eval_partition.txt"), ledger)
  landmarks = read_landmarks(os.path.join(root, landmark_file), ledger)
  image_root = os.path.join(root, images)
  # Links leading outside the image folder, and loops, are skipped and counted as in folder:.
  present = folder.scan_images(image_root, ledger)
  usable = folder.check_listed_files(list(labels), present, ledger, mentioned,
                                     folder.scanned_out(ledger))
  tables = folder.build_tables(usable, labels, landmarks, split_of, ledger)
  source = folder.FileSource(image_root, names, image_size, tables, ledger, deterministic)
  source.layout = images
  return source
