"""How good is a transfer: one command, one table (flags and main; the work is in
evaluation/evaluate_lib.py).

  python -m elegant_tf.evaluate --model=PATH --data=SPEC [--split=test] \
      [--eval_pairs=N] [--classifier=DIR] [--inception_weights=FILE] --out=DIR

--model is a SavedModel version folder, a model folder or a run directory.
For every attribute of the model (and the multi-attribute swaps in --swaps),
A has the attribute and B lacks it; C = A with B's state of it (removed), D =
B with A's (added). Sections of the report, each a Markdown table:

1. Ground truth (synthetic data only): PSNR and SSIM of C and D against the
   exact targets inside / outside the swap's region, next to the copy and
   oracle-paste baselines (see ground_truth_eval); reconstruction PSNR/SSIM.
   On other data only reconstruction can be measured against the input.
2. Attribute classifier (--classifier=DIR, from elegant_tf.classifier): its
   accuracy on this split, then editing accuracy (the swapped attribute now
   reads as the exemplar's label) and preservation error (another attribute
   no longer reads as the edited image's label), for the model, the unedited
   input (copy) and, on synthetic data, the exact targets.
3. Realism (--realism_images > 0): FID and KID of D (added) against real
   images with the attribute and of C (removed) against real images without
   it, from --reference_split; the unedited inputs as a baseline.

Writes to --out: results.md (the tables, as printed), results.csv (one row per
number), results.json, figures/<swap>.png (rows of A | B | C | D, plus C* |
D* on synthetic data) and figures/overview.png (two pairs of every
one-attribute swap in one picture; faces under 128 px drawn at twice their
size).

Paper-style CelebA protocol (official test split, 128 px classifier; a GPU
makes the Inception pass quick):

  python -m elegant_tf.classifier --data=celeba:DIR --image_size=128 \
      --base_width=64 --max_width=512 --train_steps=20000 --out=CLF
  python -m elegant_tf.evaluate --model=MODEL --data=celeba:DIR --split=test \
      --eval_pairs=2000 --classifier=CLF --realism_images=2000 \
      --reference_split=test --inception_weights=inception_notop.h5 --out=DIR
"""

import os

from absl import flags

from elegant_tf.evaluation import evaluate_lib
from elegant_tf.inference import model_loading
from elegant_tf.models import precision
from pipelines import atomic_files
from pipelines import data_spec
from pipelines import usage


def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("model", None, "SavedModel version folder, model folder or run directory.")
  flags.DEFINE_string("data", "synthetic",
                      "Faces: synthetic (exact ground truth), celeba:DIR, tfrecord:DIR, "
                      "folder:DIR[,landmarks=auto] or tfds:celeb_a.")
  flags.DEFINE_string("split", "test", "Split the pairs come from.")
  flags.DEFINE_integer("eval_pairs", 200, "Pairs per swap (train's --eval_pairs at the end "
                       "of a run).")
  # The name before 2026-12-02 (one noun per kind of count: pairs, images, steps).
  flags.DEFINE_alias("num_pairs", "eval_pairs")
  flags.DEFINE_list("swaps", None,
                    "Swaps to evaluate, comma separated; join attributes swapped together "
                    "with '+' (default: each attribute, the first two together, all together).")
  flags.DEFINE_string("classifier", None,
                      "Directory from `python -m elegant_tf.classifier --out=DIR` (trained at "
                      "the model's image size); omit to skip editing accuracy.")
  flags.DEFINE_integer("realism_images", 100,
                       "Edited and real images per attribute and direction for FID/KID "
                       "(0: skip; Inception-v3 at 299 px is the slow part on a CPU).")
  flags.DEFINE_string("reference_split", "val", "Split the real reference images come from.")
  flags.DEFINE_string("inception_weights", None,
                      "ImageNet InceptionV3 no-top weights (.h5); default: the Keras cache file "
                      "if present, else random weights (flagged in the output).")
  flags.DEFINE_integer("batch_size", 32, "Pairs per transfer call.")
  flags.DEFINE_enum("precision", "float32", list(precision.PRECISIONS),
                    "Compute precision of the generator when --model is a run directory "
                    "(its checkpoint restores in any precision); exports are float32 only.")
  flags.DEFINE_integer("seed", 0, "Seed of the synthetic faces (must match training's).")
  flags.DEFINE_string("tfds_data_dir", None, "data_dir for --data=tfds:celeb_a.")
  flags.DEFINE_string("out", None, "Directory for results.md, results.csv, results.json and "
                      f"figures/ ({atomic_files.MISSING_FOLDERS_HELP}).")
  flags.DEFINE_bool("overwrite", False, "Write into an --out that is not empty, replacing "
                    "earlier results; without it that is an error.")
  usage.require_flags("model", "out")


def main(argv):
  values = flags.FLAGS
  usage.check_no_arguments(argv)
  if os.path.isdir(values.out) and os.listdir(values.out) and not values.overwrite:
    raise usage.UsageError(f"--out={values.out} is not empty; pass --overwrite to replace its "
                           "results")
  if values.eval_pairs < 1 or values.realism_images < 0:
    raise usage.UsageError("--eval_pairs must be >= 1 and --realism_images >= 0")
  try:
    model_loading.check_precision(values.model, values.precision)
  except model_loading.ModelFileError as error:
    raise usage.for_flag("precision", error, values.precision) from error
  try:
    model = model_loading.load(values.model, values.precision)
  except model_loading.ModelFileError as error:
    raise usage.for_flag("model", error) from error
  try:
    source = data_spec.open_source(values.data, model.image_size, seed=values.seed,
                                   tfds_data_dir=values.tfds_data_dir)
  except (data_spec.DataSpecError, FileNotFoundError) as error:
    raise usage.for_flag("data", error, values.data) from error
  for name in ("split", "reference_split"):
    try:
      source.check_split(getattr(values, name))
    except data_spec.DataSpecError as error:
      raise usage.for_flag(name, error) from error
  try:
    result = evaluate_lib.evaluate(model, source, values.out, values.split, values.eval_pairs,
                                   values.swaps, values.classifier, values.realism_images,
                                   values.reference_split, values.inception_weights,
                                   batch_size=values.batch_size, progress=True)
  except evaluate_lib.EvaluationRequestError as error:
    # evaluate's arguments are named as the flags, but for the classifier's folder.
    flag = {"classifier_dir": "classifier"}.get(error.parameter, error.parameter)
    raise usage.for_flag(flag, error) from error
  except FileNotFoundError as error:
    raise usage.UsageError(str(error)) from error
  print("\n" + result["report"])
  print(f"written to {values.out}: results.md, results.csv, results.json, figures/")


def run():
  """Entry point of `python -m elegant_tf.evaluate` and the elegant-evaluate console script."""
  define_flags()
  usage.run("evaluate", main)


if __name__ == "__main__":
  run()
