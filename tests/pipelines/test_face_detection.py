"""The face detector: MTCNN's landmarks against exact ones, and choosing among faces."""

import numpy as np
import pytest

from pipelines import face_detection
from pipelines import synthetic
from pipelines import fixtures

# Rendered in-the-wild synthetic faces whose exact landmarks are known. MTCNN learnt real
# faces: it finds about three in four of these cartoons (8 of these 12 at 256 px).
FIXTURE_FACES = np.arange(12)


@pytest.fixture(scope="module")
def detector():
  return face_detection.MtcnnDetector()


def _pupil_distance(points):
  return float(np.linalg.norm(points[1] - points[0]))


def test_mtcnn_landmarks_agree_with_the_exact_ones_on_rendered_wild_faces(detector):
  params = synthetic.sample_faces(0, FIXTURE_FACES, layout="wild")
  images, _ = synthetic.render_faces(params, 256)
  photos = np.clip((images + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
  exact = synthetic.landmarks_of(params, 256)
  errors = []
  for photo, points in zip(photos, exact):
    faces = detector.detect(photo)
    if faces:
      chosen = face_detection.choose_face(faces)
      assert chosen.landmarks.shape == (5, 2) and chosen.landmarks.dtype == np.float32
      errors.append(np.linalg.norm(chosen.landmarks - points, axis=1) / _pupil_distance(points))
  errors = np.array(errors)
  assert len(errors) >= 6, f"found only {len(errors)} of {len(FIXTURE_FACES)} faces"
  # Measured (docs/quality.md, "Face detection"): median 4-5% of the pupil distance at the pupils, 7-10% at the
  # nose and mouth, where the cartoon's drawing and MTCNN's idea of a real face differ
  # most (a smile moves the drawn corners; the exact ones are the neutral mouth's). The
  # issue's 3% target is NOT met on these cartoons; these bounds catch a wrong point
  # order (a swapped eye is 100% off) or a wrong coordinate convention.
  assert np.median(errors[:, :2]) < 0.07, np.median(errors, axis=0)
  assert np.median(errors) < 0.12, np.median(errors, axis=0)
  assert errors.max() < 0.35, errors.max(axis=0)


def test_a_large_photo_is_searched_reduced_and_its_landmarks_mapped_back():
  photo, exact = fixtures.wild_photo(0, 256, pad=(300, 150, 500, 200))  # 706 x 956.
  reduced = face_detection.MtcnnDetector(max_side=478)  # Searched at half size.
  faces = reduced.detect(photo)
  assert len(faces) == 1
  error = np.linalg.norm(faces[0].landmarks - exact, axis=1) / _pupil_distance(exact)
  assert error.max() < 0.3, error
  x, y, width, height = faces[0].box
  assert x <= exact[:, 0].min() and exact[:, 0].max() <= x + width
  assert y <= exact[:, 1].min() and exact[:, 1].max() <= y + height


def test_no_face_in_noise(detector):
  noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), np.uint8)
  assert detector.detect(noise) == []


def _face(x, y, width, height, score=0.99):
  points = np.array([[x + 0.3 * width, y + 0.4 * height], [x + 0.7 * width, y + 0.4 * height],
                     [x + 0.5 * width, y + 0.6 * height], [x + 0.35 * width, y + 0.8 * height],
                     [x + 0.65 * width, y + 0.8 * height]], np.float32)
  return face_detection.DetectedFace((x, y, width, height), points, score)


def test_choose_face_takes_the_largest_or_the_nth_by_size():
  small, large, middle = _face(0, 0, 20, 20), _face(50, 50, 80, 90), _face(200, 10, 40, 50)
  faces = [small, large, middle]
  assert face_detection.choose_face(faces) is large
  assert face_detection.choose_face(faces, 1) is middle
  assert face_detection.choose_face(faces, 2) is small


def test_choose_face_errors_name_the_file_and_the_count():
  with pytest.raises(face_detection.FaceNotFound, match="^no face found in holiday.jpg$"):
    face_detection.choose_face([], 0, "holiday.jpg")
  with pytest.raises(face_detection.FaceNotFound,
                     match=r"^face 2 was asked for, but 2 faces found in group.png "
                     r"\(numbered 0 to 1, largest first\)$"):
    face_detection.choose_face([_face(0, 0, 20, 20), _face(30, 0, 20, 20)], 2, "group.png")
  with pytest.raises(face_detection.FaceNotFound, match="^face -1 was asked for, but 1 face found"):
    face_detection.choose_face([_face(0, 0, 20, 20)], -1, "one.png")


def test_detector_refuses_what_is_not_a_uint8_rgb_image(detector):
  for bad in (np.zeros((40, 40, 3), np.float32), np.zeros((40, 40), np.uint8),
              np.zeros((40, 40, 4), np.uint8)):
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
      detector.detect(bad)
