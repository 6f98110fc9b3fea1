"""How far could a Bangs edit go? Oracles that know everything but one thing.

  python -m elegant_tf.benchmarks.bangs_bounds [--eval_pairs=512] [--samples=8]

Bangs is the attribute furthest from its targets (docs/quality.md). Two reasons
would put the targets out of any model's reach: what the bangs hide (the brows)
cannot be known from A, or the exact strands of the fringe cannot be placed. The
synthetic faces can test both. On the ground-truth evaluation's pairs (the same
pairs and regions as `evaluate`), each row renders an oracle and gives its PSNR
inside the region against the exact target:

- removal (C): the exact target with the brows of the mean face, and the pixel
  mean of the exact target under `samples` random brows (the best a model that
  knows nothing of the brows could do in PSNR); also the share of the brows'
  pixels that A's bangs hide;
- adding (D): A's exact fringe shape with the strands at the mean frequency, or
  averaged over `samples` frequencies; the mean shape with the same strands, and
  with A's; `generic` is the evaluation's oracle (mean shape, mean strands).

A model's C_in and D_in from `evaluate` sit on the same scale (docs/quality.md).
"""

import numpy as np
from absl import flags

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import psnr as psnr_lib
from pipelines import markdown
from pipelines import synthetic
from pipelines import usage
from pipelines.synthetic import params as face_params

BROW_FIELDS = ("brow_dy", "brow_thickness", "brow_arch", "brow_tilt", "brow_r", "brow_g",
               "brow_b")
# The strand frequencies faces are drawn with (pipelines/synthetic/params.py).
STRAND_FREQUENCIES = (14.0, 28.0)
# A pixel counts as brow when removing the brows changes it by more than this (of 2).
BROW_CHANGE = 0.02
# Where a face's strand frequency sits in FaceParams.appearance.
_BANGS = face_params.ATTRIBUTES.index("Bangs")
_STRANDS = face_params.APPEARANCE_FIELDS["Bangs"].index("strand_frequency")


def define_flags():
  flags.DEFINE_integer("eval_pairs", 512, "Held-out pairs (as in evaluate).", lower_bound=1)
  flags.DEFINE_integer("samples", 8, "Random brows, and strand frequencies, averaged over.",
                       lower_bound=1)
  flags.DEFINE_integer("image_size", 64, "Side of the rendered faces, in pixels.",
                       lower_bound=face_params.MIN_IMAGE_SIZE,
                       upper_bound=face_params.MAX_IMAGE_SIZE)
  flags.DEFINE_integer("seed", 0, "Seed of the synthetic faces (as the run's --seed).")


FLAGS = flags.FLAGS


def _with_identity(params, names, values) -> face_params.FaceParams:
  """`params` with the identity fields `names` set to `values`."""
  identity = params.identity.copy()
  identity[:, [face_params.ID_COLUMN[name] for name in names]] = values
  return face_params.FaceParams(identity=identity, appearance=params.appearance.copy(),
                                states=params.states.copy())


def _with_strands(params, frequency) -> face_params.FaceParams:
  appearance = params.appearance.copy()
  appearance[:, _BANGS, _STRANDS] = frequency
  return face_params.FaceParams(identity=params.identity.copy(), appearance=appearance,
                                states=params.states.copy())


def bound_rows(source, num_pairs: int, samples: int = 8) -> list[dict]:
  """Rows {"oracle", "output" ("C"/"D"/"hidden"), "value"}: PSNR inside the region in
  dB, and for "hidden" the share of the brows' pixels under A's bangs."""
  pairs = ground_truth_eval.swap_ground_truth(source, "Bangs", num_pairs)
  params_a = source.params("test", pairs["index_a"])
  params_b = source.params("test", pairs["index_b"])
  size = source.image_size

  def render(params):
    return synthetic.render_faces(params, size)[0]

  def inside(images, output):
    key = output.lower()
    return psnr_lib.psnr(images, pairs["truth_" + key], pairs["region_" + key])

  train = face_params.sample_faces(source.seed, np.arange(4096)
                                   + face_params.SPLIT_BASES["train"])
  brows = train.identity[:, [face_params.ID_COLUMN[name] for name in BROW_FIELDS]]
  rng = np.random.default_rng(0)
  count = len(params_a)
  exact_c = face_params.exchange_attributes(params_a, params_b, ["Bangs"])
  exact_d = face_params.exchange_attributes(params_b, params_a, ["Bangs"])
  style = synthetic.mean_style(source.seed)
  generic = face_params.with_generic_attributes(params_b, ["Bangs"], style)
  mean_frequency = style[_BANGS, _STRANDS]
  frequencies = np.linspace(*STRAND_FREQUENCIES, samples)
  random_brows = [brows[rng.integers(0, len(brows), count)] for _ in range(samples)]

  def strands_averaged(params):
    return np.mean([render(_with_strands(params, f)) for f in frequencies], axis=0)

  # The brows' pixels in C* (where brows of no thickness change it), and how many of
  # them A's bangs cover (the fringe follows the brows, so A's bangs sit where C*'s
  # brows are).
  no_brows = _with_identity(exact_c, ["brow_thickness"], 0.0)
  brow_pixels = np.abs(render(no_brows) - pairs["truth_c"]).max(-1) > BROW_CHANGE
  bangs_a = synthetic.render_faces(params_a, size)[1][..., _BANGS]
  hidden = (float((brow_pixels & (bangs_a > 0.5)).sum() / brow_pixels.sum())
            if brow_pixels.any() else float("nan"))
  rows = [
      ("C", "copy (A unchanged)", inside(pairs["image_a"], "C")),
      ("C", "exact but for the brows: the mean face's", inside(
          render(_with_identity(exact_c, BROW_FIELDS, brows.mean(axis=0))), "C")),
      ("C", f"exact but for the brows: pixel mean over {samples} random ones", inside(
          np.mean([render(_with_identity(exact_c, BROW_FIELDS, b)) for b in random_brows],
                  axis=0), "C")),
      ("hidden", "share of the brows' pixels under A's bangs", hidden),
      ("D", "copy (B unchanged)", inside(pairs["image_b"], "D")),
      ("D", "generic: mean shape, mean strand frequency", inside(pairs["generic_d"], "D")),
      ("D", f"mean shape, strands averaged over {samples} frequencies", inside(
          strands_averaged(generic), "D")),
      ("D", "mean shape, A's strand frequency", inside(
          render(_with_strands(generic, params_a.appearance[:, _BANGS, _STRANDS])), "D")),
      ("D", "A's shape, mean strand frequency", inside(
          render(_with_strands(exact_d, mean_frequency)), "D")),
      ("D", f"A's shape, strands averaged over {samples} frequencies", inside(
          strands_averaged(exact_d), "D")),
  ]
  return [{"output": output, "oracle": name, "value": float(value)}
          for output, name, value in rows]


def main(argv):
  usage.check_no_arguments(argv)
  source = synthetic.open_source("", FLAGS.image_size, seed=FLAGS.seed)
  rows = bound_rows(source, FLAGS.eval_pairs, FLAGS.samples)
  print(f"Bangs, {FLAGS.eval_pairs} held-out pairs; PSNR inside the region (dB) against the "
        "exact target, as evaluate's C_in / D_in")
  print(markdown.table(["output", "oracle", "value"],
                       ([row["output"], row["oracle"],
                         f"{row['value']:.3f}" if row["output"] == "hidden"
                         else f"{row['value']:.1f}"] for row in rows)))


if __name__ == "__main__":
  define_flags()
  usage.run("bangs_bounds", main)
