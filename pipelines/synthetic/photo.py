"""A synthetic face as a person's photo: unaligned, padded, at any size."""

import numpy as np
import tensorflow as tf

from pipelines import uint8_pixels
from pipelines.synthetic.params import MAX_IMAGE_SIZE, FaceParams, landmarks_of, sample_faces
from pipelines.synthetic.render import render_faces


def render_photo(index: int, face_size: int = 256, pad: tuple = (60, 40, 120, 30),
                 seed: int = 0) -> tuple:
  """A stand-in for a person's photo: wild face `index` of `seed` rendered at
  `face_size` and padded by (top, bottom, left, right) pixels that repeat its edges.

  Returns (uint8 [H, W, 3] photo, float32 [5, 2] exact landmarks in it), for the
  detector, paste-back and photo-editing tests and benchmarks.
  """
  return render_photo_of(sample_faces(seed, [index], layout="wild"), face_size, pad)


def render_photo_of(params: FaceParams, face_size: int = 256,
                    pad: tuple = (60, 40, 120, 30)) -> tuple:
  """render_photo of one face given by its parameters (e.g. a face after
  exchange_attributes: the exact ground truth of an edited photo, pixel for pixel
  where the edit did not reach)."""
  # The renderer stops at MAX_IMAGE_SIZE; a larger face (a high-resolution photo) is
  # rendered at that size and enlarged bilinearly.
  rendered = min(face_size, MAX_IMAGE_SIZE)
  image, _ = render_faces(params, rendered)
  landmarks = landmarks_of(params, rendered)[0].astype(np.float64)
  if face_size != rendered:
    image = tf.image.resize(image, [face_size, face_size]).numpy()
    # Pixel centres scale about -0.5 (tf.image.resize's half-pixel convention).
    landmarks = (landmarks + 0.5) * (face_size / rendered) - 0.5
  pixels = uint8_pixels.to_uint8(image[0])
  top, bottom, left, right = pad
  photo = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge")
  return photo, (landmarks + np.array([left, top])).astype(np.float32)
