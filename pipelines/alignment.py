"""5-point face alignment onto ELEGANT's mean-face template, with TensorFlow image ops.

The paper maps five landmarks (left pupil, right pupil, nose tip, left and right
mouth corner) onto a mean-face template with a least-squares similarity transform
(rotation, uniform scale, translation). At 256 px the pupils end up 70 px apart and
the eye line sits so that eye-to-top : eye-to-bottom = 1 : 1.42. Other sizes scale
the whole geometry. Pixel coordinates are pixel centres at integers, the convention
of both the CelebA landmark files and `ImageProjectiveTransformV3`.
"""

import numpy as np
import tensorflow as tf

# Mean face in units centred on the face, (x, y), in the landmark order above.
TEMPLATE_UNITS = np.array([
    (-0.17607, -0.172844),
    (0.1736, -0.17356),
    (-0.00182, 0.0357164),
    (-0.14617, 0.20185),
    (0.14496, 0.19943),
], np.float64)

# Pupil distance in template units and in pixels at the reference size.
_TEMPLATE_PUPIL_DISTANCE = 0.34967
_PUPIL_PIXELS_AT_256 = 70.0
# Eye line height as a fraction of the image: 1 / (1 + 1.42).
_EYE_LINE_FRACTION = 1.0 / 2.42


def template_landmarks(image_size: int) -> np.ndarray:
  """Return float32 [5, 2] pixel positions of the template landmarks at `image_size`."""
  scale = _PUPIL_PIXELS_AT_256 * image_size / (256.0 * _TEMPLATE_PUPIL_DISTANCE)
  eye_line_units = TEMPLATE_UNITS[:2, 1].mean()
  points = TEMPLATE_UNITS * scale
  # Centre horizontally on the template origin; put the eye line at its fraction
  # of the height. Both in pixel-centre coordinates (the image's edges at -0.5
  # and S - 0.5), so the template is the same shape at every size.
  points[:, 0] += (image_size - 1) / 2.0
  points[:, 1] += _EYE_LINE_FRACTION * image_size - 0.5 - eye_line_units * scale
  return points.astype(np.float32)


def template_pupil_distance(image_size: int) -> float:
  """Pixels between the template pupils at `image_size` (70 at 256)."""
  return _PUPIL_PIXELS_AT_256 * image_size / 256.0


