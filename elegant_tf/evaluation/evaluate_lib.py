"""The work of `python -m elegant_tf.evaluate` (see that command for the report's sections).

`evaluate(model, source, out_dir, ...)` runs every section that applies and writes
results.md, results.csv, results.json and figures/; it raises usage.UsageError for
bad combinations (unknown swaps, a classifier of another size) and never exits.
"""

import csv
import json
import math
import os
import sys
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from elegant_tf.evaluation import classifier_lib
from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import psnr as psnr_lib
from elegant_tf.evaluation import realism
from elegant_tf.evaluation import ssim as ssim_lib
from pipelines import atomic_files
from pipelines import image_grid
from pipelines import markdown as markdown_lib
from pipelines import usage

DEFAULT_FIGURE_PAIRS = 6
OVERVIEW_PAIRS = 2
# Faces smaller than this are drawn at twice their size in the overview, so a
# 64 px face reads on a page without the viewer's blurry upscaling.
OVERVIEW_ENLARGE_BELOW = 128


class EvaluationRequestError(usage.UsageError):
  """An evaluation that cannot be run as asked: `parameter` (an argument of `evaluate`,
  such as "split" or "classifier_dir") names the argument whose value must change; the
  message names the value, not a command's flag."""

  def __init__(self, message: str, parameter: str):
    super().__init__(message)
    self.parameter = parameter


class Progress:
  """A Keras progress bar over a known count of items, or silence."""

  def __init__(self, title: str, total: int, enabled: bool = True):
    self.bar = None
    if enabled and total > 0:
      print(title, flush=True)
      self.bar = keras.utils.Progbar(total, unit_name="image")
    self.done = 0

  def __call__(self, count: int):
    self.done += count
    if self.bar is not None:
      self.bar.update(self.done)


def default_swaps(attributes: Sequence[str]) -> list:
  """Each attribute alone, then the first two together and all together (if more than 2)."""
  swaps = [(name,) for name in attributes]
  if len(attributes) >= 2:
    swaps.append(tuple(attributes[:2]))
  if len(attributes) > 2:
    swaps.append(tuple(attributes))
  return swaps


def _source_images(source, split: str, indices: np.ndarray, batch_size: int = 16) -> tuple:
  """(images, labels) of `indices` from any FaceSource (undecodable ones are skipped)."""
  if len(indices) == 0:
    return (np.zeros((0, source.image_size, source.image_size, 3), np.float32),
            np.zeros((0, len(source.attribute_names)), np.float32))
  batch_size = min(batch_size, len(indices))
  images, labels = [], []
  dataset = tf.data.Dataset.from_tensor_slices(np.asarray(indices, np.int64))
  for batch_images, batch_labels in source.batches(split, dataset, batch_size):
    images.append(batch_images.numpy())
    labels.append(batch_labels.numpy())
  if not images:
    return _source_images(source, split, indices[:0])
  return np.concatenate(images), np.concatenate(labels)


def real_pairs(source, names: Sequence[str], num_pairs: int, split: str) -> dict:
  """Pairs from any source: A has names[0], B lacks it (first num_pairs of each in order)."""
  labels = source.labels(split)
  column = source.attribute_names.index(names[0])
  image_a, labels_a = _source_images(
      source, split, np.flatnonzero(labels[:, column] == 1)[:num_pairs])
  image_b, labels_b = _source_images(
      source, split, np.flatnonzero(labels[:, column] == 0)[:num_pairs])
  count = min(len(image_a), len(image_b))
  return {"image_a": image_a[:count], "image_b": image_b[:count],
          "labels_a": labels_a[:count], "labels_b": labels_b[:count]}


def edit_real_pairs(model, source, swaps, num_pairs: int, split: str, batch_size: int,
                    progress_enabled: bool = True) -> tuple:
  """Edits of pairs from a source without ground truth: (reconstruction rows, outputs)."""
  transfer = ground_truth_eval.as_transfer(model)
  rows, outputs = [], {}
  for swap in swaps:
    names = ground_truth_eval.parse_swap(swap)
    pairs = real_pairs(source, names, num_pairs, split)
    if not len(pairs["image_a"]):
      raise EvaluationRequestError(
          f"split {split!r} has no pair for {ground_truth_eval.swap_name(names)}", "split")
    weights = np.zeros(len(model.attribute_names), np.float32)
    for name in names:
      weights[list(model.attribute_names).index(name)] = 1.0
    progress = Progress(f"editing {ground_truth_eval.swap_name(names)}", len(pairs["image_a"]),
                        progress_enabled)
    c, d = ground_truth_eval.edit_pairs_in_batches(transfer, pairs["image_a"], pairs["image_b"],
                                          weights, batch_size, progress)
    rec_a, rec_b = ground_truth_eval.edit_pairs_in_batches(
        transfer, pairs["image_a"], pairs["image_b"], np.zeros_like(weights), batch_size)
    originals = np.concatenate([pairs["image_a"], pairs["image_b"]])
    reconstructed = np.concatenate([rec_a, rec_b])
    name = ground_truth_eval.swap_name(names)
    rows.append({"attribute": name, "pairs": len(c),
                 "reconstruction": psnr_lib.psnr(reconstructed, originals),
                 "ssim_reconstruction": ssim_lib.ssim(reconstructed, originals)})
    outputs[name] = dict(pairs, edited_c=c, edited_d=d)
  return rows, outputs


