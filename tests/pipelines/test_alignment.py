"""Alignment geometry: known landmarks land on the template within a pixel."""

import numpy as np
import tensorflow as tf

from pipelines import alignment


def test_template_has_paper_geometry():
  points = alignment.template_landmarks(256)
  assert abs(np.linalg.norm(points[1] - points[0]) - 70.0) < 1e-3
  eye_line = points[:2, 1].mean()
  # Eye-to-top : eye-to-bottom = 1 : 1.42, measured from the image's edges, which
  # sit at -0.5 and 255.5 in pixel-centre coordinates.
  assert abs((eye_line + 0.5) / (255.5 - eye_line) - 1 / 1.42) < 1e-3
  # The same shape at every size: halving the size halves the distance to the
  # top-left edge (-0.5, -0.5) exactly.
  np.testing.assert_allclose(alignment.template_landmarks(128) + 0.5, (points + 0.5) / 2,
                             atol=1e-4)


def test_similarity_recovers_exact_transform():
  source = np.random.default_rng(0).uniform(0, 100, (5, 2)).astype(np.float32)
  angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
  rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
  target = source @ rotation.T + shift
  params = alignment.similarity_params(source, target)
  np.testing.assert_allclose(alignment.apply_similarity(params, source), target, atol=1e-3)


def _blob_image(points, height, width):
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  image = np.zeros((height, width), np.float32)
  for px, py in points:
    image += np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 1.5 ** 2))
  return np.repeat(image[..., None], 3, axis=-1) * 255


def _blob_centres(image, guesses, radius=5):
  gray = image[..., 0]
  y, x = np.mgrid[0:gray.shape[0], 0:gray.shape[1]]
  centres = []
  for gx, gy in guesses:
    mask = (x - gx) ** 2 + (y - gy) ** 2 <= radius ** 2
    weight = gray * mask
    centres.append(((weight * x).sum() / weight.sum(), (weight * y).sum() / weight.sum()))
  return np.array(centres)


def test_face_with_known_landmarks_lands_on_template():
  size = 128
  template = alignment.template_landmarks(size)
  rng = np.random.default_rng(1)
  for zoom in (0.8, 1.3, 5.0):  # 5.0 exercises the antialiased pre-shrink.
    angle = rng.uniform(-0.4, 0.4)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * zoom
    centre = np.array([150.0 * zoom, 140.0 * zoom])
    landmarks = (template - template.mean(0)) @ rotation.T + centre
    height, width = int(300 * zoom), int(280 * zoom)
    image = _blob_image(landmarks, height, width)
    aligned = alignment.align(tf.constant(image), tf.constant(landmarks), size).numpy()
    assert aligned.shape == (size, size, 3)
    error = np.linalg.norm(_blob_centres(aligned, template) - template, axis=1)
    assert error.max() < 1.0, (zoom, error)


def test_center_crop_resize_shape():
  image = tf.zeros([30, 50, 3], tf.uint8)
  assert alignment.center_crop_resize(image, 16).shape == (16, 16, 3)
