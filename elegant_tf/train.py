"""Train ELEGANT: `python -m elegant_tf.train --flagfile=elegant_tf/configs/demo.flags`.

Flags and main only; the work is in train_lib. A run directory holds
`flags.txt` (the resolved flags, a flagfile that reproduces the run),
checkpoints/, tensorboard/, samples/ and evaluation.md. Run again with
`--run_dir=DIR` alone to resume an interrupted run from its last checkpoint.
"""

import os
import sys

import tensorflow as tf
from absl import flags
from absl import logging

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.exporting import export_lib
from elegant_tf.models import precision
from elegant_tf.training import train_config
from elegant_tf.training import train_lib
from pipelines import data_spec
from pipelines import usage

def define_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
  """The training flags, one per TrainConfig field (train_config declares each with its
  help and choices), defined when the command runs: importing defines none, so several
  commands can be imported in one process."""
  train_config.TrainConfig.define_flags(flag_values)


FLAGS = flags.FLAGS


def with_saved_flags(argv: list[str]) -> list[str]:
  """`--run_dir=DIR` alone resumes: DIR's resolved flags come first, explicit flags win."""
  run_dir = None
  for k, arg in enumerate(argv[1:], start=1):
    if arg.startswith("--flagfile"):
      return argv
    if arg.startswith("--run_dir="):
      run_dir = arg.split("=", 1)[1]
    elif arg == "--run_dir" and k + 1 < len(argv):
      run_dir = argv[k + 1]
  saved = run_dir and os.path.join(run_dir, train_config.RESOLVED_FLAGS_FILE)
  if saved and os.path.exists(saved):
    return [argv[0], f"--flagfile={saved}"] + argv[1:]
  return argv


def end_of_run(config: train_config.TrainConfig):
  """What follows training on the chief: the export, then the ground-truth evaluation."""

  def finish(generator, source) -> dict:
    # The float32 twin, made once (a float32 generator is its own twin): the export
    # holds it, and the numbers describe the exported model, whatever --precision.
    generator = precision.float32_copy(generator)
    result = {}
    if config.export_dir:
      result["export"] = export_lib.export_trained(generator, source, config)
    if data_spec.parse_data_spec(config.data)[0] == "synthetic" and config.eval_pairs:
      result["evaluation"] = ground_truth_eval.write_run_evaluation(generator, source, config)
    return result

  return finish


def main(argv):
  usage.check_no_arguments(argv)
  logging.set_verbosity(logging.INFO)
  config = train_config.TrainConfig.from_flag_values(FLAGS)
  config.validate()
  tf.get_logger().setLevel("WARNING")  # Its INFO chatter (saver, assets) hides our output.
  try:
    result = train_lib.train(config, end_of_run(config))
  except train_config.SettingError as error:
    raise usage.for_flag(error.setting, error, error.value) from error
  if "worker" in result:
    print(f"{result['worker']} weights sha256={result['weights_sha256']}")
  print(f"\ntrained {config.run_dir} to step {result['step']}")
  if "sample_grid" not in result:
    return  # A non-chief worker: the chief writes samples, export and evaluation.
  print(f"sample grid: {result['sample_grid']}")
  if "export" in result:
    print(f"SavedModel: {result['export']}")
  if "evaluation" in result:
    print("\nHeld-out synthetic swaps, PSNR (dB) against exact ground truth "
          "(C = removed, D = added; in/out = inside/outside the attribute's region; "
          "copy = input unchanged; generic = the attribute drawn at B's geometry in the "
          "mean style; D_gain = D's gain over copy inside as % of generic's):\n"
          + result["evaluation"])


def run():
  """Entry point of `python -m elegant_tf.train` and the elegant-train console script."""
  define_flags()
  usage.run("train", main, argv=with_saved_flags(sys.argv))


if __name__ == "__main__":
  run()
