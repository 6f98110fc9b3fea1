"""Tiny settings, a fake pair batch and tiny exports shared by the tests (the session's one
trained tiny run is the tiny_run fixture in tests/conftest.py)."""

import dataclasses
import shutil

import numpy as np

from elegant_tf import train
from elegant_tf.exporting import saved_model
from elegant_tf.training import train_config
from elegant_tf.training import train_lib

TINY = train_config.TrainConfig(
    data="synthetic", attributes=("Eyeglasses", "Bangs"), image_size=32, batch_size=4,
    train_steps=4, encoder_depth=3, encoder_base_width=8, encoder_max_width=16,
    discriminator_base_width=8, discriminator_max_width=16, checkpoint_every=2,
    sample_every=2, log_every=1, eval_pairs=4, export_dir=None)


def tiny_config(tmp_path, **changes) -> train_config.TrainConfig:
  return dataclasses.replace(TINY, run_dir=str(tmp_path / "run"), **changes)


def copy_of_run(tiny_run: dict, tmp_path) -> train_config.TrainConfig:
  """The config of a copy of the session's tiny run (conftest.tiny_run) in tmp_path/run,
  for a test that trains on, damages or otherwise changes the run directory."""
  run_dir = str(tmp_path / "run")
  shutil.copytree(tiny_run["config"].run_dir, run_dir)
  return dataclasses.replace(tiny_run["config"], run_dir=run_dir)


def train_as_command(config: train_config.TrainConfig) -> dict:
  """train_lib.train followed by what `python -m elegant_tf.train` does at the end of a
  run (export, ground-truth evaluation), without a subprocess."""
  return train_lib.train(config, train.end_of_run(config))


def random_pair_batch(batch_size=4, size=32, num_attributes=2, attribute=1, seed=0) -> dict:
  rng = np.random.default_rng(seed)
  labels_a = rng.integers(0, 2, (batch_size, num_attributes)).astype("float32")
  labels_b = rng.integers(0, 2, (batch_size, num_attributes)).astype("float32")
  labels_a[:, attribute], labels_b[:, attribute] = 1, 0
  return {
      "image_a": rng.uniform(-1, 1, (batch_size, size, size, 3)).astype("float32"),
      "image_b": rng.uniform(-1, 1, (batch_size, size, size, 3)).astype("float32"),
      "labels_a": labels_a, "labels_b": labels_b,
      "attribute": np.full((batch_size,), attribute, "int32"),
  }


def untrained_generator():
  """A built, untrained tiny generator: 2 attributes, widths 8-16-16, 32 px.

  Tests of the serving algebra (modes, signatures, parity) need no training.
  """
  from elegant_tf.models import generator as generator_lib
  model = generator_lib.ElegantGenerator(2, [8, 16, 16], name="generator")
  zeros = np.zeros((1, 32, 32, 3), np.float32)
  model({"image": zeros, "exemplar": zeros, "attributes": np.zeros((1, 2), np.float32)})
  return model


def untrained_export(export_dir, prototypes=None, training_data=None, model=None,
                     absence_prototypes=None) -> str:
  """Export `model` (default: a new untrained_generator()) for attributes Eyeglasses,
  Bangs at 32 px; return the version folder."""
  return saved_model.export_generator(model or untrained_generator(), ["Eyeglasses", "Bangs"], 32,
                                 str(export_dir), prototypes=prototypes,
                                 training_data=training_data,
                                 absence_prototypes=absence_prototypes)
