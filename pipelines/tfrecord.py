"""`tfrecord:DIR`: faces aligned once by `pipelines.prepare`, read at full speed.

Layout of DIR:
  manifest.json                      image size, attribute names, splits, shard list,
                                     what preparation skipped; written last.
  <split>-NNNNN.tfrecord             tf.train.Examples: image (JPEG of the aligned
                                     S x S face), labels (int64 0/1), key (source file).
  <split>-NNNNN.index.npz            keys, labels and byte offsets of each record.
Shards are ordinary TFRecord files. The sidecar offsets give random access
(os.pread of one record), which the index-driven pair sampler needs: per-attribute
positive and negative streams pick examples by index, not in file order. Splits
whose shards fit the memory budget are held in memory after first use.
"""

import json
import os
import re
import struct
import threading
from typing import Optional

import numpy as np
import tensorflow as tf

from pipelines import data_spec
from pipelines import face_source
from pipelines import image_decoding

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
# Hold a split's shards in memory when they total less than this.
DEFAULT_CACHE_BYTES = 2 << 30


def shard_stem(split: str, shard: int) -> str:
  return f"{split}-{shard:05d}"


def serialize_example(image_bytes: bytes, labels: np.ndarray, key: str) -> bytes:
  feature = {
      "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_bytes])),
      "labels": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in labels])),
      "key": tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode("utf-8")])),
  }
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def record_offsets(path: str) -> tuple:
  """Return (data offsets, data lengths) of every record in an uncompressed TFRecord file."""
  offsets, lengths = [], []
  size = os.path.getsize(path)
  with open(path, "rb") as handle:
    position = 0
    while position < size:
      handle.seek(position)
      header = handle.read(12)
      if len(header) < 12:
        raise data_spec.DataSpecError(f"{path}: truncated record header at byte {position}")
      (length,) = struct.unpack("<Q", header[:8])
      offsets.append(position + 12)
      lengths.append(length)
      position += 12 + length + 4
  return np.array(offsets, np.int64), np.array(lengths, np.int64)


def write_shard(directory: str, split: str, shard: int, records: list,
                num_attributes: int) -> None:
  """Write one shard atomically: temp files first, renamed only when complete.

  `records` holds (serialized example, uint8 labels, key). The sidecar is renamed
  before the shard, so an existing shard always has its index next to it.
  """
  stem = os.path.join(directory, shard_stem(split, shard))
  temporary = f"{stem}.tfrecord.tmp-{os.getpid()}"
  with tf.io.TFRecordWriter(temporary) as writer:
    for serialized, _, _ in records:
      writer.write(serialized)
  offsets, lengths = record_offsets(temporary)
  index_temporary = f"{stem}.index.tmp-{os.getpid()}.npz"
  np.savez(index_temporary,
           keys=np.array([key for _, _, key in records], dtype=str),
           labels=(np.stack([labels for _, labels, _ in records]).astype(np.uint8)
                   if records else np.zeros((0, num_attributes), np.uint8)),
           offsets=offsets, lengths=lengths)
  os.replace(index_temporary, f"{stem}.index.npz")
  os.replace(temporary, f"{stem}.tfrecord")


def shard_complete(directory: str, split: str, shard: int) -> bool:
  stem = os.path.join(directory, shard_stem(split, shard))
  return os.path.exists(f"{stem}.tfrecord") and os.path.exists(f"{stem}.index.npz")


# Every name `prepare` writes into its output folder, finished or temporary. Nothing
# else there is ever deleted or overwritten (see prepare.check_out_dir).
_SHARD = r"(?:train|val|test)-\d{5}"
PREPARED_NAME = re.compile(rf"{_SHARD}\.tfrecord|{_SHARD}\.index\.npz|"
                           r"manifest\.json|prepare_state\.json")
TEMPORARY_NAME = re.compile(rf"{_SHARD}\.tfrecord\.tmp-\d+|{_SHARD}\.index\.tmp-\d+\.npz|"
                            r"(?:manifest|prepare_state)\.json\.tmp-\d+")


def remove_temporaries(directory: str) -> int:
  """Delete the temporary files an interrupted `prepare` left (its exact names only);
  return how many."""
  removed = 0
  for name in os.listdir(directory):
    if TEMPORARY_NAME.fullmatch(name):
      os.remove(os.path.join(directory, name))
      removed += 1
  return removed


def write_manifest(directory: str, manifest: dict) -> None:
  temporary = os.path.join(directory, f"{MANIFEST}.tmp-{os.getpid()}")
  with open(temporary, "w") as handle:
    json.dump(manifest, handle, indent=2, sort_keys=True)
  os.replace(temporary, os.path.join(directory, MANIFEST))


