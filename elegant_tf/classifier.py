"""Train and test the attribute classifier that judges edits: flags and main only.

  python -m elegant_tf.classifier --data=synthetic --image_size=64 \
      --train_steps=1500 --out=saved_models/classifier_synthetic_64

The work is in evaluation/classifier_lib.py; `elegant_tf.evaluate --classifier=DIR`
uses the result.
"""

import os
import sys

from absl import flags

from elegant_tf.evaluation import classifier_lib
from pipelines import data_spec
from pipelines import usage


def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """One flag per ClassifierConfig field (classifier_lib declares each with its help),
  defined when the command runs: importing defines no flags."""
  classifier_lib.ClassifierConfig.define_flags(flag_values)
  # The name before 2026-12-02 (one noun per kind of count: pairs, images, steps).
  flags.DEFINE_alias("test_examples", "test_images", flag_values=flag_values)
  flags.DEFINE_bool("overwrite", False, "Replace a classifier already in --out; without it "
                    "that is an error.", flag_values=flag_values)


def main(argv):
  usage.check_no_arguments(argv)
  config = classifier_lib.ClassifierConfig.from_flag_values(flags.FLAGS)
  config.validate()
  usage.check_not_overwriting(
      [os.path.join(config.out, name)
       for name in (classifier_lib.MODEL_FILE, classifier_lib.METADATA_FILE)],
      flags.FLAGS.overwrite)
  try:
    source = data_spec.open_source(config.data, config.image_size, seed=config.seed,
                                   tfds_data_dir=config.tfds_data_dir)
  except (data_spec.DataSpecError, FileNotFoundError) as error:
    raise usage.for_flag("data", error, config.data) from error
  metadata = classifier_lib.train_classifier(source, config,
                                             verbose=2 if not sys.stdout.isatty() else 1)
  print(f"\nclassifier saved to {config.out}; accuracy on {metadata['test_examples']} "
        f"{metadata['test_split']} images:\n" + classifier_lib.accuracy_table(metadata))


def run():
  """Entry point of `python -m elegant_tf.classifier` and the elegant-classifier script."""
  define_flags()
  usage.run("classifier", main)


if __name__ == "__main__":
  run()