def classifier_rows(classifier, classifier_names: Sequence[str], source_names: Sequence[str],
                    outputs: dict) -> list:
  """Editing accuracy and preservation error per swap, for model, copy and (if known) truth.

  Targets: for C, the swapped attributes should read as B's labels and the
  others as A's; for D the reverse. Labels are the data's, so the classifier's
  own error (see its accuracy) is a floor under both numbers.
  """
  judged = [name for name in classifier_names if name in source_names]
  source_columns = [list(source_names).index(name) for name in judged]
  classifier_columns = [list(classifier_names).index(name) for name in judged]
  rows = []
  for swap, data in outputs.items():
    names = ground_truth_eval.parse_swap(swap)
    swapped = np.array([name in names for name in judged])
    if not swapped.any():
      continue
    labels_a = data["labels_a"][:, source_columns] > 0.5
    labels_b = data["labels_b"][:, source_columns] > 0.5
    target_c = np.where(swapped, labels_b, labels_a)
    target_d = np.where(swapped, labels_a, labels_b)
    candidates = {"model": (data["edited_c"], data["edited_d"]),
                  "copy": (data["image_a"], data["image_b"])}
    if "truth_c" in data:
      candidates["truth"] = (data["truth_c"], data["truth_d"])
    row = {"attribute": swap, "pairs": len(labels_a)}
    for method, (c, d) in candidates.items():
      read_c = classifier_lib.predict_probabilities(classifier, c)[:, classifier_columns] > 0.5
      read_d = classifier_lib.predict_probabilities(classifier, d)[:, classifier_columns] > 0.5
      prefix = "" if method == "model" else method + "_"
      # Pooled over C and D, then each alone: removing and adding are different
      # skills, and a model that only removes would otherwise score 50%.
      for suffix, correct in (("", np.concatenate([read_c == target_c, read_d == target_d])),
                              ("_C", read_c == target_c), ("_D", read_d == target_d)):
        row[prefix + "editing_accuracy" + suffix] = float(correct[:, swapped].mean())
        row[prefix + "preservation_error" + suffix] = (
            float(1.0 - correct[:, ~swapped].mean()) if (~swapped).any() else float("nan"))
    rows.append(row)
  return rows


def realism_rows(extractor, source, outputs: dict, attributes: Sequence[str],
                 reference_split: str, max_images: int, progress_enabled: bool = True) -> list:
  """FID/KID of added (D) and removed (C) edits, and of the unedited inputs, per attribute."""
  labels = source.labels(reference_split)
  rows = []
  for name in attributes:
    if name not in outputs:
      continue
    data = outputs[name]
    column = source.attribute_names.index(name)
    # Reference images come from the far end of the split, away from the pairs
    # (taken from its start) when the reference split is the evaluation split.
    with_it = np.flatnonzero(labels[:, column] == 1)[::-1][:max_images]
    without_it = np.flatnonzero(labels[:, column] == 0)[::-1][:max_images]
    count = min(max_images, len(data["edited_c"]))
    total = 4 * count + len(with_it) + len(without_it)
    progress = Progress(f"Inception features for {name}", total, progress_enabled)
    real_with = extractor(_source_images(source, reference_split, with_it)[0], progress)
    real_without = extractor(_source_images(source, reference_split, without_it)[0], progress)
    for direction, edited, unedited, real in (
        ("added", data["edited_d"], data["image_b"], real_with),
        ("removed", data["edited_c"], data["image_a"], real_without)):
      model_row = realism.realism_row(name, extractor(edited[:count], progress), real)
      copy_row = realism.realism_row(name, extractor(unedited[:count], progress), real)
      row = {"attribute": f"{name} ({direction})", "edited": model_row["edited"],
             "real": model_row["real"]}
      for key in ("fid", "kid_x1000", "kid_std_x1000"):
        row[key] = model_row[key]
        row["copy_" + key] = copy_row[key]
      rows.append(row)
  return rows


def _sheet_rows(data: dict, count: int) -> list:
  """The first `count` pairs of one swap as rows of A | B | C | D (| C* | D*)."""
  keys = ["image_a", "image_b", "edited_c", "edited_d"]
  if "truth_c" in data:
    keys += ["truth_c", "truth_d"]
  return [[data[key][k] for key in keys] for k in range(min(count, len(data["image_a"])))]


