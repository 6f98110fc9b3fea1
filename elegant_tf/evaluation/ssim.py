"""SSIM (Wang et al. 2004) with an optional pixel mask (PSNR is in psnr.py).

tf.image.ssim only returns the mean over the whole image; the evaluation needs
SSIM inside and outside an attribute's region, so this computes the SSIM map
and averages it over the masked pixels. Constants follow the paper: an 11x11
Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, dynamic range 1 (images
are mapped from [-1, 1] to [0, 1]). The map is computed on 'valid' windows
only, so a pixel counts when the window centred on it lies inside the image;
the mask is cropped the same way. Channels are averaged (as tf.image.ssim).
"""

import numpy as np
import tensorflow as tf

WINDOW_SIZE = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03


def _gaussian_window(size: int = WINDOW_SIZE, sigma: float = SIGMA) -> np.ndarray:
  offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  weights = np.exp(-0.5 * np.square(offsets / sigma))
  return weights / weights.sum()


def _filter_valid(stack, window: np.ndarray):
  """Separable 'valid' Gaussian filtering of every channel of [N, H, W, K].

  Two depthwise convolutions (11x1 then 1x11) in TensorFlow: an order of
  magnitude faster than numpy slicing, which matters at 1,000s of pairs.
  """
  channels = stack.shape[-1]
  column = np.tile(window.reshape(-1, 1, 1, 1), (1, 1, channels, 1)).astype(np.float32)
  row = np.tile(window.reshape(1, -1, 1, 1), (1, 1, channels, 1)).astype(np.float32)
  filtered = tf.nn.depthwise_conv2d(stack, column, [1, 1, 1, 1], "VALID")
  return tf.nn.depthwise_conv2d(filtered, row, [1, 1, 1, 1], "VALID")


def ssim_map(predicted, target, batch_size: int = 256) -> np.ndarray:
  """Per-pixel SSIM [N, H-10, W-10] of images in [-1, 1] (channels averaged), float32.

  Computed in batches so that the 15 moment channels stay in memory at 256 px.
  """
  x, y = np.asarray(predicted, np.float32), np.asarray(target, np.float32)
  if x.shape != y.shape or x.ndim != 4:
    raise ValueError(f"need two [N, H, W, C] batches of one shape, got {x.shape} and {y.shape}")
  if min(x.shape[1:3]) < WINDOW_SIZE:
    raise ValueError(f"images must be at least {WINDOW_SIZE} px, got {x.shape[1:3]}")
  return np.concatenate([_ssim_map_batch(x[start:start + batch_size],
                                         y[start:start + batch_size])
                         for start in range(0, len(x), batch_size)])


def _ssim_map_batch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  x, y = (tf.constant(x) + 1.0) / 2.0, (tf.constant(y) + 1.0) / 2.0
  # The five local moments in one filtering pass.
  moments = _filter_valid(tf.concat([x, y, x * x, y * y, x * y], axis=-1), _gaussian_window())
  mu_x, mu_y, xx, yy, xy = tf.split(moments, 5, axis=-1)
  var_x, var_y = xx - mu_x * mu_x, yy - mu_y * mu_y
  covariance = xy - mu_x * mu_y
  c1, c2 = K1 ** 2, K2 ** 2
  value = ((2 * mu_x * mu_y + c1) * (2 * covariance + c2)) / (
      (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
  return tf.reduce_mean(value, axis=-1).numpy()


def crop_mask(mask) -> np.ndarray:
  """Crop an [N, H, W] mask to the centres of the 'valid' SSIM windows."""
  border = WINDOW_SIZE // 2
  return np.asarray(mask)[:, border:-border, border:-border]


def masked_mean(values: np.ndarray, mask=None) -> float:
  """Mean of an SSIM map over the pixels a full-size [N, H, W] mask selects (NaN if none)."""
  if mask is None:
    return float(values.mean(dtype=np.float64))
  weights = crop_mask(np.asarray(mask, np.float32))
  total = weights.sum(dtype=np.float64)
  return float("nan") if total == 0 else float((values * weights).sum(dtype=np.float64) / total)


def ssim(predicted, target, mask=None) -> float:
  """Mean SSIM of images in [-1, 1], over all pixels or those where `mask` ([N, H, W]) is set.

  Returns NaN when the mask selects no pixel.
  """
  return masked_mean(ssim_map(predicted, target), mask)

