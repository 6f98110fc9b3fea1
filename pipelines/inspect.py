"""Print what a user needs to know about a data set before a long run.

  python -m pipelines.inspect --data=celeba:/data/celeba --attributes=Bangs,Eyeglasses \
      --split=train --sheet=/tmp/sheet.png

Reports images per split, positives and negatives per chosen attribute, warnings
about attributes that always or never co-occur, files skipped and converted by
reason, and, with --sheet, writes a PNG contact sheet of aligned samples with
their labels (no sheet without it); --draw_landmarks marks each sample's five
landmarks (from the data's landmark file, or found by folder:DIR,landmarks=auto) on
it, where the alignment put them, so a wrong landmark shows as a dot off the eye,
nose or mouth. Decode failures show up only when a file is
read: `--check_all` decodes every image of the chosen split so the skip counts
are complete (slow on 200k images); the split's image and attribute counts are
then of the usable images only, without the files found undecodable. Bad use (a
bad --data spec, a missing data folder, an unknown split, an unknown flag or a bad
flag value) prints one line and exits with status 2.
"""

import sys

import numpy as np
import tensorflow as tf
from absl import flags
from PIL import Image
from PIL import ImageDraw

from pipelines import alignment
from pipelines import atomic_files
from pipelines import data_spec
from pipelines import face_source
from pipelines import image_grid
from pipelines import label_stats
from pipelines import pairs
from pipelines import uint8_pixels
from pipelines import usage

FLAGS = flags.FLAGS
# Tiles on a contact sheet, in pixels: the tiles and the sheet are both held in memory
# (--sheet_images=20000 at 256 px was killed at 21.8 GB). 976 tiles at 256 px, about 200 MB each.
MAX_SHEET_PIXELS = 64_000_000


