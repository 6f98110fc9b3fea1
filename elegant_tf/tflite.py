"""Convert an exported SavedModel to TFLite for phones and verify it: flags and main only.

`python -m elegant_tf.tflite --saved_model=saved_models/elegant_demo --out=elegant.tflite
 --quantize=none|float16|dynamic|int8`

The conversion and the check are in exporting/tflite_convert.py; the file is read
back with inference/litert_model.py.
"""

import numpy as np
from absl import flags

from elegant_tf.exporting import tflite_convert
from elegant_tf.inference import layout
from elegant_tf.inference import model_loading
from pipelines import atomic_files
from pipelines import data_spec
from pipelines import usage

def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("saved_model", None,
                      "Exported SavedModel: a model folder (newest version is used) or one "
                      "version folder, e.g. saved_models/elegant_demo or .../elegant_demo/3.")
  flags.DEFINE_string("out", None, "Output .tflite file (written atomically; "
                      f"{atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_enum("quantize", "none", list(tflite_convert.QUANTIZATIONS),
                    "none: float32 (matches the SavedModel to ~1e-4); float16: half-size "
                    "weights; dynamic: int8 weights, float activations; int8: int8 weights and "
                    "activations calibrated on training pairs (float32 inputs/outputs).")
  flags.DEFINE_string("data", None,
                      "--data spec for int8 calibration and the held-out verification pairs. "
                      "Default: the data the model was trained on (from its metadata).")
  flags.DEFINE_integer("calibration_pairs", 32, "Training pairs used to calibrate int8.")
  # The name before 2026-12-02 (one noun per kind of count: pairs, images, steps).
  flags.DEFINE_alias("calibration_samples", "calibration_pairs")
  flags.DEFINE_integer("verify_pairs", 8,
                       "Held-out test-split pairs to compare against the SavedModel (0: skip).")
  flags.DEFINE_bool("overwrite", False, "Replace --out if it exists; without it that is an "
                    "error.")
  usage.require_flags("saved_model", "out")
  flags.register_validator("out", lambda v: v is None or v.endswith(".tflite"),
                           "--out must end in .tflite")


FLAGS = flags.FLAGS


def check_out(path: str) -> None:
  """usage.UsageError for an --out that could not be written, before the (slow) conversion."""
  try:
    atomic_files.check_output_file(path, "a .tflite")
  except ValueError as error:
    raise usage.UsageError(f"--out: {error}") from error


def main(argv):
  usage.check_no_arguments(argv)
  check_out(FLAGS.out)
  usage.check_not_overwriting([FLAGS.out], FLAGS.overwrite)
  try:
    version_dir = layout.newest_version_dir(FLAGS.saved_model)
    metadata = layout.read_metadata(version_dir)
  except layout.ModelFileError as error:
    raise usage.for_flag("saved_model", error) from error
  data = FLAGS.data or metadata.get("training_data")
  if (FLAGS.quantize == "int8" or FLAGS.verify_pairs) and not data:
    raise usage.UsageError("this SavedModel does not record its training data; pass --data")
  # Only the model's and the calibration data's own errors are bad use; a failed
  # conversion keeps its traceback.
  try:
    content = tflite_convert.convert(version_dir, FLAGS.quantize, data,
                                     FLAGS.calibration_pairs)
  except layout.ModelFileError as error:
    raise usage.for_flag("saved_model", error) from error
  except (data_spec.DataSpecError, FileNotFoundError) as error:
    raise usage.for_flag("data", error, data) from error
  try:
    atomic_files.write_atomically(FLAGS.out, content)
  except OSError as error:  # A full disk: the old file is left as it was.
    raise usage.UsageError(f"cannot write {FLAGS.out}: {error.strerror or error}") from error
  print(f"wrote {FLAGS.out} ({len(content) / 1024:.1f} KiB, quantize={FLAGS.quantize}) "
        f"from {version_dir}")
  if FLAGS.verify_pairs:
    images, exemplars = tflite_convert.held_out_pairs(metadata, data, FLAGS.verify_pairs)
    reference = model_loading.load_saved_model(version_dir)
    attributes = np.ones((1, len(reference.attribute_names)), np.float32)
    reference_ms = 1000 * tflite_convert.time_transfer(reference, images[:1], exemplars[:1],
                                                       attributes)
    row = tflite_convert.verify(FLAGS.out, version_dir, images, exemplars, reference)
    print(f"verified on {len(images)} held-out pairs (test split of {data}):")
    print(tflite_convert.format_table([row], reference_ms))


def run():
  """Entry point of `python -m elegant_tf.tflite` and the elegant-tflite console script."""
  define_flags()
  usage.run("tflite", main)


if __name__ == "__main__":
  run()
