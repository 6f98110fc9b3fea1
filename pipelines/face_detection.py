"""Find faces and their five landmarks in a photo, for alignment.

`FaceDetector.detect` returns every face it finds as a `DetectedFace`: a box
(x, y, width, height), a score, and five landmarks in CelebA's order, the order
pipelines.alignment's template uses: left pupil, right pupil (image left first),
nose tip, left and right mouth corner; float32 [5, 2] pixel positions (x, y) with
pixel centres at integers. `MtcnnDetector` is the one real implementation (MTCNN,
Zhang et al. 2016, from the `mtcnn` package: weights inside the wheel, runs on
TensorFlow, no network access). `choose_face` picks one face: the largest by
default, or the N-th largest.
"""

import dataclasses
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class DetectedFace:
  box: tuple  # (x, y, width, height) in pixels.
  landmarks: np.ndarray  # float32 [5, 2], CelebA order, pixel centres at integers.
  score: float

  @property
  def area(self) -> float:
    return float(self.box[2]) * float(self.box[3])


class FaceNotFound(ValueError):
  """No face in a photo, or no face with the asked-for number."""


class FaceDetector:
  """Interface: `detect(uint8 [H, W, 3]) -> list[DetectedFace]`, in any order."""

  def detect(self, image: np.ndarray) -> list:
    raise NotImplementedError


def check_photo(image: np.ndarray) -> np.ndarray:
  """The image as uint8 [H, W, 3]; ValueError for anything else (a detector's input)."""
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"a face detector takes uint8 [H, W, 3] images; got {image.dtype} "
                     f"{list(image.shape)}")
  return image


class MtcnnDetector(FaceDetector):
  """MTCNN's three cascaded networks (P-, R-, O-Net) from the `mtcnn` package.

  Photos whose long side exceeds `max_side` are searched at a reduced size (MTCNN's
  image pyramid costs time in proportion to the pixels; a face that is still under
  `min_face_size` pixels after the reduction is too small to edit at 256 px anyway),
  and the landmarks are mapped back to the full-size photo.
  """

  def __init__(self, min_face_size: int = 20, max_side: int = 1024,
               min_score: float = 0.0):
    self.min_face_size = min_face_size
    self.max_side = max_side
    self.min_score = min_score
    self._model = None

  def _network(self):
    if self._model is None:
      # Deferred: mtcnn (and the networks it loads) is only needed when photos are aligned
      # automatically, and training, export and the aligned data sets never need it.
      from mtcnn import MTCNN
      self._model = MTCNN()
    return self._model

  def detect(self, image: np.ndarray) -> list:
    image = check_photo(image)
    height, width = image.shape[:2]
    factor = min(1.0, self.max_side / max(height, width))
    searched = image
    if factor < 1.0:
      size = [max(1, round(height * factor)), max(1, round(width * factor))]
      searched = tf.cast(tf.clip_by_value(tf.round(
          tf.image.resize(image, size, antialias=True)), 0, 255), tf.uint8).numpy()
      factor_y, factor_x = size[0] / height, size[1] / width
    else:
      factor_y = factor_x = 1.0
    rows = self._network().detect_faces(searched, output_type="numpy",
                                        min_face_size=self.min_face_size)
    faces = []
    # Each row: image id, x1, y1, width, height (box_format xywh), score, then the five
    # x coordinates and the five y coordinates, in CelebA's order. Requested as numpy
    # because the package's JSON output rounds the landmarks to whole pixels.
    for row in np.asarray(rows, np.float64).reshape(-1, 16):
      if row[5] < self.min_score:
        continue
      points = np.stack([row[6:11], row[11:16]], axis=1)
      # Back to the full-size photo: pixel centres scale about -0.5 (tf.image.resize's
      # half-pixel convention).
      points = (points + 0.5) / np.array([factor_x, factor_y]) - 0.5
      box = ((row[1] + 0.5) / factor_x - 0.5, (row[2] + 0.5) / factor_y - 0.5,
             row[3] / factor_x, row[4] / factor_y)
      faces.append(DetectedFace(tuple(float(v) for v in box), points.astype(np.float32),
                                float(row[5])))
    return faces


def by_size(faces: Sequence[DetectedFace]) -> list:
  """Faces largest first (box area; ties by score), the order choose_face's index counts in."""
  return sorted(faces, key=lambda face: (-face.area, -face.score))


def choose_face(faces: Sequence[DetectedFace], index: int = 0,
                name: str = "photo") -> DetectedFace:
  """The `index`-th largest face (0 = the largest); FaceNotFound naming `name` otherwise."""
  if not faces:
    raise FaceNotFound(f"no face found in {name}")
  if not 0 <= index < len(faces):
    count = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
    raise FaceNotFound(f"face {index} was asked for, but {count} found in {name} "
                       f"(numbered 0 to {len(faces) - 1}, largest first)")
  return by_size(faces)[index]


def default_detector(detector: Optional[FaceDetector] = None) -> FaceDetector:
  """`detector`, or one MtcnnDetector shared by the process (its networks load once)."""
  global _SHARED
  if detector is not None:
    return detector
  if _SHARED is None:
    _SHARED = MtcnnDetector()
  return _SHARED


_SHARED = None
