"""Where exported models live and what they say about themselves.

A model folder holds numeric version folders (TF Serving's layout), each a
SavedModel with `assets/elegant_metadata.json`; a .tflite file carries the same
JSON as a TFLite metadata entry. Every reader and writer of that layout uses
these functions, so "the newest version" and "the metadata" mean one thing.
"""

import json
import os
import struct

import numpy as np
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from pipelines import usage

METADATA_FILE = "elegant_metadata.json"
TFLITE_METADATA_NAME = "elegant_metadata"


def existing_versions(export_dir: str) -> list[int]:
  """The numeric version folders of a model folder, ascending ([] if none or no folder)."""
  if not os.path.isdir(export_dir):
    return []
  return sorted(int(name) for name in os.listdir(export_dir) if name.isdigit())


def next_version(export_dir: str) -> int:
  """One above the highest existing version (1 for a new model folder)."""
  versions = existing_versions(export_dir)
  return versions[-1] + 1 if versions else 1


def is_version_dir(path: str) -> bool:
  return os.path.exists(os.path.join(path, "saved_model.pb"))


def newest_version_dir(path: str) -> str:
  """A SavedModel version folder as is; a model folder -> its highest version."""
  if is_version_dir(path):
    return path
  versions = existing_versions(path)
  if not versions:
    raise ModelFileError(f"{path} is neither a SavedModel version folder (saved_model.pb) "
                            "nor a model folder with numeric versions")
  return os.path.join(path, str(versions[-1]))


class ModelFileError(usage.UsageError):
  """A path given as a model that cannot be used: missing, not a model at all, the wrong
  kind for what is asked, or a model file with missing parts, truncated, corrupt or not
  written by this project. The message names the path and what is wrong, in one line,
  and no flag; a command adds the flag (usage.for_flag)."""


def checked_metadata(metadata, origin: str) -> dict:
  """`metadata` when it has the fields every loader relies on; ModelFileError naming
  `origin` (the file's path or a description of it) otherwise: a hand-edited or
  foreign file fails here, not as a TypeError later."""
  if not isinstance(metadata, dict):
    raise ModelFileError(f"{origin}: the metadata is not a JSON object")
  names = metadata.get("attribute_names")
  if (not isinstance(names, list) or not names
      or not all(isinstance(name, str) and name for name in names)):
    raise ModelFileError(f"{origin}: attribute_names must be a non-empty list of names, not "
                         f"{names!r}")
  size = metadata.get("image_size")
  if not isinstance(size, int) or isinstance(size, bool) or size < 1:
    raise ModelFileError(f"{origin}: image_size must be a positive integer, not {size!r}")
  return metadata


def read_metadata(version_dir: str) -> dict:
  """The metadata JSON of a SavedModel version folder, checked (ModelFileError)."""
  path = os.path.join(version_dir, "assets", METADATA_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      metadata = json.load(f)
  except FileNotFoundError as error:
    raise ModelFileError(f"{path} is missing: {version_dir} was not exported by "
                         "`python -m elegant_tf.export`") from error
  except OSError as error:
    raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from error
  except ValueError as error:  # JSONDecodeError and UnicodeDecodeError.
    raise ModelFileError(f"{path} is not JSON ({error})") from error
  return checked_metadata(metadata, path)


def write_metadata(version_dir: str, metadata: dict) -> None:
  """Written before the version folder is renamed into place, so it is never partial."""
  os.makedirs(os.path.join(version_dir, "assets"), exist_ok=True)
  with open(os.path.join(version_dir, "assets", METADATA_FILE), "w") as f:
    json.dump(metadata, f, indent=2)


def embed_tflite_metadata(content: bytes, metadata: dict) -> bytes:
  """Add the metadata JSON to a TFLite flatbuffer's metadata list (readable without TF)."""
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
  buffer = tflite_schema.BufferT()
  buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
  model.buffers.append(buffer)
  entry = tflite_schema.MetadataT()
  entry.name = TFLITE_METADATA_NAME
  entry.buffer = len(model.buffers) - 1
  model.metadata = list(model.metadata or []) + [entry]
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(content: bytes, origin: str = "the .tflite file") -> dict:
  """The metadata JSON embedded by `embed_tflite_metadata`, checked; ModelFileError naming
  `origin` (the file's path or a description of it) for a file that is not such a
  flatbuffer (truncated, random bytes)."""
  try:
    model = tflite_schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
      entry = model.Metadata(i)
      if entry.Name() == TFLITE_METADATA_NAME.encode():
        metadata = json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
        return checked_metadata(metadata, origin)
  except ModelFileError:
    raise
  # The flatbuffer reader follows offsets read from the file: garbage fails anywhere.
  except (struct.error, IndexError, ValueError, TypeError, AttributeError) as error:
    raise ModelFileError(f"{origin} is not a TFLite model (truncated or corrupt)") from error
  raise ModelFileError(f"{origin} has no {TFLITE_METADATA_NAME} entry: not written by "
                       "`python -m elegant_tf.tflite`")
