"""Load a trained ELEGANT for inference from a SavedModel, a model folder, a run directory
or a .tflite file.

Every form comes back as a TransferModel: attribute names, image size, a transfer
call over numpy batches, and encode/decode for the interpolation modes, so the
CLIs need not care where the model came from.
"""

import os
from typing import Optional

import numpy as np
import tensorflow as tf

from elegant_tf.inference import layout
from elegant_tf.inference import litert_model
from elegant_tf.inference import transfer_model
from elegant_tf.models import precision
from elegant_tf.training import checkpointing
from elegant_tf.training import train_config
from elegant_tf.training import train_lib


TransferModel = transfer_model.TransferModel  # The type every loader returns.
# What every loader raises for a path that is not a usable model (a usage.UsageError).
ModelFileError = layout.ModelFileError


def load_saved_model(version_dir: str) -> TransferModel:
  """Use the SavedModel's own signatures, as TF Serving would."""
  metadata = layout.read_metadata(version_dir)  # Checked first: it is quick.
  try:
    loaded = tf.saved_model.load(version_dir)
  except OSError as error:  # TF's words for a saved_model.pb that does not parse.
    raise ModelFileError(f"{os.path.join(version_dir, 'saved_model.pb')} cannot be loaded "
                         "(truncated or corrupt)") from error
  except (IndexError, ValueError, tf.errors.OpError) as error:  # Variables that do not restore.
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    raise ModelFileError(f"{os.path.join(version_dir, 'variables')} cannot be restored "
                         f"(truncated or corrupt: {reason})") from error
  signatures = loaded.signatures

  def transfer(image, exemplar, attributes, strength=None):
    outputs = signatures["serving_default"](
        image=tf.constant(image, tf.float32), exemplar=tf.constant(exemplar, tf.float32),
        attributes=tf.constant(attributes, tf.float32),
        strength=tf.constant(transfer_model.strength_or_ones(attributes, strength)))
    return {k: v.numpy() for k, v in outputs.items()}

  def encode(image):
    outputs = signatures["encode"](image=tf.constant(image, tf.float32))
    skips = [outputs[f"skip_{k}"].numpy() for k in range(len(outputs) - 1)]
    return outputs["latent"].numpy(), skips

  def decode(image, edited_latent, latent, skips):
    named_skips = {f"skip_{k}": tf.constant(skip, tf.float32) for k, skip in enumerate(skips)}
    return signatures["decode"](
        image=tf.constant(image, tf.float32), edited_latent=tf.constant(edited_latent, tf.float32),
        latent=tf.constant(latent, tf.float32), **named_skips)["edited"].numpy()

  def label_only_edit(key):
    """The numpy form of a label-only signature, or None if the model lacks it."""
    if key not in signatures:
      return None

    def edit(image, attributes, strength=None):
      return signatures[key](
          image=tf.constant(image, tf.float32), attributes=tf.constant(attributes, tf.float32),
          strength=tf.constant(transfer_model.strength_or_ones(attributes, strength)))["edited"].numpy()
    return edit

  return TransferModel(tuple(metadata["attribute_names"]), int(metadata["image_size"]),
                       transfer, version_dir, encode=encode, decode=decode,
                       add_attribute=label_only_edit("add_attribute"),
                       remove_attribute=label_only_edit("remove_attribute"), backend=loaded)


def load_run_dir(run_dir: str, precision_name: str = "float32") -> TransferModel:
  """Rebuild the generator from the run's flags.txt and restore it from the newest checkpoint
  (its weight average when the run kept one, --ema_decay).

  precision_name: a --precision value the generator computes in. Checkpoints hold
  float32 variables under every policy, so any run restores in any precision.
  """
  config = train_config.TrainConfig.from_flagfile(
      os.path.join(run_dir, train_config.RESOLVED_FLAGS_FILE))
  with precision.policy_scope(precision.resolve(precision_name)[0]):
    generator = train_lib.build_generator(config)
  images = np.zeros((1, config.image_size, config.image_size, 3), np.float32)
  generator({"image": images, "exemplar": images,
             "attributes": np.zeros((1, len(config.attributes)), np.float32)})
  directory = os.path.join(run_dir, "checkpoints")
  state = tf.train.get_checkpoint_state(directory)
  # A run that keeps an average serves it, as its export does.
  checkpoint = tf.train.Checkpoint(
      **{"averaged_generator" if config.ema_decay else "generator": generator})
  # Only the generator is wanted; its variables must all be in the checkpoint. A
  # damaged newest checkpoint falls back to the previous one, as training does.
  latest = checkpointing.restore_newest_readable(
      directory,
      lambda prefix: checkpoint.restore(prefix).expect_partial().assert_existing_objects_matched(),
      list(state.all_model_checkpoint_paths) if state else ())
  if latest is None:
    raise ModelFileError(f"{run_dir} has no checkpoint yet")

  def transfer(image, exemplar, attributes, strength=None):
    weights = (np.asarray(attributes, np.float32)
               * transfer_model.strength_or_ones(attributes, strength))
    outputs = generator({"image": image, "exemplar": exemplar, "attributes": weights})
    # Callers get float32 whatever the compute precision, as from an export.
    return {k: np.asarray(v, np.float32) for k, v in outputs.items()}

  def encode(image):
    latent, skips = generator.encode(np.asarray(image, np.float32))
    return np.asarray(latent, np.float32), [np.asarray(skip, np.float32) for skip in skips]

  def decode(image, edited_latent, latent, skips):
    return np.asarray(generator.edit(np.asarray(image, np.float32), edited_latent, latent,
                                     list(skips)), np.float32)

  return TransferModel(tuple(config.attributes), config.image_size, transfer, latest,
                       generator, encode=encode, decode=decode, kind="run_dir")


def load_tflite(path: str, num_threads: Optional[int] = None) -> TransferModel:
  """A .tflite file written by `python -m elegant_tf.tflite` (batch-1 signatures)."""
  return litert_model.load(path, num_threads=num_threads)


def check_precision(path: str, precision_name: str) -> None:
  """ModelFileError when `path` cannot compute in `precision_name`: only a run directory's
  generator is built anew, in any precision; exports are float32 by construction."""
  is_run_dir = os.path.exists(os.path.join(path, train_config.RESOLVED_FLAGS_FILE))
  if precision_name != "float32" and (path.endswith(".tflite") or not is_run_dir):
    raise ModelFileError(f"only a run directory computes in another precision than float32; "
                         f"{path} is an export")


def load(path: str, precision_name: str = "float32") -> TransferModel:
  """A SavedModel version folder, a model folder (newest version), a run directory, or a
  .tflite file.

  precision_name: compute precision of a run directory's generator. Exports
  (SavedModel, TFLite) are float32 by construction, so anything else is refused
  for them rather than silently ignored.

  Raises ModelFileError (a usage.UsageError) for a path that is not a usable model.
  """
  check_precision(path, precision_name)
  is_run_dir = os.path.exists(os.path.join(path, train_config.RESOLVED_FLAGS_FILE))
  if path.endswith(".tflite"):
    if not os.path.isfile(path):
      raise ModelFileError(f"{path}: no such .tflite file")
    return load_tflite(path)
  if os.path.exists(os.path.join(path, "saved_model.pb")):
    return load_saved_model(path)
  if is_run_dir:
    return load_run_dir(path, precision_name)
  if os.path.isdir(path) and layout.existing_versions(path):
    return load_saved_model(layout.newest_version_dir(path))
  raise ModelFileError(
      f"{path} is neither a SavedModel (saved_model.pb), a model folder with numeric "
      "versions, a run directory (flags.txt + checkpoints/), nor a .tflite file")
