"""PSNR with an optional pixel mask: the one PSNR of the project (the evaluation tables,
the TFLite check, the paste-back benchmark on uint8 photos)."""

import numpy as np


def psnr(predicted, target, mask=None, value_range: float = 2.0) -> float:
  """PSNR in dB, pooled over pixels: 10 log10(1 / MSE) of the error divided by
  `value_range`, the span of the pixel values (2 for the model's [-1, 1] images, the
  default; 255 for uint8 photos, the same number for the same picture).

  mask: optional 0/1 or bool of the images' shape without channels ([N, H, W] or
  [H, W]), selecting the pixels that count; NaN when it selects none. inf when equal.
  """
  # Integer pixels are subtracted as floats (uint8 would wrap around); float32 stays float32.
  dtype = np.result_type(np.asarray(predicted).dtype, np.float32)
  error = np.square((np.asarray(predicted, dtype) - np.asarray(target, dtype)) / value_range)
  if mask is None:
    mse = error.mean()
  else:
    weights = np.broadcast_to(np.asarray(mask, np.float32)[..., None], error.shape)
    if weights.sum() == 0:
      return float("nan")
    mse = (error * weights).sum() / weights.sum()
  return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))
