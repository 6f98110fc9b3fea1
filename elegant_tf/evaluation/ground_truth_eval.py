"""Quality as a number: swaps on held-out synthetic faces against their exact ground truth.

For a swap of attributes S (one attribute, or several at once), A has the first
attribute of S and B lacks it, both from a held-out split. The renderer gives
the exact targets: C* = A with B's state and appearance of every attribute in
S, D* = B with A's. PSNR and SSIM are measured inside the swap's region (where
any attribute of S is or would be drawn in the source or the target) and
outside it (identity that must be kept). Two baselines sit next to the model:

* copy: the input returned unchanged (perfect outside, no edit inside);
* paste: an oracle that knows the true region and pastes the exemplar's
  pixels there (C = A with B's pixels inside, D = B with A's pixels inside).
  Faces differ in pose and shape, so pasting is far from perfect; a model that
  beats it inside the region has learnt more than where the attribute is;
* generic (D only): B rendered with the attribute switched on at B's own
  geometry in the mean style of the training faces. It knows where and how to
  draw, but not the exemplar's version; a model that transfers A's version
  should beat it. `D_gain` is the model's gain over copy inside the region as
  a percentage of this oracle's gain.

Reconstruction PSNR/SSIM (A' vs A, B' vs B) measures the autoencoder.
"""

import json
import os
from typing import Callable, Optional, Sequence

import numpy as np

from elegant_tf.evaluation import psnr as psnr_lib
from elegant_tf.evaluation import ssim as ssim_lib
from pipelines import atomic_files
from pipelines import markdown
from pipelines import synthetic

# PSNR columns of the training-time table (dB); SSIM ones are "ssim_" + name.
COLUMNS = ("attribute", "C_in", "copy_C_in", "C_out", "copy_C_out",
           "D_in", "copy_D_in", "generic_D_in", "D_gain", "D_out", "copy_D_out",
           "reconstruction")
METHODS = ("model", "copy", "paste", "generic")
# Removal has no style to guess, so the generic oracle exists for D only.
METHODS_OF = {"C": ("model", "copy", "paste"), "D": METHODS}
OUTPUTS = ("C", "D")
REGIONS = ("in", "out")
SWAP_SEPARATOR = "+"


def metric_key(method: str, output: str, region: str, metric: str = "psnr") -> str:
  """Row key: 'C_in' / 'copy_C_in' / 'paste_D_out', prefixed 'ssim_' for SSIM."""
  name = f"{output}_{region}" if method == "model" else f"{method}_{output}_{region}"
  return name if metric == "psnr" else f"ssim_{name}"


def full_columns(metric: str) -> tuple:
  """Columns of the full table for one metric ('psnr' or 'ssim')."""
  names = ["attribute"]
  for output in OUTPUTS:
    for region in REGIONS:
      names += [metric_key(method, output, region, metric) for method in METHODS_OF[output]]
  names.append("reconstruction" if metric == "psnr" else "ssim_reconstruction")
  if metric == "psnr":
    names.append("D_gain")
  return tuple(names)


def as_transfer(generator_like) -> Callable:
  """transfer(image, exemplar, attributes) -> {"edited", "exemplar_edited"} as numpy.

  Accepts a TransferModel (anything with a `.transfer`), or the Keras
  generator, which is called with one dict, so training and the evaluation
  CLI share this module.
  """
  if hasattr(generator_like, "transfer"):
    return generator_like.transfer

  def transfer(image, exemplar, attributes):
    outputs = generator_like({"image": image, "exemplar": exemplar, "attributes": attributes})
    return {key: np.asarray(value) for key, value in outputs.items()}

  return transfer


def parse_swap(swap) -> tuple:
  """'Eyeglasses+Bangs' or ('Eyeglasses', 'Bangs') -> ('Eyeglasses', 'Bangs')."""
  if isinstance(swap, str):
    return tuple(name for name in swap.split(SWAP_SEPARATOR) if name)
  return tuple(swap)


def swap_name(swap) -> str:
  return SWAP_SEPARATOR.join(parse_swap(swap))