def figure_sheets(outputs: dict, out_dir: str, count: int = DEFAULT_FIGURE_PAIRS) -> list:
  """One PNG per swap: rows of A | B | C | D (| C* | D* with ground truth)."""
  folder = os.path.join(out_dir, "figures")
  os.makedirs(folder, exist_ok=True)
  paths = []
  for swap, data in outputs.items():
    rows = _sheet_rows(data, count)
    if not rows:
      continue
    path = os.path.join(folder, swap.replace(ground_truth_eval.SWAP_SEPARATOR, "_") + ".png")
    image_grid.write_png(path, image_grid.tile(rows))
    paths.append(path)
  return paths


def overview_sheet(outputs: dict, out_dir: str, count: int = OVERVIEW_PAIRS):
  """figures/overview.png: the first `count` pairs of every one-attribute swap, stacked.

  The same columns as the per-swap sheets (A | B | C | D, then C* | D* with ground
  truth); one picture of the whole model, the one README shows. None when no swap
  moves a single attribute.
  """
  rows = []
  for swap, data in outputs.items():
    if ground_truth_eval.SWAP_SEPARATOR in swap:
      continue
    rows += _sheet_rows(data, count)
  if not rows:
    return None
  scale = 2 if np.shape(rows[0][0])[0] < OVERVIEW_ENLARGE_BELOW else 1
  rows = [[np.repeat(np.repeat(np.asarray(image), scale, axis=0), scale, axis=1)
           for image in row] for row in rows]
  path = os.path.join(out_dir, "figures", "overview.png")
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image_grid.write_png(path, image_grid.tile(rows, gap=2 * scale))
  return path


def _format(value) -> str:
  if isinstance(value, str):
    return value
  if isinstance(value, (int, np.integer)):
    return str(int(value))
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "n/a"
  if value != 0 and abs(value) < 1e-3:
    return f"{value:.2e}"  # Random-weight features give tiny distances; never show 0.000.
  return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def markdown(rows: list, columns: Sequence[str]) -> str:
  """Markdown table; integers as is, NaN as n/a, small numbers with 3 decimals."""
  return markdown_lib.table(columns, ([_format(row.get(name)) for name in columns] for row in rows))


def _columns(rows: list) -> list:
  columns = []
  for row in rows:
    columns += [key for key in row if key not in columns]
  return columns


def write_csv(path: str, sections: dict) -> None:
  """Long format: section, swap, metric, value (one row per number)."""
  with atomic_files.atomic_open(path, newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["section", "swap", "metric", "value"])
    for section, rows in sections.items():
      for row in rows:
        for key, value in row.items():
          if key != "attribute":
            writer.writerow([section, row["attribute"], key, value])


