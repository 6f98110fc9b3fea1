"""Does a removal go further if the exchanged slab moves past the exemplar's? A table.

  python -m elegant_tf.benchmarks.latent_extrapolation --model=RUN_DIR \
      [--scales=1,1.25,1.5,2] [--eval_pairs=256]

A removal leaves faded glasses frames: the model's change goes about three
quarters of the way to the exact one. ELEGANT interpolates by moving slab i
part of the way from A's to B's; this asks whether going past B's (scale > 1,
extrapolation) takes the rest away. Each row is the ground-truth evaluation's
(same pairs, same definitions) with the exchange weight multiplied by the
scale. The SavedModel's signatures keep strength in [0, 1], so the probe needs
the training run directory and its generator.
"""

import numpy as np
from absl import flags

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import run_probes
from pipelines import markdown
from pipelines import usage

COLUMNS = ("C-copy in", "D-copy in", "D_gain %", "C out", "D out")


def define_flags():
  flags.DEFINE_string("model", None, "Training run directory (strength past 1 needs the "
                      "generator, not the SavedModel).")
  flags.DEFINE_list("scales", ["1", "1.25", "1.5", "2"], "Exchange weights to compare "
                    "(1 = the exemplar's slab, more = past it).")
  flags.DEFINE_integer("eval_pairs", 256, "Held-out pairs per attribute.", lower_bound=1)
  usage.require_flags("model")


FLAGS = flags.FLAGS


def extrapolation_rows(generator, source, attributes, scales, num_pairs: int,
                       batch_size: int = 32) -> list[dict]:
  """One row per (scale, attribute), scale by scale: the evaluation's gains over
  copying, in dB, and D_gain, with the exchange weight multiplied by the scale."""
  transfer = ground_truth_eval.as_transfer(generator)
  attributes = list(attributes)
  rows_by_scale = [[] for _ in scales]
  for index, name in enumerate(attributes):
    # Rendered once per attribute; the reconstructions (weight 0) do not depend on the scale.
    pairs = ground_truth_eval.swap_ground_truth(source, (name,), num_pairs, "test")
    weights = np.zeros(len(attributes), np.float32)
    weights[index] = 1.0
    rec_a, rec_b = ground_truth_eval.edit_pairs_in_batches(
        transfer, pairs["image_a"], pairs["image_b"], np.zeros_like(weights), batch_size)
    for scale, rows in zip(scales, rows_by_scale):
      c, d = ground_truth_eval.edit_pairs_in_batches(
          transfer, pairs["image_a"], pairs["image_b"], weights * np.float32(scale), batch_size)
      row = ground_truth_eval.score_swap(name, pairs, c, d, rec_a, rec_b, with_ssim=False)
      rows.append({"scale": float(scale), "attribute": name,
                   "C-copy in": row["C_in"] - row["copy_C_in"],
                   "D-copy in": row["D_in"] - row["copy_D_in"],
                   "D_gain %": row["D_gain"], "C out": row["C_out"], "D out": row["D_out"]})
  return [row for rows in rows_by_scale for row in rows]


def main(argv):
  usage.check_no_arguments(argv)
  try:
    scales = [float(scale) for scale in FLAGS.scales]
  except ValueError:
    raise usage.UsageError(f"--scales={','.join(FLAGS.scales)}: not a list of numbers")
  model, source = run_probes.run_generator_and_faces(
      FLAGS.model, "a SavedModel keeps strength in [0, 1]")
  rows = extrapolation_rows(model.generator, source, list(model.attribute_names), scales,
                            FLAGS.eval_pairs)
  print(f"{FLAGS.eval_pairs} pairs per attribute; gains over copying the input in dB")
  print(markdown.table(["scale", "attribute", *COLUMNS],
                       ([f"{row['scale']:g}", row["attribute"]]
                        + [f"{row[c]:.0f}" if c == "D_gain %" else f"{row[c]:+.1f}"
                           if "copy" in c else f"{row[c]:.1f}" for c in COLUMNS]
                        for row in rows)))


if __name__ == "__main__":
  define_flags()
  usage.run("latent_extrapolation", main)
