"""Export from a training run: the generator, plus prototypes from the run's own data.

Shared by `python -m elegant_tf.export` (any run with a checkpoint) and by
`python -m elegant_tf.train` at the end of a run. The prototypes (the mean
latent slab of each attribute's positives, and of its negatives for removal)
are computed here, from the data,
and handed to saved_model.export_generator as an array: the SavedModel writer
itself never opens data.
"""

import os
from typing import Optional

from elegant_tf.exporting import prototypes
from elegant_tf.exporting import saved_model
from elegant_tf.inference import model_loading
from elegant_tf.models import precision
from elegant_tf.training import train_config
from pipelines import data_spec


def export_trained(generator, source, config: train_config.TrainConfig,
                   export_dir: Optional[str] = None, version: Optional[int] = None,
                   prototype_examples: int = prototypes.DEFAULT_MAX_EXAMPLES) -> str:
  """Export `generator` trained with `config` on `source`; return the version folder."""
  # Prototypes from the float32 twin, the network the SavedModel will hold.
  generator = precision.float32_copy(generator)
  slabs = prototypes.compute_prototypes(generator, source, config.attributes, config.split,
                                        prototype_examples)
  absence_slabs = prototypes.compute_prototypes(generator, source, config.attributes,
                                                config.split, prototype_examples, present=False)
  return saved_model.export_generator(generator, config.attributes, config.image_size,
                                      export_dir or config.export_dir, version,
                                      prototypes=slabs, training_data=config.data,
                                      absence_prototypes=absence_slabs)


def open_run(run_dir: str):
  """(config, generator, source) of a training run's newest checkpoint.

  Everything a user can get wrong about a run (no checkpoint, a damaged or
  mismatched one, data that moved) fails here, as FileNotFoundError or
  ValueError, before export_trained, whose own errors are bugs.
  """
  config = train_config.TrainConfig.from_flagfile(
      os.path.join(run_dir, train_config.RESOLVED_FLAGS_FILE))
  model = model_loading.load_run_dir(run_dir)
  source = data_spec.open_source(config.data, config.image_size, seed=config.seed,
                                 tfds_data_dir=config.tfds_data_dir)
  return config, model.generator, source


def export_run(run_dir: str, export_dir: str, version: Optional[int] = None,
               prototype_examples: int = prototypes.DEFAULT_MAX_EXAMPLES) -> str:
  """Export the newest checkpoint of a training run (with prototypes from its data)."""
  config, generator, source = open_run(run_dir)
  return export_trained(generator, source, config, export_dir, version, prototype_examples)