def gain_percent(model_in: float, copy_in: float, generic_in: float) -> float:
  """The model's PSNR gain over copy as a percentage of the generic oracle's gain."""
  oracle_gain = generic_in - copy_in
  if not np.isfinite(oracle_gain) or oracle_gain <= 0:
    return float("nan")
  return float(100.0 * (model_in - copy_in) / oracle_gain)


def swap_ground_truth(source: "synthetic.SyntheticFaces", attribute, num_pairs: int,
                      split: str = "test") -> dict:
  """Held-out pairs for a swap with exact targets, regions and oracle pastes (numpy).

  attribute: one name or a swap (names joined by '+' or a sequence); pairs are
  chosen on the first name (A has it, B lacks it), all names are exchanged.
  """
  names = parse_swap(attribute)
  labels = source.labels(split)
  columns = [source.attribute_names.index(name) for name in names]
  positives = np.flatnonzero(labels[:, columns[0]] == 1)[:num_pairs]
  negatives = np.flatnonzero(labels[:, columns[0]] == 0)[:num_pairs]
  count = min(len(positives), len(negatives))
  positives, negatives = positives[:count], negatives[:count]
  params_a = source.params(split, positives)
  params_b = source.params(split, negatives)
  size = source.image_size
  image_a, mask_a = synthetic.render_faces(params_a, size)
  image_b, mask_b = synthetic.render_faces(params_b, size)
  truth_c, mask_c = synthetic.render_faces(
      synthetic.exchange_attributes(params_a, params_b, list(names)), size)
  truth_d, mask_d = synthetic.render_faces(
      synthetic.exchange_attributes(params_b, params_a, list(names)), size)
  generic_d, _ = synthetic.render_faces(synthetic.with_generic_attributes(
      params_b, list(names), synthetic.mean_style(source.seed)), size)
  # Soft coverage of the swap in source and target: the paste alpha; its
  # support is the region where the edit may change pixels.
  alpha_c = np.maximum(mask_a[..., columns].max(-1), mask_c[..., columns].max(-1))
  alpha_d = np.maximum(mask_b[..., columns].max(-1), mask_d[..., columns].max(-1))
  return {
      "image_a": image_a, "image_b": image_b, "truth_c": truth_c, "truth_d": truth_d,
      "region_c": alpha_c > 0, "region_d": alpha_d > 0,
      "paste_c": image_a * (1 - alpha_c[..., None]) + image_b * alpha_c[..., None],
      "paste_d": image_b * (1 - alpha_d[..., None]) + image_a * alpha_d[..., None],
      "generic_d": generic_d,
      "index_a": positives, "index_b": negatives,
      "labels_a": labels[positives].astype(np.float32),
      "labels_b": labels[negatives].astype(np.float32),
  }


def edit_pairs_in_batches(transfer: Callable, image_a, image_b, weights: np.ndarray,
                 batch_size: int = 32, progress=None) -> tuple:
  """Edited (C, D) of every pair for one weight row (the same for all pairs)."""
  edited, exemplar_edited = [], []
  for start in range(0, len(image_a), batch_size):
    a = image_a[start:start + batch_size]
    b = image_b[start:start + batch_size]
    outputs = transfer(a, b, np.broadcast_to(weights, (len(a), len(weights))).copy())
    edited.append(np.asarray(outputs["edited"]))
    exemplar_edited.append(np.asarray(outputs["exemplar_edited"]))
    if progress is not None:
      progress(len(a))
  return np.concatenate(edited), np.concatenate(exemplar_edited)


def score_swap(name: str, pairs: dict, c, d, rec_a, rec_b, with_ssim: bool = True) -> dict:
  """One row: PSNR (and SSIM) of model, copy and paste for C and D, inside and outside."""
  row = {"attribute": name, "pairs": len(c)}
  candidates = {
      "C": {"model": c, "copy": pairs["image_a"], "paste": pairs["paste_c"]},
      "D": {"model": d, "copy": pairs["image_b"], "paste": pairs["paste_d"],
            "generic": pairs["generic_d"]},
  }
  for output in OUTPUTS:
    truth = pairs["truth_" + output.lower()]
    region = pairs["region_" + output.lower()]
    for method, images in candidates[output].items():
      # One SSIM map per candidate, averaged inside and outside the region.
      values = ssim_lib.ssim_map(images, truth) if with_ssim else None
      for region_name, mask in (("in", region), ("out", ~region)):
        row[metric_key(method, output, region_name)] = psnr_lib.psnr(images, truth, mask)
        if with_ssim:
          row[metric_key(method, output, region_name, "ssim")] = ssim_lib.masked_mean(
              values, mask)
  reconstructed = np.concatenate([rec_a, rec_b])
  originals = np.concatenate([pairs["image_a"], pairs["image_b"]])
  row["reconstruction"] = psnr_lib.psnr(reconstructed, originals)
  row["D_gain"] = gain_percent(row["D_in"], row["copy_D_in"], row["generic_D_in"])
  if with_ssim:
    row["ssim_reconstruction"] = ssim_lib.ssim(reconstructed, originals)
  return row


