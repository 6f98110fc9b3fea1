"""Checkpoints of a training run: networks, both optimizers and the step, restored strictly.

The step is the generator optimizer's iteration count, so nothing else needs
saving. tf.train.CheckpointManager writes each checkpoint completely before the
`checkpoint` index names it, so a run killed mid-save resumes from the previous one.
"""

import os

import keras
import tensorflow as tf


def training_checkpoint(gan) -> tf.train.Checkpoint:
  return tf.train.Checkpoint(
      generator=gan.generator,
      discriminator_full=gan.discriminator_full,
      discriminator_half=gan.discriminator_half,
      generator_optimizer=gan.generator_optimizer,
      discriminator_optimizer=gan.discriminator_optimizer)


def checkpoint_manager(gan, run_dir: str, max_to_keep: int = 3) -> tf.train.CheckpointManager:
  return tf.train.CheckpointManager(training_checkpoint(gan), f"{run_dir}/checkpoints",
                                    max_to_keep=max_to_keep)


def has_checkpoint_files(run_dir: str) -> bool:
  """True when run_dir/checkpoints holds any checkpoint data (whatever its index says)."""
  directory = os.path.join(run_dir, "checkpoints")
  return os.path.isdir(directory) and any(name.startswith("ckpt-")
                                          for name in os.listdir(directory))


def restore_latest(manager: tf.train.CheckpointManager) -> int:
  """Restore the newest checkpoint, if any; return the step it holds (0 if none).

  Every variable must match: a checkpoint from different model flags is an
  error that says so, never a silent partial load.
  """
  path = manager.latest_checkpoint
  if path is None:
    return 0
  try:
    manager.checkpoint.restore(path).assert_consumed()
  except (AssertionError, ValueError) as error:
    raise ValueError(
        f"checkpoint {path} does not match the model built from these flags (were "
        f"--image_size, --attributes or the widths changed?): {error}") from error
  return int(manager.checkpoint.generator_optimizer.iterations.numpy())


class CheckpointEvery(keras.callbacks.Callback):
  """Save every `every` steps and at the end of training."""

  def __init__(self, manager: tf.train.CheckpointManager, every: int):
    super().__init__()
    self.manager = manager
    self.every = every
    self._last_saved = None

  def _save(self):
    step = self.model.trained_steps
    if step != self._last_saved:
      self.manager.save(checkpoint_number=step)
      self._last_saved = step

  def on_train_batch_end(self, batch, logs=None):
    if self.model.trained_steps % self.every == 0:
      self._save()

  def on_train_end(self, logs=None):
    self._save()
