"""How far along the exact edit does a model go, and for which faces?

  python -m elegant_tf.benchmarks.edit_scale --model=MODEL [--attribute=Bangs]
      [--eval_pairs=512] [--split_by=Blond_Hair,Wearing_Hat] [--seed=0]

On the ground-truth evaluation's pairs (the same pairs and regions as
`evaluate`; MODEL is an export version, a run directory or a .tflite file),
the model's change to the input inside the region (C - A, D - B) is compared
with the exact change (C* - A, D* - B):

- scale: the least-squares multiple of the exact change that best matches the
  model's (1 = all the way, 0.5 = half way, as a faded frame);
- cosine: 1 when the model's change points along the exact one;
- left: the mean squared error that the best scale would still leave (shape or
  colour wrong, not just too faint), against `error`, the model's own.

The second table splits the pairs by the state of each --split_by attribute of
the edited face (A for C, B for D), with each group's PSNR inside the region
for the model, copy and (for D) the generic oracle, and its median per-pair
scale. A model that edits one kind of face half as far as another shows there
(BUILD_NOTES.md, "Bangs: half way on blond hair; a swap-back cycle measured").
"""

import numpy as np
from absl import flags

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import psnr as psnr_lib
from elegant_tf.inference import model_loading
from pipelines import markdown
from pipelines import synthetic
from pipelines import usage
from pipelines.synthetic import params as face_params


def define_flags():
  flags.DEFINE_string("model", None, "Export version directory, run directory or .tflite.")
  flags.DEFINE_string("attribute", "Bangs", "The attribute to exchange (one of the model's).")
  flags.DEFINE_integer("eval_pairs", 512, "Held-out pairs (as in evaluate).", lower_bound=1)
  flags.DEFINE_list("split_by", ["Blond_Hair", "Wearing_Hat"],
                    "Face attributes to split the pairs by: any of "
                    f"{', '.join(face_params.ATTRIBUTES)}.")
  flags.DEFINE_integer("seed", 0, "Seed of the synthetic faces (as the run's --seed).")
  usage.require_flags("model")


FLAGS = flags.FLAGS


def along_exact(change: np.ndarray, exact: np.ndarray, mask: np.ndarray) -> dict:
  """{"scale", "cosine", "error", "left"} of a model's `change` against the `exact` one,
  over the pixels `mask` selects ([N, H, W] or broadcastable to the images without
  their channel axis). `error` is the mean squared difference, `left` what the best
  scale leaves of it. NaN when the exact change is zero there."""
  selected = np.broadcast_to(np.asarray(mask, bool)[..., None], change.shape)
  model, truth = change[selected].astype(np.float64), exact[selected].astype(np.float64)
  power = float((truth * truth).sum())
  if not model.size or power == 0:
    return dict.fromkeys(("scale", "cosine", "error", "left"), float("nan"))
  scale = float((model * truth).sum() / power)
  norm = float(np.sqrt((model * model).sum() * power))
  return {"scale": scale,
          "cosine": float((model * truth).sum() / norm) if norm else float("nan"),
          "error": float(np.mean((model - truth) ** 2)),
          "left": float(np.mean((model - scale * truth) ** 2))}


def per_pair_scales(change: np.ndarray, exact: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """`along_exact`'s scale of each pair on its own ([N]; NaN where its exact change is 0)."""
  return np.array([along_exact(change[i:i + 1], exact[i:i + 1], mask[i:i + 1])["scale"]
                   for i in range(len(change))])


def edit_scale_rows(model, source, attribute: str, num_pairs: int,
                    split_by=("Blond_Hair", "Wearing_Hat")) -> tuple[list, list]:
  """(overall rows, group rows) for one attribute; see the module docstring."""
  names = list(model.attribute_names)
  pairs = ground_truth_eval.swap_ground_truth(source, attribute, num_pairs)
  weights = np.zeros(len(names), np.float32)
  weights[names.index(attribute)] = 1.0
  c, d = ground_truth_eval.edit_pairs_in_batches(
      ground_truth_eval.as_transfer(model), pairs["image_a"], pairs["image_b"], weights)
  faces = {"C": source.params("test", pairs["index_a"]),
           "D": source.params("test", pairs["index_b"])}
  overall, groups = [], []
  for output, edited, copy in (("C", c, pairs["image_a"]), ("D", d, pairs["image_b"])):
    truth, region = pairs["truth_" + output.lower()], pairs["region_" + output.lower()]
    generic = pairs.get("generic_d") if output == "D" else None

    def inside(images, selected):
      return psnr_lib.psnr(images[selected], truth[selected], region[selected])

    everything = np.ones(len(edited), bool)
    overall.append(dict(output=output, model_in=inside(edited, everything),
                        copy_in=inside(copy, everything),
                        **along_exact(edited - copy, truth - copy, region)))
    scales = per_pair_scales(edited - copy, truth - copy, region)
    for name in split_by:
      column = face_params.ATTRIBUTES.index(name)
      for state in (0, 1):
        selected = faces[output].states[:, column] == state
        if not selected.any():
          continue
        groups.append(dict(
            output=output, group=f"{name}={state}", pairs=int(selected.sum()),
            model_in=inside(edited, selected), copy_in=inside(copy, selected),
            generic_in=inside(generic, selected) if generic is not None else float("nan"),
            median_scale=float(np.nanmedian(scales[selected]))))
  return overall, groups


def main(argv):
  usage.check_no_arguments(argv)
  unknown = [name for name in FLAGS.split_by if name not in face_params.ATTRIBUTES]
  if unknown:
    raise usage.UsageError(f"--split_by: {', '.join(unknown)} not among the synthetic faces' "
                           f"attributes ({', '.join(face_params.ATTRIBUTES)})")
  model = model_loading.load(FLAGS.model)
  if FLAGS.attribute not in model.attribute_names:
    raise usage.UsageError(f"--attribute={FLAGS.attribute!r} is not one of the model's: "
                           f"{', '.join(model.attribute_names)}")
  source = synthetic.open_source("", model.image_size, seed=FLAGS.seed)
  overall, groups = edit_scale_rows(model, source, FLAGS.attribute, FLAGS.eval_pairs,
                                    FLAGS.split_by)
  print(f"{FLAGS.attribute}, {FLAGS.eval_pairs} held-out pairs; inside the region, the "
        "model's change against the exact one")
  print(markdown.table(
      ["output", "PSNR in", "copy", "scale", "cosine", "error", "left at best scale"],
      ([row["output"], f"{row['model_in']:.1f}", f"{row['copy_in']:.1f}",
        f"{row['scale']:.2f}", f"{row['cosine']:.2f}", f"{row['error']:.4f}",
        f"{row['left']:.4f}"] for row in overall)))
  print()
  print("By the edited face (A for C, B for D):")
  print(markdown.table(
      ["output", "group", "pairs", "PSNR in", "copy", "generic", "median scale"],
      ([row["output"], row["group"], str(row["pairs"]), f"{row['model_in']:.1f}",
        f"{row['copy_in']:.1f}",
        "" if np.isnan(row["generic_in"]) else f"{row['generic_in']:.1f}",
        f"{row['median_scale']:.2f}"] for row in groups)))


if __name__ == "__main__":
  define_flags()
  usage.run("edit_scale", main)
