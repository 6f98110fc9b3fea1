"""Export a training run as a SavedModel for TF Serving: flags and main only.

`python -m elegant_tf.export --run_dir=runs/demo --export_dir=saved_models/elegant_demo`

The newest checkpoint of --run_dir goes to <export_dir>/<version>/ with the
add_attribute prototypes computed from the run's own data (exporting/export_lib.py;
the signatures are described in exporting/saved_model.py). Versions count up from
1 and are never overwritten.
"""

import os

from absl import flags

from elegant_tf.exporting import export_lib
from elegant_tf.exporting import prototypes
from elegant_tf.inference import layout
from elegant_tf.training import train_config
from pipelines import atomic_files
from pipelines import usage


def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("run_dir", None,
                      "Training run directory (holds flags.txt and checkpoints/); its newest "
                      "checkpoint is exported.")
  flags.DEFINE_string("export_dir", None,
                      "Model folder, e.g. saved_models/elegant_demo. The SavedModel goes to "
                      "<export_dir>/<version>/, the layout TF Serving loads "
                      f"({atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_integer("version", None,
                       "Version folder number (positive). Default: one above the highest "
                       "existing version. An existing version is never overwritten.")
  flags.DEFINE_integer("prototype_images", prototypes.DEFAULT_MAX_EXAMPLES,
                       "Training positives averaged per attribute for the add_attribute "
                       "prototype slabs.")
  # The name before 2026-12-02 (one noun per kind of count: pairs, images, steps).
  flags.DEFINE_alias("prototype_examples", "prototype_images")
  usage.require_flags("run_dir", "export_dir")


FLAGS = flags.FLAGS


def main(argv):
  usage.check_no_arguments(argv)
  if not os.path.exists(os.path.join(FLAGS.run_dir, train_config.RESOLVED_FLAGS_FILE)):
    raise usage.UsageError(f"--run_dir={FLAGS.run_dir} is not a training run directory "
                           f"(no {train_config.RESOLVED_FLAGS_FILE})")
  if FLAGS.version is not None:
    if FLAGS.version < 1:
      raise usage.UsageError(f"--version={FLAGS.version} must be a positive integer")
    taken = os.path.join(FLAGS.export_dir, str(FLAGS.version))
    if os.path.exists(taken):
      raise usage.UsageError(
          f"--version={FLAGS.version}: {taken} exists and is never overwritten; next free "
          f"version: {layout.next_version(FLAGS.export_dir)}")
  try:
    config, generator, source = export_lib.open_run(FLAGS.run_dir)
  except (layout.ModelFileError, FileNotFoundError) as error:
    raise usage.for_flag("run_dir", error) from error
  # Only the version race is bad use here; anything else from tracing and writing the
  # SavedModel is a bug and keeps its traceback.
  try:
    version_dir = export_lib.export_trained(generator, source, config, FLAGS.export_dir,
                                            FLAGS.version, FLAGS.prototype_images)
  except FileExistsError as error:
    raise usage.UsageError(str(error)) from error
  print(version_dir)


def run():
  """Entry point of `python -m elegant_tf.export` and the elegant-export console script."""
  define_flags()
  usage.run("export", main)


if __name__ == "__main__":
  run()
