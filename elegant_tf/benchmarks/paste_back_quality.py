"""Paste-back quality against exact ground truth: the whole-crop blend vs the pasted change.

  python -m elegant_tf.benchmarks.paste_back_quality [--model=saved_models/elegant_demo]

Each case is a test-split synthetic face A without the attribute and a face B with it,
rendered as non-aligned "wild" photos with the face at --face_sizes pixels, aligned
with their exact landmarks, and swapped by the model (A takes B's attribute). The
renderer also draws A wearing B's attribute (exchange_attributes): the exact edited
photo. Inside the crop's footprint in the photo (paste_mask > 0) the attribute's
region is where that truth differs from A's photo, grown by one model pixel (the
model's change cannot be sharper); the rest of the footprint is "outside".

Columns, per attribute and face size (mean over --pairs photos; min in brackets):
  outside  PSNR of the result against A's own photo, where nothing should change
  inside   PSNR of the result against the true edited photo, in the region
  unedited PSNR of A's photo itself against the truth in the region (doing nothing)
  kept     fraction of footprint pixels returned bit-identical
  inside gain  mean of (after - before) inside, in dB, to two decimals
"before" is photo_edit.blend_crop (the S x S edited face scaled up and blended in),
"after" photo_edit.paste_back (the change C - A' added to the photo). --grain adds the
same Gaussian noise (sigma in 8-bit levels) to the photo and to its truth: the fine
texture of a real camera photo, which a blend of a 64 px face cannot keep.
"""

import dataclasses

import numpy as np
import tensorflow as tf
from absl import flags

from elegant_tf.apps import photo_edit
from elegant_tf.evaluation import psnr as psnr_lib
from elegant_tf.inference import model_loading
from pipelines import markdown
from pipelines import synthetic
from pipelines import usage

# (top, bottom, left, right) background around the face: the face off-centre, as in a photo.
PAD_FRACTIONS = (0.25, 0.15, 0.45, 0.1)
# Test-split faces scanned for pairs of each attribute (about half show any one attribute).
CANDIDATE_FACES = 200


@dataclasses.dataclass
class Case:
  """One edit with its exact answer: uint8 photos and float32 [5, 2] landmarks."""
  photo: np.ndarray
  landmarks: np.ndarray
  exemplar: np.ndarray
  exemplar_landmarks: np.ndarray
  truth: np.ndarray  # The photo with the exemplar's attribute, as the renderer draws it.


def attribute_pairs(attribute: str, count: int, seed: int = 0) -> list:
  """[(face without `attribute`, face with it)] test-split indices, the first `count`."""
  indices = np.arange(CANDIDATE_FACES) + synthetic.SPLIT_BASES["test"]
  states = synthetic.sample_faces(seed, indices).states[:, synthetic.ATTRIBUTES.index(attribute)]
  without, with_it = indices[~states][:count], indices[states][:count]
  return list(zip(without.tolist(), with_it.tolist()))


def make_case(pair: tuple, attribute: str, face_size: int, seed: int = 0,
              grain: float = 0.0) -> Case:
  """Render the pair as photos with the face at `face_size` px, and the true edit."""
  pad = tuple(int(round(f * face_size)) for f in PAD_FRACTIONS)
  faces = synthetic.sample_faces(seed, list(pair), layout="wild")
  target, donor = faces.take([0]), faces.take([1])
  photo, landmarks = synthetic.render_photo_of(target, face_size, pad)
  exemplar, exemplar_landmarks = synthetic.render_photo_of(donor, face_size, pad)
  truth, _ = synthetic.render_photo_of(
      synthetic.exchange_attributes(target, donor, attribute), face_size, pad)
  if grain:
    noise = np.random.default_rng(pair[0]).normal(0.0, grain, photo.shape)
    add = lambda pixels: np.clip(np.round(pixels + noise), 0, 255).astype(np.uint8)
    photo, truth = add(photo), add(truth)
  return Case(photo, landmarks, exemplar, exemplar_landmarks, truth)


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
  """`mask` [H, W] bool dilated by a (2 pixels + 1) square."""
  window = 2 * pixels + 1
  grown = tf.nn.max_pool2d(mask[None, ..., None].astype(np.float32), window, 1, "SAME")
  return grown.numpy()[0, ..., 0] > 0