def evaluate_swaps(generator, source, attributes, num_pairs: int, split: str = "test",
                   batch_size: int = 32, swaps: Optional[Sequence] = None,
                   with_ssim: bool = True, keep_outputs: Optional[dict] = None,
                   progress=None, scales: Optional[Sequence[float]] = None) -> list[dict]:
  """One row per swap (default: each attribute alone) with the keys of full_columns().

  generator: the Keras generator or a TransferModel; `attributes` are its
  attribute names, in slab order. keep_outputs: if a dict, receives, per swap
  name, the pairs and the model's C, D (for classifier, realism and figures).
  progress: optional callable(count) told how many pairs were processed.
  scales: if given, the exchange weight is multiplied by each in turn (latent
  extrapolation), and each row gets its "scale"; rows go swap by swap, scales in
  the given order. The pairs are rendered and reconstructed once per swap.
  """
  transfer = as_transfer(generator)
  attributes = list(attributes)
  if keep_outputs is not None and scales is not None and len(scales) > 1:
    raise ValueError("keep_outputs keeps one C, D per swap; it takes at most one scale")
  rows = []
  for swap in (swaps if swaps is not None else [(name,) for name in attributes]):
    names = parse_swap(swap)
    pairs = swap_ground_truth(source, names, num_pairs, split)
    weights = np.zeros(len(attributes), np.float32)
    for name in names:
      weights[attributes.index(name)] = 1.0
    rec_a, rec_b = edit_pairs_in_batches(transfer, pairs["image_a"], pairs["image_b"],
                                np.zeros_like(weights), batch_size)
    for scale in (scales if scales is not None else (1.0,)):
      c, d = edit_pairs_in_batches(transfer, pairs["image_a"], pairs["image_b"],
                                   weights * np.float32(scale), batch_size, progress)
      row = score_swap(swap_name(names), pairs, c, d, rec_a, rec_b, with_ssim)
      if scales is not None:
        row["scale"] = float(scale)
      rows.append(row)
      if keep_outputs is not None:
        keep_outputs[swap_name(names)] = dict(pairs, edited_c=c, edited_d=d)
  return rows


def markdown_table(rows: list[dict], columns: Sequence[str] = COLUMNS,
                   digits: int = 1) -> str:
  """A Markdown table of `rows` over `columns` (first column as text, the rest as numbers)."""
  return markdown.table(columns, ([row[columns[0]]] + [f"{row[name]:.{digits}f}"
                                                       for name in columns[1:]]
                                   for row in rows))


def write_run_evaluation(generator, source, config) -> str:
  """The end-of-training evaluation: evaluation.md and .json in config.run_dir; the table.

  config: the run's TrainConfig (attributes, eval_pairs, run_dir).
  """
  rows = evaluate_swaps(generator, source, config.attributes, config.eval_pairs)
  table = markdown_table(rows)
  with atomic_files.atomic_open(os.path.join(config.run_dir, "evaluation.md")) as f:
    f.write("PSNR (dB) on held-out synthetic pairs against exact ground truth "
            f"({config.eval_pairs} pairs per attribute). C = attribute removed, D = added; "
            "in/out = inside/outside the attribute's region; copy = input unchanged; "
            "generic = B with the attribute drawn at its own geometry in the mean style; "
            "D_gain = (D - copy) / (generic - copy) inside the region, in %.\n\n"
            + table + "\n")
  with atomic_files.atomic_open(os.path.join(config.run_dir, "evaluation.json")) as f:
    json.dump(rows, f, indent=2)
  return table
