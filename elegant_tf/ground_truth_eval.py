"""Quality as a number: swaps on held-out synthetic faces against their exact ground truth.

For attribute i, A (has it) and B (lacks it) come from the test split. The
renderer gives the exact targets: C* = A with B's state of i (removed), D* = B
with A's appearance of i (added). PSNR is measured inside the attribute's
region (where it is or would be drawn in the source or the target) and outside
it (identity that must be kept), next to the baseline that copies the input
unchanged. Reconstruction PSNR (A' vs A, B' vs B) measures the autoencoder.
"""

import numpy as np

from pipelines import synthetic

COLUMNS = ("attribute", "C_in", "copy_C_in", "C_out", "copy_C_out",
           "D_in", "copy_D_in", "D_out", "copy_D_out", "reconstruction")


def psnr(predicted, target, mask=None) -> float:
  """PSNR in dB of images in [-1, 1] (peak 1 after mapping to [0, 1]), pooled over pixels.

  mask: optional [N, H, W] of 0/1 selecting the pixels that count.
  """
  error = np.square((np.asarray(predicted) - np.asarray(target)) / 2.0)
  if mask is None:
    mse = error.mean()
  else:
    weights = np.broadcast_to(np.asarray(mask, np.float32)[..., None], error.shape)
    if weights.sum() == 0:
      return float("nan")
    mse = (error * weights).sum() / weights.sum()
  return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def swap_ground_truth(source: "synthetic.SyntheticFaces", attribute: str, num_pairs: int,
                      split: str = "test") -> dict:
  """Held-out pairs for `attribute` with exact targets and regions (numpy arrays)."""
  labels = source.labels(split)
  column = source.attribute_names.index(attribute)
  positives = np.flatnonzero(labels[:, column] == 1)[:num_pairs]
  negatives = np.flatnonzero(labels[:, column] == 0)[:num_pairs]
  count = min(len(positives), len(negatives))
  params_a = source.params(split, positives[:count])
  params_b = source.params(split, negatives[:count])
  size = source.image_size
  image_a, mask_a = synthetic.render_faces(params_a, size)
  image_b, mask_b = synthetic.render_faces(params_b, size)
  truth_c, mask_c = synthetic.render_faces(
      synthetic.exchange_attributes(params_a, params_b, [attribute]), size)
  truth_d, mask_d = synthetic.render_faces(
      synthetic.exchange_attributes(params_b, params_a, [attribute]), size)
  return {
      "image_a": image_a, "image_b": image_b, "truth_c": truth_c, "truth_d": truth_d,
      "region_c": (mask_a[..., column] + mask_c[..., column]) > 0,
      "region_d": (mask_b[..., column] + mask_d[..., column]) > 0,
  }


def evaluate_swaps(generator, source, attributes, num_pairs: int, split: str = "test",
                   batch_size: int = 32) -> list[dict]:
  """One row per attribute of COLUMNS (dB)."""
  rows = []
  for position, attribute in enumerate(attributes):
    pairs = swap_ground_truth(source, attribute, num_pairs, split)
    count = len(pairs["image_a"])
    predicted_c, predicted_d, rec_a, rec_b = [], [], [], []
    for start in range(0, count, batch_size):
      a = pairs["image_a"][start:start + batch_size]
      b = pairs["image_b"][start:start + batch_size]
      weights = np.zeros((len(a), len(attributes)), np.float32)
      weights[:, position] = 1.0
      swapped = generator({"image": a, "exemplar": b, "attributes": weights})
      unchanged = generator({"image": a, "exemplar": b, "attributes": np.zeros_like(weights)})
      predicted_c.append(np.asarray(swapped["edited"]))
      predicted_d.append(np.asarray(swapped["exemplar_edited"]))
      rec_a.append(np.asarray(unchanged["edited"]))
      rec_b.append(np.asarray(unchanged["exemplar_edited"]))
    c, d = np.concatenate(predicted_c), np.concatenate(predicted_d)
    region_c, region_d = pairs["region_c"], pairs["region_d"]
    rows.append({
        "attribute": attribute,
        "C_in": psnr(c, pairs["truth_c"], region_c),
        "copy_C_in": psnr(pairs["image_a"], pairs["truth_c"], region_c),
        "C_out": psnr(c, pairs["truth_c"], ~region_c),
        "copy_C_out": psnr(pairs["image_a"], pairs["truth_c"], ~region_c),
        "D_in": psnr(d, pairs["truth_d"], region_d),
        "copy_D_in": psnr(pairs["image_b"], pairs["truth_d"], region_d),
        "D_out": psnr(d, pairs["truth_d"], ~region_d),
        "copy_D_out": psnr(pairs["image_b"], pairs["truth_d"], ~region_d),
        "reconstruction": psnr(np.concatenate(rec_a + rec_b),
                               np.concatenate([pairs["image_a"], pairs["image_b"]])),
    })
  return rows


def markdown_table(rows: list[dict]) -> str:
  """A Markdown table of `rows` (dB, one decimal)."""
  lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  for row in rows:
    cells = [row["attribute"]] + [f"{row[name]:.1f}" for name in COLUMNS[1:]]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)