def regions(case: Case, footprint: np.ndarray, model_pixel: int) -> tuple:
  """(inside, outside) bool [H, W] of the footprint: the attribute's true region grown by
  one model pixel (`model_pixel` photo pixels), and the rest."""
  changed = (case.truth != case.photo).any(axis=-1)
  inside = footprint & grow(changed, model_pixel)
  return inside, footprint & ~inside


def psnr(result: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
  """dB of uint8 photos over the pixels of `mask` (inf when they are equal)."""
  return psnr_lib.psnr(result, reference, mask, value_range=255.0)


def evaluate_case(model, case: Case, attribute: str) -> dict:
  """PSNRs of the blend (before) and of the pasted change (after) for one case."""
  aligned = photo_edit.prepare_face(case.photo, model.image_size, "landmarks", case.landmarks)
  exemplar = photo_edit.prepare_face(case.exemplar, model.image_size, "landmarks",
                                     case.exemplar_landmarks)
  weights = np.array([name == attribute for name in model.attribute_names], np.float32)
  outputs = photo_edit.edit_and_reconstruct(model, aligned.crop, exemplar.crop, weights)
  before = photo_edit.blend_crop(aligned, outputs["edited"])
  after = photo_edit.paste_back(aligned, outputs["edited"], outputs["reconstructed"])
  footprint = photo_edit.paste_mask(aligned) > 0
  # Photo pixels per model pixel: the alignment's zoom.
  zoom = float(np.hypot(aligned.transform[0], aligned.transform[1]))
  inside, outside = regions(case, footprint, max(1, int(np.ceil(1.0 / zoom))))
  return {
      "outside before": psnr(before, case.photo, outside),
      "outside after": psnr(after, case.photo, outside),
      "inside before": psnr(before, case.truth, inside),
      "inside after": psnr(after, case.truth, inside),
      "inside unedited": psnr(case.photo, case.truth, inside),
      "kept before": float((before == case.photo).all(axis=-1)[footprint].mean()),
      "kept after": float((after == case.photo).all(axis=-1)[footprint].mean()),
  }


COLUMNS = ("outside before", "outside after", "inside before", "inside after",
           "inside unedited", "kept before", "kept after")


def format_table(rows: list) -> str:
  """Markdown: one line per (attribute, face size, grain), mean [min] of each column."""
  lines = []
  for row in rows:
    cells = []
    for column in COLUMNS:
      values = np.array([case[column] for case in row["cases"]])
      if column.startswith("kept"):
        cells.append(f"{values.mean():.2f}")
      else:
        cells.append(f"{values.mean():.1f} [{values.min():.1f}]")
    gain = np.mean([case["inside after"] - case["inside before"] for case in row["cases"]])
    cells.append(f"{gain:+.2f}")
    lines.append([row["attribute"], row["face_size"], f"{row['grain']:g}", len(row["cases"])]
                 + cells)
  return markdown.table(["attribute", "face (px)", "grain", "pairs", *COLUMNS, "inside gain"],
                        lines)


def define_flags():
  flags.DEFINE_string("model", "saved_models/elegant_demo", "A model transfer takes.")
  flags.DEFINE_list("face_sizes", ["256", "512"], "Face sizes in the photos (pixels).")
  flags.DEFINE_list("attributes", None, "Attributes to edit (default: all the model's).")
  flags.DEFINE_integer("pairs", 6, "Photos per attribute and face size.")
  flags.DEFINE_list("grain", ["0", "3"], "Noise sigmas (8-bit levels) to add to the photos.")


FLAGS = flags.FLAGS


def main(argv):
  usage.check_no_arguments(argv)
  model = model_loading.load(FLAGS.model)
  attributes = FLAGS.attributes or list(model.attribute_names)
  unknown = [name for name in attributes if name not in model.attribute_names]
  if unknown:
    raise usage.UsageError(f"--attributes: the model does not know {','.join(unknown)}")
  rows = []
  for attribute in attributes:
    pairs = attribute_pairs(attribute, FLAGS.pairs)
    for face_size in [int(size) for size in FLAGS.face_sizes]:
      for grain in [float(sigma) for sigma in FLAGS.grain]:
        cases = [evaluate_case(model, make_case(pair, attribute, face_size, grain=grain),
                               attribute) for pair in pairs]
        rows.append({"attribute": attribute, "face_size": face_size, "grain": grain,
                     "cases": cases})
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
  print(f"\n{model.source}: mean [min] over the pairs; PSNR in dB")
  print(format_table(rows))


if __name__ == "__main__":
  define_flags()
  usage.run("paste_back_quality", main)
