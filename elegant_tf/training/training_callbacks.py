"""Callbacks around ElegantGAN's fit: weight average, progress bar, TensorBoard scalars,
sample grids.

Keras' own TensorBoard callback indexes epoch logs by epoch; a run here is one
long epoch, so scalars are written with tf.summary at the global step instead.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from pipelines import image_grid

SAMPLE_COLUMNS = ("A", "B", "A'", "B'", "C", "D", "C-A", "D-B")


class GeneratorAverage(keras.callbacks.Callback):
  """After every step, move the trainer's averaged generator toward the live one.

  A callback rather than part of train_step: outside the replica function one
  assignment updates every replica's copy, where inside it each replica would
  need an aggregation rule for variables that are the same everywhere. List it
  before CheckpointEvery, so a checkpoint holds the average of its own step.
  """

  def on_train_batch_end(self, batch, logs=None):
    self.model.update_average()


class TrainingProgress(keras.callbacks.Callback):
  """One progress bar over the whole run: step, losses (mean of the last log period), ETA."""

  def __init__(self, start_step: int, train_steps: int):
    super().__init__()
    self.start_step = start_step
    self.train_steps = train_steps

  def on_train_begin(self, logs=None):
    # Stateful: show the values as given; the trackers already average them.
    names = ["step"] + [m.name for m in self.model.metrics]
    self.bar = keras.utils.Progbar(self.train_steps - self.start_step, unit_name="step",
                                   stateful_metrics=names)

  def on_train_batch_end(self, batch, logs=None):
    values = [("step", self.model.trained_steps)]
    values += [(k, float(v)) for k, v in (logs or {}).items()]
    self.bar.update(batch + 1, values=values, finalize=False)

  def on_train_end(self, logs=None):
    self.bar.update(self.bar.target, finalize=True)


class ScalarSummaries(keras.callbacks.Callback):
  """Every `every` steps: each loss term, per attribute too, and the learning rate."""

  def __init__(self, log_dir: str, every: int):
    super().__init__()
    self.writer = tf.summary.create_file_writer(log_dir)
    self.every = every

  def on_train_batch_end(self, batch, logs=None):
    step = self.model.trained_steps
    if step % self.every:
      return
    with self.writer.as_default(step=step):
      for name, tracker in self.model.loss_trackers.items():
        tf.summary.scalar(f"loss/{name}", tracker.result())
        tracker.reset_state()
      for (name, attribute), tracker in self.model.attribute_trackers.items():
        tf.summary.scalar(f"{name}/{attribute}", tracker.result())
        tracker.reset_state()
      learning_rate = self.model.generator_optimizer.learning_rate
      tf.summary.scalar("learning_rate", learning_rate)
    self.writer.flush()


def sample_rows(gan, batch) -> list:
  """For every pair in `batch`: A, B, A', B', C, D and the residuals C-A, D-B, from the
  generator that will be exported (the averaged one when the run keeps an average)."""
  outputs = {k: np.asarray(v) for k, v in gan.generate(batch, gan.inference_generator).items()}
  rows = []
  for k in range(len(batch["image_a"])):
    a, b = batch["image_a"][k], batch["image_b"][k]
    c, d = outputs["swapped_c"][k], outputs["swapped_d"][k]
    rows.append([a, b, outputs["reconstruction_a"][k], outputs["reconstruction_b"][k], c, d,
                 image_grid.residual_to_image(c - a), image_grid.residual_to_image(d - b)])
  return rows


class SampleGrids(keras.callbacks.Callback):
  """Every `every` steps and at the end: one grid per attribute, to PNG and TensorBoard.

  Columns: A (has the attribute), B (lacks it), A', B' (reconstructions),
  C (A with B's slab: attribute removed), D (B with A's slab: attribute added),
  and the residuals C-A and D-B (grey = unchanged).
  """

  def __init__(self, fixed_batches: dict, run_dir: str, every: int):
    super().__init__()
    self.fixed_batches = fixed_batches  # attribute name -> pair batch (numpy)
    self.sample_dir = os.path.join(run_dir, "samples")
    self.writer = tf.summary.create_file_writer(os.path.join(run_dir, "tensorboard", "samples"))
    self.every = every
    self._last = None

  def write(self):
    step = self.model.trained_steps
    if step == self._last:
      return
    self._last = step
    os.makedirs(self.sample_dir, exist_ok=True)
    all_rows = []
    with self.writer.as_default(step=step):
      for attribute, batch in self.fixed_batches.items():
        rows = sample_rows(self.model, batch)
        grid = image_grid.tile(rows)
        tf.summary.image(f"samples/{attribute}", grid[None])
        image_grid.write_png(os.path.join(self.sample_dir, f"step_{step:07d}_{attribute}.png"),
                             grid)
        all_rows.extend(rows)
    self.writer.flush()
    self.latest_grid = image_grid.tile(all_rows)

  def on_train_batch_end(self, batch, logs=None):
    if self.model.trained_steps % self.every == 0:
      self.write()

  def on_train_end(self, logs=None):
    self.write()
