"""Load a trained ELEGANT for inference from a SavedModel, a model folder or a run directory.

Every form comes back as a TransferModel: attribute names, image size, and a
transfer call over numpy batches, so the CLIs need not care where it came from.
"""

import dataclasses
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from elegant_tf import export
from elegant_tf import generator as generator_lib
from elegant_tf import train_config


@dataclasses.dataclass
class TransferModel:
  """transfer(image, exemplar, attributes) -> {"edited", "exemplar_edited"} (numpy).

  image, exemplar: float32 [b, S, S, 3] in [-1, 1]; attributes: float32 [b, n].
  `generator` is the Keras generator when loaded from a run directory (None otherwise).
  """
  attribute_names: tuple
  image_size: int
  transfer: Callable
  source: str
  generator: object = None


def _latest_version(model_dir: str) -> str:
  versions = export.existing_versions(model_dir)
  if not versions:
    raise FileNotFoundError(f"{model_dir} holds no numeric version folder")
  return os.path.join(model_dir, str(versions[-1]))


def load_saved_model(version_dir: str) -> TransferModel:
  metadata = export.read_metadata(version_dir)
  loaded = tf.saved_model.load(version_dir)
  signature = loaded.signatures["serving_default"]

  def transfer(image, exemplar, attributes):
    outputs = signature(image=tf.constant(image, tf.float32),
                        exemplar=tf.constant(exemplar, tf.float32),
                        attributes=tf.constant(attributes, tf.float32))
    return {k: v.numpy() for k, v in outputs.items()}

  return TransferModel(tuple(metadata["attribute_names"]), int(metadata["image_size"]),
                       transfer, version_dir)


def load_run_dir(run_dir: str) -> TransferModel:
  """Rebuild the generator from the run's flags.txt and restore it from the newest checkpoint."""
  config = train_config.TrainConfig.from_flagfile(
      os.path.join(run_dir, train_config.RESOLVED_FLAGS_FILE))
  generator = generator_lib.ElegantGenerator(len(config.attributes), config.encoder_widths,
                                             name="generator")
  images = np.zeros((1, config.image_size, config.image_size, 3), np.float32)
  generator({"image": images, "exemplar": images,
             "attributes": np.zeros((1, len(config.attributes)), np.float32)})
  latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  if latest is None:
    raise FileNotFoundError(f"{run_dir} has no checkpoint yet")
  # Only the generator is wanted; its variables must all be in the checkpoint.
  tf.train.Checkpoint(generator=generator).restore(latest).expect_partial() \
      .assert_existing_objects_matched()

  def transfer(image, exemplar, attributes):
    outputs = generator({"image": image, "exemplar": exemplar, "attributes": attributes})
    return {k: np.asarray(v) for k, v in outputs.items()}

  return TransferModel(tuple(config.attributes), config.image_size, transfer, latest,
                       generator)


def load(path: str) -> TransferModel:
  """A SavedModel version folder, a model folder (newest version), or a run directory."""
  if os.path.exists(os.path.join(path, "saved_model.pb")):
    return load_saved_model(path)
  if os.path.exists(os.path.join(path, train_config.RESOLVED_FLAGS_FILE)):
    return load_run_dir(path)
  if os.path.isdir(path) and export.existing_versions(path):
    return load_saved_model(_latest_version(path))
  raise FileNotFoundError(
      f"--model={path} is neither a SavedModel (saved_model.pb), a model folder with numeric "
      "versions, nor a run directory (flags.txt + checkpoints/)")
