"""Checkpoints of a training run: networks, both optimizers and the step, restored strictly.

The step is the generator optimizer's iteration count, so nothing else needs
saving. tf.train.CheckpointManager writes each checkpoint completely before the
`checkpoint` index names it, so a run killed mid-save resumes from the previous one.
"""

import logging
import os
from typing import Callable, Optional, Sequence

import keras
import tensorflow as tf


def training_checkpoint(gan) -> tf.train.Checkpoint:
  """Everything a resume needs; the averaged generator too when the run keeps one (so
  a run with --ema_decay and one without never restore each other's checkpoints), and
  the networks the run's quality options add (ElegantGAN.auxiliary_networks)."""
  averaged = ({"averaged_generator": gan.averaged_generator}
              if gan.averaged_generator is not None else {})
  return tf.train.Checkpoint(
      generator=gan.generator,
      discriminator_full=gan.discriminator_full,
      discriminator_half=gan.discriminator_half,
      generator_optimizer=gan.generator_optimizer,
      discriminator_optimizer=gan.discriminator_optimizer,
      **averaged, **gan.auxiliary_networks)


def checkpoint_manager(gan, run_dir: str, max_to_keep: int = 3) -> tf.train.CheckpointManager:
  return tf.train.CheckpointManager(training_checkpoint(gan), f"{run_dir}/checkpoints",
                                    max_to_keep=max_to_keep)


def has_checkpoint_files(run_dir: str) -> bool:
  """True when run_dir/checkpoints holds any checkpoint data (whatever its index says)."""
  directory = os.path.join(run_dir, "checkpoints")
  return os.path.isdir(directory) and any(name.startswith("ckpt-")
                                          for name in os.listdir(directory))


def _checkpoint_number(path: str) -> int:
  return int(os.path.basename(path).rsplit("-", 1)[1])


def checkpoint_candidates(directory: str, named: Sequence[str] = ()) -> list[str]:
  """Checkpoint prefixes to try, newest first: `named` (those the `checkpoint` state file
  names) plus every ckpt-N.index on disk (the state file may be damaged or lost)."""
  found = {os.path.normpath(path) for path in named}
  if os.path.isdir(directory):
    for name in os.listdir(directory):
      stem, extension = os.path.splitext(name)
      if extension == ".index" and stem.startswith("ckpt-") and stem[5:].isdigit():
        found.add(os.path.normpath(os.path.join(directory, stem)))
  return sorted(found, key=_checkpoint_number, reverse=True)


def _first_line(error: BaseException) -> str:
  text = str(error).strip().splitlines()
  return f"{type(error).__name__}: {text[0] if text else ''}"


def restore_newest_readable(directory: str, restore: Callable[[str], None],
                            named: Sequence[str] = ()) -> Optional[str]:
  """Call `restore(prefix)` on the checkpoints of `directory`, newest first, until one
  succeeds; return its prefix, or None when there is no checkpoint at all. Any caller's
  restore (a whole run's state, or the generator alone for serving); restore_latest is the
  training run's.

  A damaged checkpoint (truncated, unreadable) is skipped with a warning naming it
  and why. `restore` raises AssertionError or ValueError for a checkpoint of
  another model. When checkpoint files exist but none restores, this raises
  ValueError: callers must never start from scratch over them.
  """
  candidates = checkpoint_candidates(directory, named)
  if not candidates:
    if has_checkpoint_files(os.path.dirname(directory)):
      raise ValueError(f"{directory} holds checkpoint files but no complete checkpoint (no "
                       "ckpt-N.index); refusing to start from step 0 over them")
    return None
  if not named:
    logging.warning("%s: the checkpoint state file is missing or unreadable; found %s by "
                    "file name", directory, ", ".join(os.path.basename(c) for c in candidates))
  failures = []
  for path in candidates:
    try:
      restore(path)
    except (AssertionError, ValueError) as error:
      # Every variable of the model must be restored: this one belongs to other flags.
      failures.append((path, f"does not match the model built from these settings "
                             f"({_first_line(error)})"))
    except Exception as error:  # Damaged files raise OpError, IndexError, OSError...
      failures.append((path, f"cannot be read ({_first_line(error)})"))
    else:
      for skipped, reason in failures:
        logging.warning("skipped checkpoint %s: it %s", skipped, reason)
      return path
  if all("does not match" in reason for _, reason in failures):
    raise ValueError(
        f"checkpoint {candidates[0]} does not match the model built from these settings (were "
        f"image_size, attributes or the widths changed?): {failures[0][1]}")
  raise ValueError(f"no checkpoint in {directory} can be restored (" + "; ".join(
      f"{os.path.basename(path)} {reason}" for path, reason in failures)
      + "); refusing to start from step 0 over them")


def restore_latest(manager: tf.train.CheckpointManager) -> int:
  """Restore a training run's whole state (G, D, both optimizers, the step) from the newest
  checkpoint of `manager` that restores (see restore_newest_readable); return the step it
  holds (0 if there is none).

  Every variable must match: a checkpoint from different model flags is an error
  that says so, never a silent partial load.
  """
  path = restore_newest_readable(
      manager.directory,
      lambda prefix: manager.checkpoint.restore(prefix).assert_consumed(),
      manager.checkpoints if manager.latest_checkpoint else ())
  if path is None:
    return 0
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
