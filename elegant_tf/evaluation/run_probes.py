"""What the probes of one training run share: its generator and its own synthetic faces.

slab_probe, latent_extrapolation and discriminator_probe read a training run
directory (a SavedModel has no encoder, no strength past 1 and no
discriminators) and score it on the population of faces it trained on.
"""

import os

from elegant_tf.inference import model_loading
from elegant_tf.training import train_config
from pipelines import synthetic
from pipelines import usage


def run_config(run_dir: str, why_not_saved_model: str = "") -> train_config.TrainConfig:
  """The run's resolved flags; a UsageError naming the file if `run_dir` is not a
  run, followed by `why_not_saved_model` when given."""
  path = os.path.join(run_dir, train_config.RESOLVED_FLAGS_FILE)
  if not os.path.isfile(path):
    why = f"; {why_not_saved_model}" if why_not_saved_model else ""
    raise usage.UsageError(f"{run_dir}: not a training run directory (no "
                           f"{train_config.RESOLVED_FLAGS_FILE}){why}")
  return train_config.TrainConfig.from_flagfile(path)


def run_faces(config: train_config.TrainConfig) -> "synthetic.SyntheticFaces":
  """The run's own synthetic faces: its seed picks the population, as `evaluate` uses."""
  return synthetic.open_source("", config.image_size, seed=config.seed)


def run_generator_and_faces(run_dir: str, why_not_saved_model: str) -> tuple:
  """(model, faces) of a training run directory.

  A SavedModel (no Keras generator) is refused with `why_not_saved_model`, e.g.
  "a SavedModel has no encoder to probe".
  """
  model = model_loading.load(run_dir)
  if model.generator is None:
    raise usage.UsageError(f"{run_dir}: {why_not_saved_model}; give the training run "
                           "directory")
  return model, run_faces(run_config(run_dir))
