"""Export the generator as a SavedModel that TF Serving loads, in numeric version folders.

Layout: <export_dir>/<version>/ (saved_model.pb, variables/, assets/elegant_metadata.json).
A version is written under a temporary name and renamed when complete, so TF
Serving, which polls the folder, never sees a half-written model; an existing
version is never overwritten.
"""

import json
import os
import shutil
from typing import Optional, Sequence

import keras
import tensorflow as tf

METADATA_FILE = "elegant_metadata.json"


def existing_versions(export_dir: str) -> list[int]:
  if not os.path.isdir(export_dir):
    return []
  return sorted(int(name) for name in os.listdir(export_dir) if name.isdigit())


def next_version(export_dir: str) -> int:
  versions = existing_versions(export_dir)
  return versions[-1] + 1 if versions else 1


def export_generator(generator, attribute_names: Sequence[str], image_size: int,
                     export_dir: str, version: Optional[int] = None) -> str:
  """Write the generator's `serving_default` transfer signature; return the version folder.

  serving_default inputs: image, exemplar float32 [b, S, S, 3] in [-1, 1];
  attributes float32 [b, n] (1 = take that attribute from the exemplar; values
  in between interpolate). Outputs: edited (the image with the exemplar's
  attributes), exemplar_edited (the exemplar with the image's).
  """
  version = next_version(export_dir) if version is None else int(version)
  final_dir = os.path.join(export_dir, str(version))
  if os.path.exists(final_dir):
    raise FileExistsError(f"{final_dir} exists; versions are never overwritten, pick another "
                          f"(next free: {next_version(export_dir)})")
  num_attributes = len(attribute_names)
  image_spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="image")
  exemplar_spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32, name="exemplar")
  attributes_spec = tf.TensorSpec([None, num_attributes], tf.float32, name="attributes")

  def transfer(image, exemplar, attributes):
    return generator({"image": image, "exemplar": exemplar, "attributes": attributes})

  archive = keras.export.ExportArchive()
  archive.track(generator)
  archive.add_endpoint("serving_default", transfer,
                       input_signature=[image_spec, exemplar_spec, attributes_spec])
  os.makedirs(export_dir, exist_ok=True)
  temporary_dir = os.path.join(export_dir, f".incomplete-{version}")
  shutil.rmtree(temporary_dir, ignore_errors=True)
  archive.write_out(temporary_dir, verbose=False)
  os.makedirs(os.path.join(temporary_dir, "assets"), exist_ok=True)
  metadata = {"attribute_names": list(attribute_names), "image_size": image_size,
              "value_range": [-1.0, 1.0], "version": version,
              "encoder_widths": list(generator.encoder_widths)}
  with open(os.path.join(temporary_dir, "assets", METADATA_FILE), "w") as f:
    json.dump(metadata, f, indent=2)
  os.rename(temporary_dir, final_dir)
  return final_dir


def read_metadata(version_dir: str) -> dict:
  with open(os.path.join(version_dir, "assets", METADATA_FILE)) as f:
    return json.load(f)
