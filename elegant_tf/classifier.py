"""Train and test the attribute classifier that judges edits: flags and main only.

  python -m elegant_tf.classifier --data=synthetic --image_size=64 \
      --train_steps=1500 --out=saved_models/classifier_synthetic_64

The work is in evaluation/classifier_lib.py; `elegant_tf.evaluate --classifier=DIR`
uses the result.
"""

import os
import sys

from absl import flags

from elegant_tf import usage
from elegant_tf.evaluation import classifier_lib
from pipelines import atomic_files
from pipelines import data_spec


def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("data", "synthetic",
                      "Faces: synthetic, celeba:DIR, tfrecord:DIR, folder:DIR[,landmarks=auto] "
                      "or tfds:celeb_a.")
  flags.DEFINE_list("attributes", None,
                    "Attributes to classify, comma separated (default: all the data has).")
  flags.DEFINE_integer("image_size", 128, "Square input size in pixels, a multiple of 32 "
                       "(AttGAN/STGAN: 128).")
  flags.DEFINE_integer("train_steps", 2000, "Training batches.")
  flags.DEFINE_integer("batch_size", 32, "Images per batch.")
  flags.DEFINE_integer("base_width", 32, "Channels of the first block, doubling per block "
                       "(papers: 64).")
  flags.DEFINE_integer("max_width", 256, "Channel cap of the blocks (papers: 512).")
  flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate (cosine-decayed to 0).")
  flags.DEFINE_string("split", "train", "Split to train on.")
  flags.DEFINE_string("test_split", "test", "Split to report accuracy on.")
  flags.DEFINE_integer("test_examples", 2000, "Examples of the test split to score.")
  flags.DEFINE_integer("seed", 0, "Seed of weights and data order.")
  flags.DEFINE_string("tfds_data_dir", None, "data_dir for --data=tfds:celeb_a.")
  flags.DEFINE_string("out", None, "Directory to write classifier.keras and classifier.json "
                      f"({atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_bool("overwrite", False, "Replace a classifier already in --out; without it "
                    "that is an error.")
  flags.mark_flag_as_required("out")


def main(argv):
  flag_values = flags.FLAGS
  usage.check_no_arguments(argv)
  usage.check_not_overwriting(
      [os.path.join(flag_values.out, name) for name in (classifier_lib.MODEL_FILE, classifier_lib.METADATA_FILE)],
      flag_values.overwrite)
  if flag_values.image_size < 32 or flag_values.image_size % 32:
    raise usage.UsageError(f"--image_size must be a positive multiple of 32, got "
                           f"{flag_values.image_size}")
  try:
    source = data_spec.open_source(flag_values.data, flag_values.image_size,
                                   seed=flag_values.seed,
                                   tfds_data_dir=flag_values.tfds_data_dir)
  except (ValueError, FileNotFoundError) as error:
    raise usage.UsageError(f"--data={flag_values.data}: {error}") from error
  metadata = classifier_lib.train_classifier(
      source, flag_values.attributes or list(source.attribute_names), flag_values.out,
      flag_values.train_steps, flag_values.batch_size, flag_values.base_width,
      flag_values.max_width, flag_values.learning_rate, flag_values.seed,
      flag_values.split, flag_values.test_split, flag_values.test_examples,
      data_spec=flag_values.data, verbose=2 if not sys.stdout.isatty() else 1)
  print(f"\nclassifier saved to {flag_values.out}; accuracy on {metadata['test_examples']} "
        f"{metadata['test_split']} images:\n" + classifier_lib.accuracy_table(metadata))


def run():
  """Entry point of `python -m elegant_tf.classifier` and the elegant-classifier script."""
  define_flags()
  usage.run("classifier", main)


if __name__ == "__main__":
  run()
