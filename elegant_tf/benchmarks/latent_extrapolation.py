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
  rows = ground_truth_eval.evaluate_swaps(generator, source, attributes, num_pairs,
                                          batch_size=batch_size, with_ssim=False,
                                          scales=scales)
  relabelled = [{"scale": row["scale"], "attribute": row["attribute"],
                 "C-copy in": row["C_in"] - row["copy_C_in"],
                 "D-copy in": row["D_in"] - row["copy_D_in"],
                 "D_gain %": row["D_gain"], "C out": row["C_out"], "D out": row["D_out"]}
                for row in rows]
  return sorted(relabelled, key=lambda row: list(scales).index(row["scale"]))


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
