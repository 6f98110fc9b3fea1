"""Align a face data set once and write it as sharded TFRecords for `tfrecord:DIR`.

  python -m pipelines.prepare --data=celeba:/data/celeba --image_size=256 --out=/data/celeba256

Aligning 200k photos every epoch wastes the CPU the training step needs; this
does it once. Each shard is written under a temporary name and renamed when
complete, so an interrupted run leaves no half-written shard, and running the
same command again resumes at the first missing shard. The manifest, written
last, marks the directory as ready.
"""

import json
import math
import os
import sys

from absl import flags
import keras
import numpy as np
import tensorflow as tf

from pipelines import atomic_files
from pipelines import data_spec
from pipelines import face_source
from pipelines import image_decoding
from pipelines import tfrecord
from pipelines import usage

FLAGS = flags.FLAGS


def define_flags():
  """Define the CLI flags; only when run as a program, so importing never clashes."""
  flags.DEFINE_string("data", None, "Source to prepare: celeba:DIR, folder:DIR[,landmarks=auto] or tfds:celeb_a.")
  flags.DEFINE_integer("image_size", 256, "Side of the aligned square images stored, in "
                       "pixels; larger than the models' default (64), since every reader "
                       "downscales on read and cannot upscale without blur.")
  flags.DEFINE_string("out", None, "Output directory (reused to resume; "
                      f"{atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_integer("examples_per_shard", 2000, "Images per TFRecord shard.")
  flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality of the stored aligned images.")
  flags.DEFINE_string("tfds_data_dir", None, "TFDS data directory (for --data=tfds:celeb_a).")
  flags.DEFINE_list("splits", list(face_source.SPLITS), "Splits to write.")


STATE = "prepare_state.json"


def _load_state(path: str, expected: dict) -> dict:
  """Return the saved state; refuse to resume a run made with other settings."""
  if not os.path.exists(path):
    return {"settings": expected, "skipped": {}, "converted": {}}
  try:
    with open(path, encoding="utf-8") as handle:
      state = json.load(handle)
  except OSError as error:
    raise usage.UsageError(f"cannot read {path}: {error.strerror or error}") from error
  except ValueError as error:  # Not JSON, or not UTF-8.
    raise usage.UsageError(f"{path} is not JSON ({error}); it is prepare's state: delete it only "
                     "with the shards of that folder") from error
  if not (isinstance(state, dict) and all(isinstance(state.get(key), dict)
                                          for key in ("settings", "skipped", "converted"))):
    raise usage.UsageError(f"{path} is not a prepare state (it needs the settings, skipped and "
                     "converted tables); delete it only with the shards of that folder")
  if state["settings"] != expected:
    raise usage.UsageError(f"{os.path.dirname(path)} holds a preparation with other settings "
                     f"{state['settings']}; use another --out or delete it")
  return state


def _save_state(path: str, state: dict) -> None:
  temporary = f"{path}.tmp-{os.getpid()}"
  with open(temporary, "w") as handle:
    json.dump(state, handle, indent=1, sort_keys=True)
  os.replace(temporary, path)


def check_out_dir(out: str) -> None:
  """Refuse an --out that holds anything prepare did not write (usage.UsageError).

  Resuming deletes prepare's temporary files and replaces its shards; a folder
  with other content (or one prepare never marked with its state file) could
  lose files that merely look like ours.
  """
  if not os.path.isdir(out):
    if os.path.exists(out):
      raise usage.UsageError(f"--out={out} is a file, not a folder")
    return
  names = os.listdir(out)
  if not names:
    return
  foreign = sorted(name for name in names if not (tfrecord.PREPARED_NAME.fullmatch(name)
                                                  or tfrecord.TEMPORARY_NAME.fullmatch(name)))
  if foreign:
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    raise usage.UsageError(f"--out={out} holds files prepare did not write ({shown}); give a new or "
                     "empty folder, or a folder of an earlier prepare to resume")
  if STATE not in names:
    raise usage.UsageError(f"--out={out} holds shard-like files but no {STATE}, so prepare did not "
                     "write them; give a new or empty folder")


# Sources prepare writes: stored photos to align once. Synthetic faces are rendered on the
# fly and tfrecord:DIR is prepare's own output.
PREPARABLE_KINDS = ("celeba", "folder", "tfds")


def check_data(spec: str) -> None:
  """usage.UsageError for a --data prepare cannot prepare, before anything is opened."""
  kind, _ = data_spec.parse_data_spec(spec)
  if kind not in PREPARABLE_KINDS:
    raise usage.UsageError(f"--data={spec}: prepare aligns stored photos once (--data=celeba:DIR, "
                     f"folder:DIR or tfds:celeb_a); {kind} data has nothing to prepare")


def check_settings(image_size: int, examples_per_shard: int, jpeg_quality: int,
                   splits) -> None:
  """usage.UsageError for settings prepare cannot use."""
  if image_size < 1:
    raise usage.UsageError(f"--image_size={image_size} must be at least 1")
  if examples_per_shard < 1:
    raise usage.UsageError(f"--examples_per_shard={examples_per_shard} must be at least 1")
  if not 1 <= jpeg_quality <= 100:
    raise usage.UsageError(f"--jpeg_quality={jpeg_quality} must lie in [1, 100]")
  unknown = [split for split in splits if split not in face_source.SPLITS]
  if unknown or not splits:
    raise usage.UsageError(f"--splits={','.join(splits)}; valid: {', '.join(face_source.SPLITS)}")


def merge_ledger(state: dict, ledger: image_decoding.SkipLedger) -> None:
  """Add the keys `ledger` skipped and converted, by reason, to the run's saved `state`
  ({"skipped": {reason: keys}, "converted": ...}); each reason's keys stay sorted and
  unique, so merging after every shard and again at the end counts each file once."""
  for kind, counts, keys in (("skipped", ledger.skipped_counts, ledger.skipped_keys),
                             ("converted", ledger.converted_counts, ledger.converted_keys)):
    for reason in counts():
      state[kind][reason] = sorted(set(state[kind].get(reason, [])) | set(keys(reason)))


def prepare(source: image_decoding.IndexedImageSource, spec: str, out: str,
            examples_per_shard: int = 2000, jpeg_quality: int = 95,
            splits=face_source.SPLITS, stop_after_shards: int = None,
            verbose: bool = True) -> dict:
  """Write `source` to `out` as shards; resumable. Returns the manifest.

  `stop_after_shards` writes at most that many new shards, then returns None
  without a manifest: it lets tests interrupt a run at a known point.
  """
  if not isinstance(source, image_decoding.IndexedImageSource):
    raise usage.UsageError(f"--data={spec} is not a stored-image source; nothing to prepare")
  check_settings(source.image_size, examples_per_shard, jpeg_quality, splits)
  check_out_dir(out)
  os.makedirs(out, exist_ok=True)
  removed = tfrecord.remove_temporaries(out)
  if removed and verbose:
    print(f"removed {removed} partial file(s) of an interrupted run", file=sys.stderr)
  sizes = {split: len(source.labels(split)) for split in splits}
  settings = {"data": spec, "image_size": source.image_size,
              "examples_per_shard": examples_per_shard, "jpeg_quality": jpeg_quality,
              "attribute_names": list(source.attribute_names), "sizes": sizes}
  state_path = os.path.join(out, STATE)
  state = _load_state(state_path, settings)
  _save_state(state_path, state)
  total = sum(sizes.values())
  progress = keras.utils.Progbar(total, unit_name="image") if verbose else None
  done = 0
  written = 0
  manifest_splits = {}

  def encode(image, labels, index):
    return tf.io.encode_jpeg(image, quality=jpeg_quality), labels, index

  for split in splits:
    keys = source.keys(split)
    num_shards = math.ceil(sizes[split] / examples_per_shard)
    stems = []
    for shard in range(num_shards):
      start = shard * examples_per_shard
      stop = min(start + examples_per_shard, sizes[split])
      stems.append(tfrecord.shard_stem(split, shard))
      if not tfrecord.shard_complete(out, split, shard):
        if stop_after_shards is not None and written >= stop_after_shards:
          return None
        indices = tf.data.Dataset.range(start, stop)
        images = source.aligned_images(split, indices, deterministic=True)
        images = images.map(encode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        records = []
        for jpeg, labels, index in images.prefetch(tf.data.AUTOTUNE):
          key = keys[int(index)]
          labels = labels.numpy().astype(np.uint8)
          records.append((tfrecord.serialize_example(jpeg.numpy(), labels, key), labels, key))
        tfrecord.write_shard(out, split, shard, records, len(source.attribute_names))
        written += 1
        # Skips found while decoding this shard survive an interruption.
        merge_ledger(state, source.ledger)
        _save_state(state_path, state)
      done += stop - start
      if progress is not None:
        progress.update(done)
    manifest_splits[split] = {"shards": stems, "num_examples_listed": sizes[split]}
  # Open-time skips (missing, empty, unlisted files) are in the ledger from the start.
  merge_ledger(state, source.ledger)
  manifest = {
      "format": tfrecord.FORMAT_VERSION,
      "source": spec,
      "image_size": source.image_size,
      "attribute_names": list(source.attribute_names),
      "splits": manifest_splits,
      "skipped": {reason: len(keys) for reason, keys in state["skipped"].items()},
      "converted": {reason: len(keys) for reason, keys in state["converted"].items()},
  }
  tfrecord.write_manifest(out, manifest)
  _save_state(state_path, state)
  return manifest


def main(argv):
  usage.check_no_arguments(argv)
  check_settings(FLAGS.image_size, FLAGS.examples_per_shard, FLAGS.jpeg_quality, FLAGS.splits)
  check_data(FLAGS.data)
  check_out_dir(FLAGS.out)  # Before the (slow) source opens.
  # Only the data's own errors are bad use; anything else keeps its traceback.
  try:
    source = data_spec.open_source(FLAGS.data, FLAGS.image_size, deterministic=True,
                                   tfds_data_dir=FLAGS.tfds_data_dir)
  except (data_spec.DataSpecError, FileNotFoundError) as error:
    raise usage.for_flag("data", error, FLAGS.data) from error
  manifest = prepare(source, FLAGS.data, FLAGS.out, FLAGS.examples_per_shard,
                     FLAGS.jpeg_quality, FLAGS.splits)
  print(f"wrote {FLAGS.out}; skipped: {manifest['skipped'] or 'none'}; "
        f"converted: {manifest['converted'] or 'none'}")
  print(f"train with --data=tfrecord:{FLAGS.out}")


def run():
  """Entry point of `python -m pipelines.prepare` and the elegant-prepare console script."""
  define_flags()
  usage.require_flags("data", "out")
  usage.run("prepare", main)


if __name__ == "__main__":
  run()