def read_manifest(directory: str) -> dict:
  path = os.path.join(directory, MANIFEST)
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"{directory} has no {MANIFEST}: it was not prepared, or preparation did not finish. "
        f"Run (again; it resumes): python -m pipelines.prepare --data=celeba:CELEBA_DIR "
        f"--image_size=256 --out={directory}")
  with open(path) as handle:
    manifest = json.load(handle)
  if manifest.get("format") != FORMAT_VERSION:
    raise data_spec.DataSpecError(
        f"{path}: format {manifest.get('format')} is not {FORMAT_VERSION}; re-prepare")
  return manifest


class TFRecordSource(image_decoding.IndexedImageSource):
  """Aligned faces from prepared shards, fetched by index with one pread each."""

  def __init__(self, directory: str, manifest: dict, image_size: int, deterministic: bool,
               cache_bytes: int):
    tables, self._locations = {}, {}
    for split in face_source.SPLITS:
      shards = manifest["splits"].get(split, {}).get("shards", [])
      keys, labels, shard_ids, offsets, lengths = [], [], [], [], []
      for shard_id, stem in enumerate(shards):
        with np.load(os.path.join(directory, f"{stem}.index.npz")) as index:
          keys.extend(index["keys"].tolist())
          labels.append(index["labels"])
          shard_ids.append(np.full(len(index["offsets"]), shard_id, np.int64))
          offsets.append(index["offsets"])
          lengths.append(index["lengths"])
      width = len(manifest["attribute_names"])
      tables[split] = {
          "keys": keys,
          "labels": np.concatenate(labels) if labels else np.zeros((0, width), np.uint8),
          "landmarks": None,  # Already aligned.
      }
      self._locations[split] = (
          [os.path.join(directory, f"{stem}.tfrecord") for stem in shards],
          np.concatenate(shard_ids) if shard_ids else np.zeros(0, np.int64),
          np.concatenate(offsets) if offsets else np.zeros(0, np.int64),
          np.concatenate(lengths) if lengths else np.zeros(0, np.int64))
    ledger = image_decoding.SkipLedger()
    # Preparation's skips belong to this data set's report too.
    for reason, count in manifest.get("skipped", {}).items():
      for n in range(count):
        ledger.skip(reason, f"(at preparation) #{n}")
    for reason, count in manifest.get("converted", {}).items():
      for n in range(count):
        ledger.convert(reason, f"(at preparation) #{n}")
    super().__init__(manifest["attribute_names"], image_size, tables, ledger, deterministic)
    self.directory = directory
    self.manifest = manifest
    self._cache_bytes = cache_bytes
    self._lock = threading.Lock()
    self._files = {}
    self._memory = {}

  def _shard_bytes(self, path: str):
    """Whole shard in memory if its split fits the budget, else None."""
    with self._lock:
      if path not in self._memory:
        split_paths = next(paths for paths, *_ in self._locations.values() if path in paths)
        total = sum(os.path.getsize(p) for p in split_paths)
        if total <= self._cache_bytes:
          with open(path, "rb") as handle:
            self._memory[path] = handle.read()
        else:
          self._memory[path] = None
          self._files[path] = os.open(path, os.O_RDONLY)
      return self._memory[path]

  def read_bytes(self, split, index):
    paths, shard_ids, offsets, lengths = self._locations[split]
    path = paths[shard_ids[index]]
    offset, length = int(offsets[index]), int(lengths[index])
    data = self._shard_bytes(path)
    serialized = (data[offset:offset + length] if data is not None
                  else os.pread(self._files[path], length, offset))
    example = tf.train.Example.FromString(serialized)
    return example.features.feature["image"].bytes_list.value[0]


def open_source(argument: str, image_size: int, deterministic: bool = True,
                cache_bytes: int = DEFAULT_CACHE_BYTES, **unused_options) -> TFRecordSource:
  """Open `tfrecord:DIR`; the prepared size must be at least `image_size`."""
  directory = os.path.abspath(os.path.expanduser(argument))
  manifest = read_manifest(directory)
  if image_size > manifest["image_size"]:
    raise data_spec.DataSpecError(
        f"tfrecord:{argument} was prepared at {manifest['image_size']} px; training at "
        f"{image_size} px needs a preparation at that size "
        f"(python -m pipelines.prepare ... --image_size={image_size})")
  return TFRecordSource(directory, manifest, image_size, deterministic, cache_bytes)
