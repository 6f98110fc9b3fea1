"""Photo in, photo out: alignment keeps its transform, paste-back touches only the face."""


import numpy as np
import pytest

from elegant_tf.apps import photo_edit
from pipelines import alignment
from pipelines import face_detection
from pipelines import fixtures
from tests import helpers

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


# Both ways of putting an edited crop back: the pasted change (reconstruction = the
# aligned crop itself) and the old whole-crop blend.
PASTES = {"change": lambda aligned, edited: photo_edit.paste_back(aligned, edited, aligned.crop),
          "blend": photo_edit.blend_crop}


@pytest.mark.parametrize("paste", sorted(PASTES))
@pytest.mark.parametrize("align", ["landmarks", "center"])
def test_paste_back_changes_the_face_and_nothing_outside_the_blend_region(align, paste):
  photo = _smooth_photo(300, 420)
  points = fixtures.face_landmarks(np.random.default_rng(1), 420, 300, pupils=40.0)
  aligned = photo_edit.prepare_face(photo, SIZE, align, landmarks=points)
  edited = -aligned.crop  # A negative: every pixel of the crop changes a lot.
  result = PASTES[paste](aligned, edited)
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


def test_blending_the_unedited_crop_back_gives_the_photo_back_nearly():
  # A face at the crop's own scale (pupils at the template's 17.5 px for 64 px), so
  # aligning and pasting back resample once each and lose little.
  photo = _smooth_photo(160, 200, seed=2)
  points = fixtures.face_landmarks(np.random.default_rng(3), 200, 160,
                                   pupils=alignment.template_pupil_distance(SIZE))
  aligned = photo_edit.prepare_face(photo, SIZE, "landmarks", landmarks=points)
  result = photo_edit.blend_crop(aligned, aligned.crop)
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
  assert np.array_equal(photo_edit.blend_crop(aligned, aligned.crop), photo)
  # Same for a centre crop whose square is already S pixels.
  wide = photo[:SIZE]
  centred = photo_edit.prepare_face(wide, SIZE, "center")
  left = (130 - SIZE) // 2
  np.testing.assert_allclose(centred.crop, photo_edit.to_model_range(wide[:, left:left + SIZE]),
                             atol=1e-3)
  assert np.array_equal(photo_edit.blend_crop(centred, centred.crop), wide)


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
  with pytest.raises(face_detection.FaceNotFound,
                     match="^face 1 was asked for, but 1 face found in me.jpg"):
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
    photo_edit.paste_back(aligned, np.zeros((32, 32, 3), np.float32), aligned.crop)
  with pytest.raises(ValueError, match=r"reconstructed crop has shape \[32, 32, 3\]"):
    photo_edit.paste_back(aligned, aligned.crop, np.zeros((32, 32, 3), np.float32))


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


# The pasted change (issue 23): a 64 px edit of a large face changes only what it edits.


def _box_blur(crop):
  """The crop as a 64 px model reconstructs a face: softened (3 x 3 box, edges repeated)."""
  padded = np.pad(crop, ((1, 1), (1, 1), (0, 0)), mode="edge")
  rows, columns = crop.shape[:2]
  return np.mean([padded[dy:dy + rows, dx:dx + columns] for dy in range(3) for dx in range(3)],
                 axis=0).astype(np.float32)


def _crop_coordinates(aligned):
  """float32 [H, W, 2]: where each photo pixel's centre falls in the crop (x, y)."""
  height, width = aligned.photo.shape[:2]
  y, x = np.mgrid[0:height, 0:width].astype(np.float32)
  points = np.stack([x.ravel(), y.ravel()], axis=-1)
  return np.asarray(alignment.apply_similarity(aligned.transform, points)).reshape(
      height, width, 2)


def test_the_pasted_change_leaves_every_pixel_it_does_not_reach_bit_identical():
  photo, points = fixtures.wild_photo(0, 256)
  aligned = photo_edit.prepare_face(photo, SIZE, "landmarks", landmarks=points)
  # The reconstruction is off everywhere (blurred), as a 64 px model's is; the edit moves
  # one forehead patch by 60 levels, towards mid-grey so that nothing clips.
  reconstructed = _box_blur(aligned.crop)
  top, bottom, left, right = 8, 16, 24, 40
  sign = -1.0 if reconstructed[top:bottom, left:right].mean() > 0 else 1.0
  edited = reconstructed.copy()
  edited[top:bottom, left:right] += sign * 60 / 127.5
  result = photo_edit.paste_back(aligned, edited, reconstructed)

  x, y = np.moveaxis(_crop_coordinates(aligned), -1, 0)
  # Pixel centres of the patch span [left, right - 1]; bilinear sampling reaches 1 further.
  def within(reach):
    return ((x > left - 1 - reach) & (x < right + reach) & (y > top - 1 - reach)
            & (y < bottom + reach))
  changed = (result != photo).any(axis=-1)
  footprint = photo_edit.paste_mask(aligned) > 0
  # A change this large is repainted, and so is one model pixel around it.
  assert changed.any() and not changed[~within(1.01)].any()
  assert (footprint & ~within(1.01)).sum() > 0.8 * footprint.sum()  # The face stays as it was.
  moved = (result.astype(float) - photo).mean(axis=-1)[within(-1.01)]
  assert abs(moved.mean() - sign * 60) < 6, moved.mean()


