"""Does an attribute's latent slab stand for the attribute? Distances on held-out pairs.

  python -m elegant_tf.benchmarks.slab_probe --model=RUN_DIR [--eval_pairs=128]

ELEGANT edits by exchanging slab i between two latents, so the edit can only be
as clean as slab i is pure: ideally it holds attribute i and nothing else. The
synthetic faces give the exact answer to test it. For the ground-truth
evaluation's pairs (A has the attribute, B lacks it), C* is A with B's version
of the attribute, rendered exactly. The table gives the mean absolute
difference of slab i between the encodings of:

- A and B: two faces that differ in everything;
- C* and A: the same face, with and without the attribute (what the attribute
  alone moves in the slab);
- C* and B: what a pure slab would make zero (C* has B's attribute);
- C and A, C and B: the same for the model's own removal C.

"purity" = 1 - (C*-B) / (A-B): 1 when the slab holds only the attribute, 0 when
the attribute's removal brings the slab no closer to B's than A's already was.
A removal whose exchanged slab carries mostly who the face is, not the
attribute, leaves the rest of the attribute to the decoder and the adversarial
loss (BUILD_NOTES.md, "Removal: eight more options, and what the slab holds").
"""

import numpy as np
from absl import flags

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import run_probes
from elegant_tf.models import latent_swap
from pipelines import markdown
from pipelines import usage

COLUMNS = ("A-B", "C*-A", "C*-B", "C-A", "C-B", "purity")


def define_flags():
  flags.DEFINE_string("model", None, "Training run directory (the probe needs the encoder).")
  flags.DEFINE_integer("eval_pairs", 128, "Held-out pairs per attribute.", lower_bound=1)
  usage.require_flags("model")


FLAGS = flags.FLAGS


def slab_gaps(latents: dict, slab: tuple) -> dict:
  """The table's columns from latents {"A", "B", "C", "C*"} ([b, h, w, C]) and the
  slab's channel range (start, stop)."""
  start, stop = slab

  def gap(first, second):
    return float(np.mean(np.abs(latents[first][..., start:stop]
                                - latents[second][..., start:stop])))

  row = {"A-B": gap("A", "B"), "C*-A": gap("C*", "A"), "C*-B": gap("C*", "B"),
         "C-A": gap("C", "A"), "C-B": gap("C", "B")}
  row["purity"] = 1.0 - row["C*-B"] / row["A-B"] if row["A-B"] > 0 else float("nan")
  return row


def probe_rows(generator, source, attributes, num_pairs: int) -> list[dict]:
  """One row per attribute: slab distances between A, B, the exact C* and the model's C."""
  rows = []
  for index, name in enumerate(attributes):
    pairs = ground_truth_eval.swap_ground_truth(source, name, num_pairs)
    image_a = np.asarray(pairs["image_a"], np.float32)
    weights = np.zeros((len(image_a), len(attributes)), np.float32)
    weights[:, index] = 1.0
    latent_a, skips_a = generator.encode(image_a)
    latent_b, _ = generator.encode(np.asarray(pairs["image_b"], np.float32))
    removed = generator.edit(image_a, latent_swap.swap_latent_slabs(latent_a, latent_b, weights),
                             latent_a, skips_a)
    latents = {"A": np.asarray(latent_a), "B": np.asarray(latent_b),
               "C": np.asarray(generator.encode(removed)[0]),
               "C*": np.asarray(generator.encode(np.asarray(pairs["truth_c"], np.float32))[0])}
    slab = latent_swap.slab_boundaries(latents["A"].shape[-1], len(attributes))[index]
    rows.append({"attribute": name, **slab_gaps(latents, slab)})
  return rows


def main(argv):
  usage.check_no_arguments(argv)
  model, source = run_probes.run_generator_and_faces(
      FLAGS.model, "a SavedModel has no encoder to probe")
  rows = probe_rows(model.generator, source, list(model.attribute_names), FLAGS.eval_pairs)
  print(f"{FLAGS.eval_pairs} pairs per attribute; mean |slab difference| of the encodings")
  print(markdown.table(["attribute", *COLUMNS],
                       ([row["attribute"]] + [f"{row[c]:.4f}" if c != "purity"
                                              else f"{row[c]:.2f}" for c in COLUMNS]
                        for row in rows)))


if __name__ == "__main__":
  define_flags()
  usage.run("slab_probe", main)
