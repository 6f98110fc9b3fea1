"""Label-only edits against edits by example, on the same held-out synthetic pairs.

  python -m elegant_tf.benchmarks.label_only_edits --model=RUN_DIR [--eval_pairs=512]

For each attribute, the ground-truth evaluation's pairs (A has the attribute, B
lacks it) are edited two ways: by example (C = A with B's slab, D = B with A's
slab, the `serving_default` transfer) and by label only (C = A with the absence
prototype's slab, `remove_attribute`; D = B with the presence prototype's slab,
`add_attribute`). Both are scored against the same exact targets; for removal
the target C* is A without the attribute, which is what both ways aim at, so the
C columns compare directly. For adding, D* is B with A's own version of the
attribute: the prototype draws a typical one, so label-only D is expected to
trail there (it is closer to the "generic" oracle's task).

--model: a run directory (prototypes are computed from the run's data, as the
export does) or a SavedModel exported with both prototype sets.
"""

import os
import types

import numpy as np
from absl import flags

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.exporting import prototypes
from elegant_tf.inference import model_loading
from elegant_tf.training import train_config
from pipelines import data_spec
from pipelines import markdown
from pipelines import synthetic
from pipelines import usage


def define_flags():
  flags.DEFINE_string("model", None, "Run directory, or SavedModel with both prototype sets.")
  flags.DEFINE_integer("eval_pairs", 512, "Held-out pairs per attribute.")
  flags.DEFINE_integer("prototype_images", prototypes.DEFAULT_MAX_EXAMPLES,
                       "Training examples averaged per prototype slab (run directories).")
  usage.require_flags("model")


FLAGS = flags.FLAGS


def generator_label_only_edits(generator, presence: np.ndarray, absence: np.ndarray):
  """(add, remove): label-only edits of a Keras generator with prototype slabs [h, w, C]."""

  def edit_with(slabs):
    def edit(image, attributes, strength=None):
      return np.asarray(prototypes.edit_with_prototypes(generator, image, slabs,
                                                        np.asarray(attributes, np.float32)))
    return edit

  return edit_with(presence), edit_with(absence)


def label_only_transfer(add, remove):
  """A model whose transfer(image, exemplar, weights), the evaluation's form, edits by
  labels only: "edited" removes from the image, "exemplar_edited" adds to the exemplar."""

  def transfer(image, exemplar, weights):
    # Zero weights (the evaluation's reconstruction pass) give the reconstructions.
    return {"edited": remove(image, weights), "exemplar_edited": add(exemplar, weights)}

  return types.SimpleNamespace(transfer=transfer)


def comparison_rows(model, source, attributes, num_pairs: int, add, remove) -> list[dict]:
  by_example = ground_truth_eval.evaluate_swaps(model, source, attributes, num_pairs,
                                                with_ssim=False)
  by_label = ground_truth_eval.evaluate_swaps(
      label_only_transfer(add, remove), source, attributes, num_pairs, with_ssim=False)
  rows = []
  for example, label in zip(by_example, by_label):
    rows.append({
        "attribute": example["attribute"],
        "C-copy example": example["C_in"] - example["copy_C_in"],
        "C-copy label": label["C_in"] - label["copy_C_in"],
        "C out example": example["C_out"], "C out label": label["C_out"],
        "D-copy example": example["D_in"] - example["copy_D_in"],
        "D-copy label": label["D_in"] - label["copy_D_in"],
        "generic-copy": example["generic_D_in"] - example["copy_D_in"],
    })
  return rows


def main(argv):
  usage.check_no_arguments(argv)
  model = model_loading.load(FLAGS.model)
  attributes = list(model.attribute_names)
  if model.generator is not None:
    config = train_config.TrainConfig.from_flagfile(
        os.path.join(FLAGS.model, train_config.RESOLVED_FLAGS_FILE))
    training = data_spec.open_source(config.data, config.image_size, seed=config.seed)
    presence, absence = (
        prototypes.compute_prototypes(model.generator, training, attributes, config.split,
                                      FLAGS.prototype_images, present=present)
        for present in (True, False))
    add, remove = generator_label_only_edits(model.generator, presence, absence)
    seed = config.seed
  elif model.add_attribute is not None and model.remove_attribute is not None:
    add, remove = model.add_attribute, model.remove_attribute
    seed = 0
  else:
    raise usage.UsageError(f"{FLAGS.model} has no prototype sets for both "
                           "add_attribute and remove_attribute; give its run directory")
  source = synthetic.open_source("", model.image_size, seed=seed)
  rows = comparison_rows(model, source, attributes, FLAGS.eval_pairs, add, remove)
  columns = list(rows[0])
  print(f"{FLAGS.eval_pairs} pairs per attribute; gains over copying inside the region and PSNR "
        "outside it, dB")
  print(markdown.table(columns, ([row[c] if isinstance(row[c], str) else f"{row[c]:+.1f}"
                                  if "copy" in c else f"{row[c]:.1f}" for c in columns]
                                 for row in rows)))


if __name__ == "__main__":
  define_flags()
  usage.run("label_only_edits", main)
