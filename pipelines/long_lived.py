"""tf.data pipelines that one `fit` reads for a whole run."""

import tensorflow as tf


def without_autotuning(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """`dataset` without tf.data's autotuning thread, for an iterator that lives a whole run.

  Deleting such an iterator when `fit` returned waited on that thread: 0.3-2.5 s in some
  runs and 25-59 s in others (a stack dump shows the wait in the root iterator's
  destructor), before anything after training could start. AUTOTUNE in the pipeline then
  means TF's starting values (a parallel map: one call per core, at most 16); on 2 cores
  the demo's pair batches came as fast either way (1,000 in 17 s, against one train step's
  0.4 s). BUILD_NOTES.md, "Traps met", has the measurements.
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return dataset.with_options(options)