def test_a_perfect_64_pixel_edit_lands_where_the_ground_truth_says():
  """A model that edits perfectly at 64 px (its edited crop is the aligned true photo):
  the change reaches the true region and no farther, and brings the region most of the
  way to the truth (it cannot be sharper than 64 px: the whole-crop blend scores about
  the same there, within 0.5 dB either way, see BUILD_NOTES)."""
  from elegant_tf.benchmarks import paste_back_quality
  pair = paste_back_quality.attribute_pairs("Eyeglasses", 1)[0]
  case = paste_back_quality.make_case(pair, "Eyeglasses", 256)
  aligned = photo_edit.prepare_face(case.photo, SIZE, "landmarks", landmarks=case.landmarks)
  truth_crop = photo_edit.prepare_face(case.truth, SIZE, "landmarks",
                                       landmarks=case.landmarks).crop
  result = photo_edit.paste_back(aligned, truth_crop, aligned.crop)

  model_pixel = int(np.ceil(1.0 / np.hypot(aligned.transform[0], aligned.transform[1])))
  footprint = photo_edit.paste_mask(aligned) > 0
  inside, outside = paste_back_quality.regions(case, footprint, model_pixel)
  truly_changed = (case.truth != case.photo).any(axis=-1)
  changed = (result != case.photo).any(axis=-1)
  # Downsampling to 64 px and warping back each spread a change by one model pixel.
  assert not (changed & ~paste_back_quality.grow(truly_changed, 2 * model_pixel)).any()
  assert changed[truly_changed & footprint].mean() > 0.9
  assert paste_back_quality.psnr(result, case.photo, outside) > 40.0
  unedited = paste_back_quality.psnr(case.photo, case.truth, inside)
  assert paste_back_quality.psnr(result, case.truth, inside) > unedited + 6.0, unedited


def test_the_demo_models_edit_keeps_the_rest_of_a_256_pixel_face_sharp(demo_model):
  """The issue's case: a 64 px model adds glasses to a large face. Where the truth
  changes nothing the result stays within 40 dB of the photo (59 here; the whole-crop
  blend gave 35), and in the glasses' region it is no worse than the blend."""
  from elegant_tf.benchmarks import paste_back_quality
  pair = paste_back_quality.attribute_pairs("Eyeglasses", 1)[0]
  case = paste_back_quality.make_case(pair, "Eyeglasses", 256)
  scores = paste_back_quality.evaluate_case(demo_model, case, "Eyeglasses")
  assert scores["outside after"] > 40.0, scores
  # +0.04 dB here; 0.1 dB of slack for other TF builds' float differences.
  assert scores["inside after"] > scores["inside before"] - 0.1, scores
  assert scores["kept after"] > 0.5, scores  # Most of the face is the photo's own pixels.


class _RecordingModel:
  """transfer adds 0.1 x each row's total weight to the image and 0.2 x to the exemplar,
  so each output row says which weights produced it."""

  def __init__(self):
    self.calls = []

  def transfer(self, image, exemplar, attributes):
    self.calls.append((image, exemplar, attributes))
    total = np.asarray(attributes).sum(axis=1)[:, None, None, None]
    return {"edited": image + 0.1 * total, "exemplar_edited": exemplar + 0.2 * total}


def test_edit_and_reconstruct_is_one_transfer_call_with_a_zero_weight_row():
  model = _RecordingModel()
  image = np.zeros((SIZE, SIZE, 3), np.float32)
  exemplar = np.full((SIZE, SIZE, 3), 0.5, np.float32)
  outputs = photo_edit.edit_and_reconstruct(model, image, exemplar, np.array([1.0, 0.0, 1.0]))
  assert len(model.calls) == 1
  np.testing.assert_array_equal(model.calls[0][2], [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
  np.testing.assert_allclose(outputs["edited"], image + 0.2)
  np.testing.assert_allclose(outputs["reconstructed"], image)
  np.testing.assert_allclose(outputs["exemplar_edited"], exemplar + 0.4)
  np.testing.assert_allclose(outputs["exemplar_reconstructed"], exemplar)


def test_decode_photo_refuses_a_gif_bomb_from_its_frames():
  # The web page's path: a 64 x 64 screen around an 8000 x 8000 frame (64 MP in 44 KB).
  bomb = helpers.gif_of_zeros((64, 64), [(0, 0, 8000, 8000)])
  with pytest.raises(ValueError, match="cannot read image upload.gif: GIF frame larger than "
                     "its screen"):
    photo_edit.decode_photo(bomb, "upload.gif")