def evaluate(model, source, out_dir: str, split: str = "test", num_pairs: int = 200,
             swaps: Optional[Sequence] = None, classifier_dir: Optional[str] = None,
             realism_images: int = 0, reference_split: str = "val",
             inception_weights: Optional[str] = None, inception_size: int = 299,
             batch_size: int = 32, progress: bool = True) -> dict:
  """Run every section that applies; write the report to out_dir; return {"report", "sections"}."""
  attributes = list(model.attribute_names)
  missing = [name for name in attributes if name not in source.attribute_names]
  if missing:
    raise usage.UsageError(f"the model's attributes {missing} are not in the data, which has: "
                           + ", ".join(source.attribute_names))
  swaps = [ground_truth_eval.parse_swap(swap) for swap in (swaps or default_swaps(attributes))]
  unknown = sorted({name for swap in swaps for name in swap} - set(attributes))
  if unknown:
    raise EvaluationRequestError(f"the swaps name {unknown}, not attributes of the model: "
                                 + ", ".join(attributes), "swaps")
  os.makedirs(out_dir, exist_ok=True)
  sections, text = {}, []
  header = (f"Model {model.source} ({model.image_size} px, attributes "
            f"{', '.join(attributes)}); data split '{split}', up to {num_pairs} pairs per "
            "swap: A has the swap's first attribute, B lacks it; C = A given B's state of "
            "the swapped attributes (removed), D = B given A's (added).")
  text.append(header)
  if hasattr(source, "params"):
    outputs = {}
    bar = Progress("ground truth swaps", num_pairs * len(swaps), progress)
    rows = ground_truth_eval.evaluate_swaps(model, source, attributes, num_pairs, split,
                                            batch_size, swaps, keep_outputs=outputs,
                                            progress=bar)
    sections["ground_truth"] = rows
    for metric, unit in (("psnr", "PSNR (dB)"), ("ssim", "SSIM")):
      text.append(
          f"## Ground truth: {unit} against the exact targets\n\n"
          "C = attribute removed from A, D = added to B; in/out = inside/outside the "
          "swap's region; copy = input unchanged; paste = oracle pasting the exemplar's "
          "pixels inside the true region; generic = oracle drawing the attribute at B's "
          "geometry in the mean style; D_gain = (D - copy) / (generic - copy) inside, in %; "
          "reconstruction = A', B' against A, B.\n\n"
          + markdown(rows, ("attribute", "pairs")
                     + ground_truth_eval.full_columns(metric)[1:]))
  else:
    rows, outputs = edit_real_pairs(model, source, swaps, num_pairs, split, batch_size,
                                    progress)
    sections["reconstruction"] = rows
    text.append("## Reconstruction (no ground truth for swaps on this data)\n\n"
                + markdown(rows, ("attribute", "pairs", "reconstruction",
                                  "ssim_reconstruction")))
  if classifier_dir:
    classifier, metadata = classifier_lib.load(classifier_dir)
    if metadata["image_size"] != source.image_size:
      raise EvaluationRequestError(
          f"the classifier in {classifier_dir} takes {metadata['image_size']} px images, the "
          f"model {source.image_size} px; train one at the model's size", "classifier_dir")
    judged = [name for name in metadata["attribute_names"] if name in source.attribute_names]
    accuracy, seen = classifier_lib.test_accuracy(
        classifier, _SubsetSource(source, judged), range(len(judged)), split, 1000)
    accuracy_rows = [{"attribute": name, "accuracy": float(value)}
                     for name, value in zip(judged, accuracy)]
    accuracy_rows.append({"attribute": "mean", "accuracy": float(np.mean(accuracy))})
    sections["classifier_accuracy"] = accuracy_rows
    rows = classifier_rows(classifier, metadata["attribute_names"], source.attribute_names,
                           outputs)
    sections["classifier"] = rows
    text.append(f"## Attribute classifier ({classifier_dir})\n\n"
                f"Its accuracy on {seen} '{split}' images of this data:\n\n"
                + markdown(accuracy_rows, ("attribute", "accuracy"))
                + "\n\nEditing accuracy: share of swapped attributes that read as the "
                "exemplar's label after the edit; preservation error: share of the other "
                "attributes that no longer read as the edited image's own label (C and D "
                "pooled). copy = unedited inputs; truth = exact targets.\n\n"
                + markdown(rows, _columns(rows)))
  if realism_images > 0:
    try:
      weights = realism.resolve_weights(inception_weights)
    except FileNotFoundError as error:
      raise EvaluationRequestError(str(error), "inception_weights") from error
    extractor = realism.InceptionFeatures(weights, inception_size)
    if not extractor.imagenet:
      print(realism.RANDOM_WEIGHTS_NOTICE, file=sys.stderr)
    ref_split = reference_split if len(source.labels(reference_split)) >= 2 else split
    rows = realism_rows(extractor, source, outputs, attributes, ref_split, realism_images,
                        progress)
    sections["realism"] = rows
    notice = "" if extractor.imagenet else realism.RANDOM_WEIGHTS_NOTICE + "\n\n"
    text.append("## Realism: FID and KID (x1000)\n\n" + notice
                + f"Protocol: {extractor.description}. Edited images (up to "
                f"{realism_images}) against real '{ref_split}' images with the attribute "
                "(added) or without it (removed); copy = the unedited inputs against the "
                "same reference. KID is unbiased at small sample sizes, FID is not.\n\n"
                + markdown(rows, _columns(rows)))
  figures = figure_sheets(outputs, out_dir)
  overview = overview_sheet(outputs, out_dir)
  if overview:
    figures.append(overview)
  text.append("Figures: " + ", ".join(os.path.relpath(p, out_dir) for p in figures))
  report = "\n\n".join(text) + "\n"
  with atomic_files.atomic_open(os.path.join(out_dir, "results.md")) as f:
    f.write(report)
  write_csv(os.path.join(out_dir, "results.csv"), sections)
  with atomic_files.atomic_open(os.path.join(out_dir, "results.json")) as f:
    json.dump(sections, f, indent=2)
  return {"report": report, "sections": sections, "figures": figures}


class _SubsetSource:
  """A view of a FaceSource restricted to some attribute columns (for classifier accuracy)."""

  def __init__(self, source, names: Sequence[str]):
    self._source = source
    self._columns = [source.attribute_names.index(name) for name in names]
    self.attribute_names = tuple(names)
    self.image_size = source.image_size

  def labels(self, split: str) -> np.ndarray:
    return self._source.labels(split)[:, self._columns]

  def batches(self, split, indices, batch_size, deterministic=True):
    columns = tf.constant(self._columns, tf.int32)
    return self._source.batches(split, indices, batch_size, deterministic).map(
        lambda images, labels: (images, tf.gather(labels, columns, axis=1)))
