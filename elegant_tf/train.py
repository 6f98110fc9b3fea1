"""Train ELEGANT: `python -m elegant_tf.train --flagfile=elegant_tf/configs/demo.flags`.

Flags and main only; the work is in train_lib. A run directory holds
`flags.txt` (the resolved flags, a flagfile that reproduces the run),
checkpoints/, tensorboard/, samples/ and evaluation.md. Run again with
`--run_dir=DIR` alone to resume an interrupted run from its last checkpoint.
"""

import dataclasses
import os
import sys

import tensorflow as tf
from absl import flags
from absl import logging

from elegant_tf import usage
from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.models import discriminator as discriminator_lib
from elegant_tf.models import precision
from elegant_tf.serving import export_lib
from elegant_tf.training import train_config
from elegant_tf.training import train_lib
from pipelines import atomic_files
from pipelines import data_spec

_DEFAULTS = train_config.TrainConfig()


def define_flags() -> None:
  """The training flags, defined when the command runs (importing defines none, so
  several commands can be imported in one process)."""
  flags.DEFINE_string("data", _DEFAULTS.data,
                      "Training faces: 'synthetic' (embedded procedural faces with exact ground "
                      "truth, aligned like CelebA's aligned crops), 'synthetic:wild' (the same "
                      "faces unaligned), 'celeba:DIR', 'tfrecord:DIR', "
                      "'folder:DIR[,landmarks=auto]' or 'tfds:celeb_a'.")
  flags.DEFINE_list("attributes", list(_DEFAULTS.attributes),
                    "Attributes to disentangle, comma separated, as the data names them "
                    "(synthetic: Eyeglasses, Bangs, Smiling, Mustache, Blond_Hair, Wearing_Hat). "
                    "Each gets one slab of the latent channels, in this order.")
  flags.DEFINE_string("split", _DEFAULTS.split, "Split to train on: train, val or test.")
  flags.DEFINE_string("tfds_data_dir", None, "data_dir for --data=tfds:celeb_a.")
  flags.DEFINE_bool("deterministic", _DEFAULTS.deterministic,
                    "Keep tf.data element order deterministic (slower with parallel decoding).")
  flags.DEFINE_integer("image_size", _DEFAULTS.image_size,
                       "Square image size in pixels; a multiple of 2**encoder_depth, at least 32 "
                       "(paper: 256).")
  flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size,
                       "Global batch of pairs per attribute update, split across replicas "
                       "(paper: 16).")
  flags.DEFINE_integer("train_steps", _DEFAULTS.train_steps,
                       "Training steps; one step updates D then G on one attribute's pair batch, "
                       "attributes taking turns (paper: 200k rounds x number of attributes).")
  flags.DEFINE_string("run_dir", _DEFAULTS.run_dir,
                      "Run directory: resolved flags, checkpoints, TensorBoard logs, sample grids. "
                      "An existing run resumes from its last checkpoint; "
                      f"{atomic_files.MISSING_FOLDERS_HELP}.")
  flags.DEFINE_string("export_dir", _DEFAULTS.export_dir,
                      "Model folder for the SavedModel exported at the end; numeric version "
                      "folders are created inside (TF Serving layout). Empty: no export.")
  flags.DEFINE_enum("strategy", _DEFAULTS.strategy, list(train_config.STRATEGIES),
                    "'default' (one device), 'mirrored' (tf.distribute.MirroredStrategy over "
                    "all GPUs, or over --cpu_replicas logical CPUs) or 'multi_worker' "
                    "(MultiWorkerMirroredStrategy over the machines in the TF_CONFIG "
                    "environment variable; run the same command on every worker).")
  flags.DEFINE_integer("cpu_replicas", _DEFAULTS.cpu_replicas,
                       "Split the CPU into N logical devices for --strategy=mirrored (to try "
                       "multi-replica training without GPUs; slower, not faster).")
  flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Checkpoint every N steps.")
  flags.DEFINE_integer("sample_every", _DEFAULTS.sample_every,
                       "Write sample grids (PNG and TensorBoard) every N steps.")
  flags.DEFINE_integer("log_every", _DEFAULTS.log_every,
                       "Write TensorBoard scalars every N steps (paper: 100).")
  flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed of weights, data order and synthetic faces.")
  flags.DEFINE_integer("encoder_depth", _DEFAULTS.encoder_depth,
                       "Encoder blocks (paper: 5, latent 8x8 at 256 px).")
  flags.DEFINE_integer("encoder_base_width", _DEFAULTS.encoder_base_width,
                       "Channels of the first encoder block, doubling per block (paper: 64).")
  flags.DEFINE_integer("encoder_max_width", _DEFAULTS.encoder_max_width,
                       "Channel cap of encoder blocks, i.e. latent channels C (paper: 512).")
  flags.DEFINE_integer("discriminator_base_width", _DEFAULTS.discriminator_base_width,
                       "Channels of the first discriminator block (paper: 64).")
  flags.DEFINE_integer("discriminator_max_width", _DEFAULTS.discriminator_max_width,
                       "Channel cap of discriminator blocks (paper: 512).")
  flags.DEFINE_enum("gan_loss", _DEFAULTS.gan_loss, ["gan", "lsgan", "hinge"],
                    "Adversarial loss: 'gan' (the paper's BCE), 'lsgan' or 'hinge'.")
  flags.DEFINE_float("reconstruction_weight", _DEFAULTS.reconstruction_weight,
                     "Weight of the reconstruction MSE in the G loss (paper: 5).")
  flags.DEFINE_float("d2_weight", _DEFAULTS.d2_weight,
                     "Weight of the half-resolution discriminator D2 (paper: 0.5).")
  flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate, "Adam learning rate (paper: 2e-4).")
  flags.DEFINE_float("discriminator_lr_ratio", _DEFAULTS.discriminator_lr_ratio,
                     "Discriminator learning rate / generator learning rate (paper: 1; TTUR-style "
                     "runs use 2 to 4).")
  flags.DEFINE_float("lr_decay_rate", _DEFAULTS.lr_decay_rate,
                     "Learning rate factor per decay period (paper: 0.97).")
  flags.DEFINE_integer("lr_decay_every", _DEFAULTS.lr_decay_every,
                       "Steps per learning-rate decay (paper: every 3000 rounds over all "
                       "attributes, i.e. 3000 x number of attributes steps here).")
  flags.DEFINE_float("weight_decay", _DEFAULTS.weight_decay,
                     "Coupled L2 weight decay added to gradients, as PyTorch's Adam (paper: 1e-5).")
  flags.DEFINE_float("cycle_weight", _DEFAULTS.cycle_weight,
                     "Not in the paper (0 = off): weight of a swap-back cycle loss (re-encode C "
                     "and D, exchange the slab back, L1 to A and B).")
  flags.DEFINE_float("classification_weight", _DEFAULTS.classification_weight,
                     "Not in the paper (0 = off): weight of an attribute classifier on D1; D "
                     "learns real labels, G wants the exchanged attribute of C and D classified "
                     "as swapped.")
  flags.DEFINE_float("r1_weight", _DEFAULTS.r1_weight,
                     "Not in the paper (0 = off): weight of an R1 gradient penalty on D1's "
                     "score of real images (gamma/2 * E|grad|^2; this flag is gamma).")
  flags.DEFINE_float("matching_negatives_weight", _DEFAULTS.matching_negatives_weight,
                     "Not in the paper (0 = off): D1 and D2 also learn that a real face paired "
                     "with the exchanged attribute's label flipped is fake (matching-aware "
                     "negatives), with this weight relative to the C, D fake term.")
  flags.DEFINE_enum("discriminator_conditioning", _DEFAULTS.discriminator_conditioning,
                    list(discriminator_lib.CONDITIONINGS),
                    "How D1 and D2 read the labels: 'channels' (the paper: tiled as input "
                    "channels), 'projection' (not in the paper: a projection discriminator, "
                    "score + sum_j s_j <v_j, features>, s_j = +-1 for present / absent) or "
                    "'channels_projection' (both).")
  flags.DEFINE_bool("skip_gating", _DEFAULTS.skip_gating,
                    "Not in the paper: the decoder scales each encoder skip by a gate computed "
                    "from the latent difference (edited - unedited), so an exchanged slab can "
                    "silence the edited face's own attribute in the skips; a reconstruction "
                    "(no difference) keeps them whole.")
  flags.DEFINE_float("ema_decay", _DEFAULTS.ema_decay,
                     "Not in the paper (0 = off): keep an exponential moving average of the "
                     "generator's weights with this decay (e.g. 0.999, warmed up as "
                     "min(decay, (1+t)/(10+t)) at step t); sample grids, the export and the "
                     "end-of-run evaluation use the average.")
  flags.DEFINE_bool("patch_discriminator", _DEFAULTS.patch_discriminator,
                    "Not in the paper: D1 and D2 score every cell of their last feature map "
                    "(a patch of about 31 input pixels for D1) instead of one global score.")
  flags.DEFINE_bool("jit_compile", _DEFAULTS.jit_compile, "Compile the train step with XLA.")
  flags.DEFINE_enum("precision", _DEFAULTS.precision, list(precision.PRECISIONS),
                    "Compute precision of training (Keras mixed-precision policy): 'float32', "
                    "'mixed_bfloat16' or 'mixed_float16' (16-bit compute, float32 variables, "
                    "optimizer state and losses; float16 adds dynamic loss scaling), or 'auto' "
                    "(mixed_bfloat16 if the CPU has amx_bf16/avx512_bf16 or a GPU has bfloat16, "
                    "else float32). Exports are float32 whatever the training precision.")
  flags.DEFINE_integer("eval_pairs", _DEFAULTS.eval_pairs,
                       "Held-out synthetic pairs per attribute in the end-of-run ground-truth "
                       "evaluation (0: skip).")


FLAGS = flags.FLAGS


def config_from_flags() -> train_config.TrainConfig:
  values = {}
  for field in dataclasses.fields(train_config.TrainConfig):
    value = FLAGS[field.name].value
    values[field.name] = tuple(value) if field.name == "attributes" else value
  for optional in ("export_dir", "tfds_data_dir"):
    values[optional] = values[optional] or None  # An empty flag means "none".
  return train_config.TrainConfig(**values)


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
    result = {}
    if config.export_dir:
      result["export"] = export_lib.export_trained(generator, source, config)
    if data_spec.parse_data_spec(config.data)[0] == "synthetic" and config.eval_pairs:
      # The float32 twin: the numbers describe the exported model, whatever --precision.
      result["evaluation"] = ground_truth_eval.write_run_evaluation(
          precision.float32_copy(generator), source, config)
    return result

  return finish


def main(argv):
  usage.check_no_arguments(argv)
  logging.set_verbosity(logging.INFO)
  config = config_from_flags()
  config.validate()
  tf.get_logger().setLevel("WARNING")  # Its INFO chatter (saver, assets) hides our output.
  result = train_lib.train(config, end_of_run(config))
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
