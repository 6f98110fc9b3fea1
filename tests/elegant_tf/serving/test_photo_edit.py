"""Photo in, photo out: alignment keeps its transform, paste-back touches only the face."""

import numpy as np
import pytest

from elegant_tf.serving import photo_edit
from pipelines import alignment
from pipelines import face_detection
from pipelines import fixtures

SIZE = 64


class FakeDetector(face_detection.FaceDetector):
  """Returns fixed faces, and counts calls: the real detector is not the point here."""

  def __init__(self, faces):
    self.faces = list(faces)
    self.calls = 0

  def detect(self, image):
    self.calls += 1
    return list(self.faces)


def _smooth_photo(height, width, seed=0):
  """Low-frequency colours: resampling twice should nearly give them back."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width] / max(height, width)
  channels = [128 + 90 * np.sin(2.0 * x * rng.uniform(1, 3) + 3.0 * y * rng.uniform(1, 3) + k)
              for k in range(3)]
  return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def _face_at(points, width=None):
  box = (float(points[:, 0].min()) - 10, float(points[:, 1].min()) - 10,
         width or float(np.ptp(points[:, 0])) + 20, float(np.ptp(points[:, 1])) + 20)
  return face_detection.DetectedFace(box, np.asarray(points, np.float32), 0.99)


def _square_outline(aligned):
  """Photo pixels whose centre is more than 2 pixels outside the crop's square, mapped back
  independently of paste_back: its result must equal the photo there."""
  height, width = aligned.photo.shape[:2]
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  points = np.stack([x.ravel(), y.ravel()], axis=-1)
  in_crop = np.asarray(alignment.apply_similarity(aligned.transform, points))
  size = aligned.image_size
  outside = ((in_crop < -2.5) | (in_crop > size + 1.5)).any(axis=-1)
  return outside.reshape(height, width)


@pytest.mark.parametrize("align", ["landmarks", "center"])
def test_paste_back_changes_the_face_and_nothing_outside_the_blend_region(align):
  photo = _smooth_photo(300, 420)
  points = fixtures.face_landmarks(np.random.default_rng(1), 420, 300, pupils=40.0)
  aligned = photo_edit.prepare_face(photo, SIZE, align, landmarks=points)
  edited = -aligned.crop  # A negative: every pixel of the crop changes a lot.
  result = photo_edit.paste_back(aligned, edited)
  assert result.shape == photo.shape and result.dtype == np.uint8
  mask = photo_edit.paste_mask(aligned)
  assert 0 < (mask > 0).sum() < mask.size
  assert np.array_equal(result[mask == 0], photo[mask == 0])
  outside = _square_outline(aligned)
  assert outside.any() and not (mask[outside] > 0).any()
  assert np.array_equal(result[outside], photo[outside])
  inside = mask > 0.99
  assert inside.sum() > 0.3 * (mask > 0).sum()
  assert np.abs(result[inside].astype(int) - photo[inside]).mean() > 40


def test_paste_back_of_the_unedited_crop_gives_the_photo_back():
  # A face at the crop's own scale (pupils at the template's 17.5 px for 64 px), so
  # aligning and pasting back resample once each and lose little.
  photo = _smooth_photo(160, 200, seed=2)
  points = fixtures.face_landmarks(np.random.default_rng(3), 200, 160,
                                   pupils=alignment.template_pupil_distance(SIZE))
  aligned = photo_edit.prepare_face(photo, SIZE, "landmarks", landmarks=points)
  result = photo_edit.paste_back(aligned, aligned.crop)
  inside = photo_edit.paste_mask(aligned) > 0
  difference = np.abs(result.astype(int) - photo)[inside]
  assert difference.mean() < 1.5 and difference.max() <= 12, (difference.mean(),
                                                              difference.max())


def test_an_unscaled_crop_is_an_exact_window_of_the_photo():
  """The pixel convention: landmarks on the template shifted by whole pixels give a crop
  that is exactly that window, and pasting it back restores the photo exactly."""
  photo = np.random.default_rng(4).integers(0, 256, (100, 130, 3), np.uint8)
  points = alignment.template_landmarks(SIZE) + np.array([30.0, 20.0], np.float32)
  aligned = photo_edit.prepare_face(photo, SIZE, "landmarks", landmarks=points)
  np.testing.assert_allclose(aligned.crop, photo_edit.to_model_range(photo[20:84, 30:94]),
                             atol=1e-3)
  assert np.array_equal(photo_edit.paste_back(aligned, aligned.crop), photo)
  # Same for a centre crop whose square is already S pixels.
  wide = photo[:SIZE]
  centred = photo_edit.prepare_face(wide, SIZE, "center")
  left = (130 - SIZE) // 2
  np.testing.assert_allclose(centred.crop, photo_edit.to_model_range(wide[:, left:left + SIZE]),
                             atol=1e-3)
  assert np.array_equal(photo_edit.paste_back(centred, centred.crop), wide)


def test_auto_aligns_the_largest_detected_face_or_the_chosen_one():
  photo = _smooth_photo(300, 500, seed=5)
  rng = np.random.default_rng(6)
  big = fixtures.face_landmarks(rng, 240, 300, pupils=40.0)
  small = fixtures.face_landmarks(rng, 240, 300, pupils=25.0) + np.array([250.0, 0.0])
  detector = FakeDetector([_face_at(small), _face_at(big)])
  largest = photo_edit.prepare_face(photo, SIZE, detector=detector)
  assert largest.faces_found == 2 and detector.calls == 1
  np.testing.assert_array_equal(largest.landmarks, big)
  by_hand = photo_edit.prepare_face(photo, SIZE, "landmarks", landmarks=big)
  np.testing.assert_array_equal(largest.crop, by_hand.crop)
  np.testing.assert_allclose(largest.transform, by_hand.transform)
  second = photo_edit.prepare_face(photo, SIZE, face=1, detector=detector)
  np.testing.assert_array_equal(second.landmarks, small.astype(np.float32))


def test_bad_input_is_one_clear_error_naming_the_photo():
  photo = _smooth_photo(120, 160)
  with pytest.raises(face_detection.FaceNotFound, match="^no face found in me.jpg$"):
    photo_edit.prepare_face(photo, SIZE, detector=FakeDetector([]), name="me.jpg")
  points = fixtures.face_landmarks(np.random.default_rng(7), 160, 120, pupils=30.0)
  with pytest.raises(face_detection.FaceNotFound, match="--face=1 but 1 face found in me.jpg"):
    photo_edit.prepare_face(photo, SIZE, face=1, detector=FakeDetector([_face_at(points)]),
                            name="me.jpg")
  with pytest.raises(ValueError, match="align='landmarks' needs landmarks for me.jpg"):
    photo_edit.prepare_face(photo, SIZE, "landmarks", name="me.jpg")
  with pytest.raises(ValueError, match="align='sideways'; valid: auto, landmarks, center"):
    photo_edit.prepare_face(photo, SIZE, "sideways")
  tiny = fixtures.face_landmarks(np.random.default_rng(8), 160, 120, pupils=4.0)
  with pytest.raises(ValueError, match=r"image me.jpg is too small \(160x120\) for this "
                     r"256-pixel model: the face would be upscaled 17.5x"):
    photo_edit.prepare_face(photo, 256, detector=FakeDetector([_face_at(tiny)]),
                            name="me.jpg")
  with pytest.raises(ValueError, match=r"me.jpg: expected a uint8 \[height, width, 3\]"):
    photo_edit.prepare_face(photo.astype(np.float32), SIZE, "center", name="me.jpg")
  aligned = photo_edit.prepare_face(photo, SIZE, "center")
  with pytest.raises(ValueError, match=r"edited crop has shape \[32, 32, 3\]"):
    photo_edit.paste_back(aligned, np.zeros((32, 32, 3), np.float32))


def test_decode_photo_turns_a_sideways_phone_photo_upright_and_names_bad_files():
  import io
  from PIL import Image
  stored = np.zeros((40, 24, 3), np.uint8)
  stored[:8] = 255  # A white band along the stored top edge.
  exif = Image.Exif()
  exif[0x0112] = 6  # "Rotate 90 degrees clockwise to view."
  buffer = io.BytesIO()
  Image.fromarray(stored).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
  photo = photo_edit.decode_photo(buffer.getvalue(), "phone.jpg")
  assert photo.shape == (24, 40, 3)
  assert photo[:, -8:].mean() > 240 and photo[:, :-10].mean() < 15  # Band now on the right.
  with pytest.raises(ValueError, match="^cannot read image junk.png: "):
    photo_edit.decode_photo(b"\x89PNG no image here", "junk.png")


def test_decode_photo_refuses_a_gif_bomb_from_its_frames():
  # The web page's path: a 64 x 64 screen around an 8000 x 8000 frame (64 MP in 44 KB).
  from tests.pipelines import test_image_decoding
  bomb = test_image_decoding.gif_of_zeros((64, 64), [(0, 0, 8000, 8000)])
  with pytest.raises(ValueError, match="cannot read image upload.gif: GIF frame larger than "
                     "its screen"):
    photo_edit.decode_photo(bomb, "upload.gif")