def max_samples(image_size: int) -> int:
  """The most --sheet_images a sheet of `image_size` tiles may hold."""
  return max(1, MAX_SHEET_PIXELS // max(image_size, 1) ** 2)


def check_flags(samples: int, image_size: int, sheet) -> None:
  """usage.UsageError for flags that cannot work, before any data is opened."""
  if samples < 1:
    raise usage.UsageError(f"--sheet_images={samples} must be at least 1")
  if image_size < 1:
    raise usage.UsageError(f"--image_size={image_size} must be at least 1")
  if samples > max_samples(image_size):
    raise usage.UsageError(f"--sheet_images={samples} is too many at --image_size={image_size}: at most "
                     f"{max_samples(image_size)} (a sheet holds at most {MAX_SHEET_PIXELS:,} "
                     "pixels of samples)")
  if sheet is not None:
    try:
      atomic_files.check_output_file(sheet, "a .png")
    except ValueError as error:
      raise usage.UsageError(f"--sheet: {error}") from error


def define_flags():
  """Define the CLI flags; only when run as a program, so importing never clashes."""
  flags.DEFINE_string("data", "synthetic", "Data spec: synthetic, celeba:DIR, folder:DIR[,landmarks=auto], tfrecord:DIR, tfds:celeb_a.")
  flags.DEFINE_list("attributes", None, "Attributes to report (default: all).")
  flags.DEFINE_string("split", "train", "Split the samples and attribute counts come from.")
  flags.DEFINE_integer("image_size", data_spec.DEFAULT_IMAGE_SIZE,
                       "Side of the aligned samples, in pixels (the size a model trains on).")
  flags.DEFINE_integer("sheet_images", 16, "Images on the contact sheet; at most "
                       f"{MAX_SHEET_PIXELS:,} pixels of them (sheet_images x image_size^2: "
                       f"{max_samples(256)} at 256 px, {max_samples(128)} at 128 px).")
  # The name before 2026-12-02 (one noun per kind of count: pairs, images, steps).
  flags.DEFINE_alias("samples", "sheet_images")
  flags.DEFINE_string("sheet", None, "Where to write the contact sheet PNG (replaced if it "
                      f"exists; {atomic_files.MISSING_FOLDERS_HELP}); no sheet is written "
                      "without it.")
  flags.DEFINE_bool("draw_landmarks", False, "Mark each sample's five landmarks on the "
                    "contact sheet (sources with landmarks: celeba:DIR, folder:DIR with "
                    "landmarks.csv or ,landmarks=auto).")
  flags.DEFINE_bool("check_all", False, "Decode every image of the split to count decode failures.")
  flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory.")


def contact_sheet(images: np.ndarray, captions: list, columns: int = 4) -> np.ndarray:
  """Tile uint8 [N, S, S, 3] images into a grid with a caption strip under each."""
  size = images.shape[1]
  caption_height = 12 * max((len(c) for c in captions), default=1) + 4
  sheet = image_grid.tile_uint8(images, columns, space_below=caption_height)
  # Pillow is a dependency of the package (setup.cfg), so captions are always drawn.
  picture = Image.fromarray(sheet)
  draw = ImageDraw.Draw(picture)
  for n, lines in enumerate(captions):
    top, left = (n // columns) * (size + caption_height) + size + 2, (n % columns) * size + 2
    for k, line in enumerate(lines):
      draw.text((left, top + 12 * k), line, fill=(0, 0, 0))
  return np.asarray(picture)


# Landmark dots: red, 3 x 3 pixels (visible on a 64-256 px tile without hiding the eye).
DOT_COLOUR = (255, 0, 0)


def draw_landmarks(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
  """uint8 aligned `image` with `landmarks` (of the original photo, [5, 2]) drawn as dots
  where the alignment's similarity maps them."""
  size = image.shape[0]
  params = alignment.similarity_params(landmarks, alignment.template_landmarks(size))
  points = np.round(np.asarray(alignment.apply_similarity(params, landmarks))).astype(int)
  marked = image.copy()
  for x, y in points:
    if 0 <= x < size and 0 <= y < size:
      marked[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = DOT_COLOUR
  return marked


def report(source: face_source.FaceSource, attributes, split: str, samples: int,
           sheet_path: str, check_all: bool = False, out=sys.stdout,
           with_landmarks: bool = False) -> dict:
  """Print the report for `source`; return the numbers it printed."""
  attributes = list(attributes or source.attribute_names)
  columns = pairs.attribute_columns(source, attributes)
  sizes = {s: len(source.labels(s)) for s in face_source.SPLITS}
  labels = source.labels(split)
  listed = sizes[split]
  if check_all and hasattr(source, "aligned_images") and sizes[split]:
    for _ in source.aligned_images(split, tf.data.Dataset.range(sizes[split]), False):
      pass
    # Count only the usable images: drop the files this full check found undecodable.
    ledger_skipped = set()
    for reason in source.skipped_counts():
      ledger_skipped.update(source.ledger.skipped_keys(reason))
    usable = np.array([key not in ledger_skipped for key in source.keys(split)], bool)
    labels = labels[usable]
    sizes[split] = int(usable.sum())
  print(f"images per split: " + ", ".join(f"{s} {n}" for s, n in sizes.items()), file=out)
  if sizes[split] != listed:
    print(f"  ({split}: {sizes[split]} usable of {listed} listed; counts below are of the "
          "usable images)", file=out)
  counts = {}
  print(f"\n{split}: positives / negatives per attribute", file=out)
  for name, column in zip(attributes, columns):
    positives = int(labels[:, column].sum()) if len(labels) else 0
    counts[name] = (positives, len(labels) - positives)
    print(f"  {name:24s} {positives:8d} / {len(labels) - positives:8d}", file=out)
  warnings = label_stats.attribute_warnings(labels[:, columns], attributes) if len(labels) else []
  for warning in warnings:
    print(f"warning: {warning}", file=out)

  images, captions = [], []
  if sheet_path is None:
    pass  # No sheet asked for: decode no samples.
  elif hasattr(source, "aligned_images") and listed:
    # Spread picks over the split; draw spares so skipped files don't shrink the sheet.
    picks = np.unique(np.linspace(0, listed - 1, num=min(3 * samples, listed)).astype(np.int64))
    picks = np.concatenate([picks[::3], np.setdiff1d(picks, picks[::3])])
    aligned = source.aligned_images(split, tf.data.Dataset.from_tensor_slices(picks), True)
    split_landmarks = source.landmarks(split) if with_landmarks else None
    for image, label, index in aligned.take(samples):
      pixels = image.numpy()
      if split_landmarks is not None:
        pixels = draw_landmarks(pixels, split_landmarks[int(index)])
      images.append(pixels)
      on = [name for name, column in zip(attributes, columns) if label.numpy()[column] > 0]
      key = source.keys(split)[int(index)] if hasattr(source, "keys") else str(int(index))
      captions.append([key[-22:]] + [", ".join(on[i:i + 2]) for i in range(0, len(on), 2)][:3])
  elif sizes[split]:
    indices = tf.data.Dataset.range(min(samples, sizes[split]))
    for batch, label in source.batches(split, indices, min(samples, sizes[split])).take(1):
      images = list(uint8_pixels.to_uint8(batch.numpy()))
      captions = [[", ".join(n for n, c in zip(attributes, columns) if row[c] > 0)[:24]]
                  for row in label.numpy()]

  skipped = source.skipped_counts()
  converted = source.converted_counts() if hasattr(source, "converted_counts") else {}
  print("\nfiles skipped" + ("" if check_all else
                            " (decode failures: only among files read so far; --check_all for all)"),
        file=out)
  for reason, count in sorted(skipped.items()) or [("none", 0)]:
    print(f"  {reason:40s} {count}", file=out)
  print("files converted", file=out)
  for reason, count in sorted(converted.items()) or [("none", 0)]:
    print(f"  {reason:40s} {count}", file=out)
  if images:
    sheet = contact_sheet(np.stack(images), captions)
    try:
      atomic_files.write_png_atomically(sheet_path, sheet)
    except OSError as error:  # An unwritable folder, a full disk: the report is printed.
      raise usage.UsageError(f"cannot write --sheet={sheet_path}: "
                       f"{error.strerror or error}") from error
    print(f"\ncontact sheet of {len(images)} aligned samples: {sheet_path}", file=out)
  return {"sizes": sizes, "counts": counts, "warnings": warnings, "skipped": skipped,
          "converted": converted, "samples": len(images)}


def main(argv):
  usage.check_no_arguments(argv)
  check_flags(FLAGS.sheet_images, FLAGS.image_size, FLAGS.sheet)
  # Only the data's own errors are bad use; anything else keeps its traceback.
  try:
    # Synthetic faces are rendered deterministically and take no such option.
    kind, _ = data_spec.parse_data_spec(FLAGS.data)
    options = {} if kind == "synthetic" else {"deterministic": True}
    source = data_spec.open_source(FLAGS.data, FLAGS.image_size,
                                   tfds_data_dir=FLAGS.tfds_data_dir, **options)
  except (data_spec.DataSpecError, FileNotFoundError, NotADirectoryError) as error:
    raise usage.for_flag("data", error, FLAGS.data) from error
  try:
    source.check_split(FLAGS.split)
  except data_spec.DataSpecError as error:
    raise usage.for_flag("split", error) from error
  report(source, FLAGS.attributes, FLAGS.split, FLAGS.sheet_images, FLAGS.sheet, FLAGS.check_all,
         with_landmarks=FLAGS.draw_landmarks)


def run():
  """Entry point of `python -m pipelines.inspect` and the elegant-inspect console script."""
  define_flags()
  usage.run("inspect", main)


if __name__ == "__main__":
  run()