def similarity_params(source: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
  """Least-squares similarity transform taking `source` points onto `target` points.

  Args:
    source, target: float [..., N, 2] point sets (x, y).
  Returns:
    float32 [..., 4] = (a, b, tx, ty) with x' = a x - b y + tx, y' = b x + a y + ty.
    Closed form (centred Procrustes without reflection), so it runs batched in a graph.
  """
  source = tf.cast(source, tf.float32)
  target = tf.cast(target, tf.float32)
  source_mean = tf.reduce_mean(source, axis=-2, keepdims=True)
  target_mean = tf.reduce_mean(target, axis=-2, keepdims=True)
  s = source - source_mean
  t = target - target_mean
  sx, sy, tx_, ty_ = s[..., 0], s[..., 1], t[..., 0], t[..., 1]
  norm = tf.reduce_sum(sx * sx + sy * sy, axis=-1)
  # Guard a degenerate (all points equal) input; callers reject those anyway.
  norm = tf.maximum(norm, 1e-8)
  a = tf.reduce_sum(sx * tx_ + sy * ty_, axis=-1) / norm
  b = tf.reduce_sum(sx * ty_ - sy * tx_, axis=-1) / norm
  mx, my = source_mean[..., 0, 0], source_mean[..., 0, 1]
  tx = target_mean[..., 0, 0] - (a * mx - b * my)
  ty = target_mean[..., 0, 1] - (b * mx + a * my)
  return tf.stack([a, b, tx, ty], axis=-1)


def apply_similarity(params: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
  """Map float [..., N, 2] `points` through similarity `params` [..., 4]."""
  points = tf.cast(points, tf.float32)
  a, b, tx, ty = [params[..., i:i + 1] for i in range(4)]
  x, y = points[..., 0], points[..., 1]
  return tf.stack([a * x - b * y + tx, b * x + a * y + ty], axis=-1)


def _inverse_as_projective(params: tf.Tensor) -> tf.Tensor:
  """8-vector for ImageProjectiveTransformV3, which maps OUTPUT pixels to INPUT pixels."""
  a, b, tx, ty = tf.unstack(params, axis=-1)
  det = a * a + b * b
  ia, ib = a / det, -b / det
  itx = -(ia * tx - ib * ty)
  ity = -(ib * tx + ia * ty)
  zero = tf.zeros_like(a)
  return tf.stack([ia, -ib, itx, ib, ia, ity, zero, zero], axis=-1)


def align(image: tf.Tensor, landmarks: tf.Tensor, image_size: int) -> tf.Tensor:
  """Warp one image so its 5 landmarks land on the template.

  Args:
    image: [H, W, C] uint8 or float image.
    landmarks: float [5, 2] pixel positions (x, y) in `image`.
    image_size: side S of the square output.
  Returns:
    float32 [S, S, C] in the input's value range.
  """
  image = tf.cast(image, tf.float32)
  landmarks = tf.cast(landmarks, tf.float32)
  template = tf.constant(template_landmarks(image_size))
  # A big face shrunk by bilinear sampling would alias; pre-shrink with an
  # antialiased resize so the warp never zooms out by more than 2x.
  pupils = landmarks[1] - landmarks[0]
  zoom = template_pupil_distance(image_size) / tf.maximum(tf.norm(pupils), 1e-3)

  def shrink():
    factor = zoom * 2.0
    size = tf.cast(tf.shape(image)[:2], tf.float32) * factor
    size = tf.maximum(tf.cast(tf.round(size), tf.int32), 1)
    scaled = tf.image.resize(image, size, antialias=True)
    actual = tf.cast(size, tf.float32) / tf.cast(tf.shape(image)[:2], tf.float32)
    # Pixel centres scale about -0.5 (half-pixel convention of tf.image.resize).
    moved = (landmarks + 0.5) * tf.stack([actual[1], actual[0]]) - 0.5
    return scaled, moved

  image, landmarks = tf.cond(zoom < 0.5, shrink, lambda: (image, landmarks))
  params = similarity_params(landmarks, template)
  return warp(image, params, image_size, image_size)


def inverse_similarity(params: tf.Tensor) -> tf.Tensor:
  """(a, b, tx, ty) of the similarity that undoes `params` [..., 4]."""
  params = tf.cast(params, tf.float32)
  a, b, tx, ty = tf.unstack(params, axis=-1)
  det = a * a + b * b
  ia, ib = a / det, -b / det
  return tf.stack([ia, ib, -(ia * tx - ib * ty), -(ib * tx + ia * ty)], axis=-1)


def warp(image: tf.Tensor, params: tf.Tensor, height: int, width: int,
         fill_mode: str = "NEAREST") -> tf.Tensor:
  """Resample [H, W, C] `image` into a [height, width, C] float32 canvas through
  similarity `params` [4] (image pixel -> canvas pixel), bilinearly.

  fill_mode "NEAREST" repeats the edge pixels (aligning a face near the photo's border);
  "CONSTANT" fills with zeros (pasting a crop back, where outside the crop is "nothing").
  """
  image = tf.cast(image, tf.float32)
  transform = _inverse_as_projective(tf.cast(params, tf.float32))[tf.newaxis]
  warped = tf.raw_ops.ImageProjectiveTransformV3(
      images=image[tf.newaxis], transforms=transform,
      output_shape=tf.constant([height, width], tf.int32),
      fill_value=0.0, interpolation="BILINEAR", fill_mode=fill_mode)
  return warped[0]


def center_crop_resize(image: tf.Tensor, image_size: int) -> tf.Tensor:
  """Crop the largest central square and resize it to S x S (float32), antialiased."""
  image = tf.cast(image, tf.float32)
  shape = tf.shape(image)
  side = tf.minimum(shape[0], shape[1])
  top = (shape[0] - side) // 2
  left = (shape[1] - side) // 2
  square = image[top:top + side, left:left + side]
  return tf.image.resize(square, [image_size, image_size], antialias=True)
