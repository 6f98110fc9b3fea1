"""Edit a face inside an ordinary photo: find and align it, then paste the edit back.

  aligned = photo_edit.prepare_face(photo, model.image_size)       # detect + align
  edited = model.transfer(aligned.crop[None], exemplar.crop[None], weights)["edited"][0]
  result = photo_edit.paste_back(aligned, edited)                  # photo-sized uint8

`prepare_face` turns a uint8 photo of any size into the S x S crop the model takes
(float32 in [-1, 1], what transfer.read_image returns), keeping the similarity
transform from photo pixels to crop pixels. `paste_back` warps an edited crop back
through the inverse transform and blends it in with a feathered mask; every photo
pixel where the mask is zero is returned bit-identical. All geometry is
pipelines.alignment's (the same least-squares similarity and TF warp as training).

Bad input (no face, landmarks that cannot be aligned, a face too small for the
model) raises ValueError with one line naming the photo; commands turn it into
their usage error.
"""

import dataclasses
from typing import Optional

import numpy as np

from pipelines import alignment
from pipelines import face_detection
from pipelines import image_decoding

ALIGN_MODES = ("auto", "landmarks", "center")
# Landmarks whose pupils are closer than this (in the photo's pixels) cannot be aligned:
# the zoom would blow a point up into the whole face (five equal points gave a black image).
MIN_PUPIL_DISTANCE = 4.0
# Training's limit: refuse faces that would have to be upscaled more than 4x (under S/4
# pixels on the short side, or between the pupils' template spacing / 4): there is no
# face left to edit.
MIN_SCALE_FRACTION = image_decoding.MIN_SCALE_FRACTION
# The paste-back mask, in crop pixels per crop side: zero within MARGIN of the crop's edge
# (the decoder's border pixels are its least reliable, and bilinear sampling there mixes
# in the zeros outside the crop), then rising smoothly over FEATHER to one, so no seam.
MASK_MARGIN_FRACTION = 1.0 / 32.0
MASK_FEATHER_FRACTION = 1.0 / 8.0


@dataclasses.dataclass
class AlignedFace:
  """A face ready for the model, and what paste_back needs to put it back."""
  crop: np.ndarray  # float32 [S, S, 3] in [-1, 1].
  photo: np.ndarray  # The original uint8 [H, W, 3].
  transform: np.ndarray  # float32 [4] (a, b, tx, ty): photo pixel -> crop pixel.
  faces_found: int  # Faces the detector found (0 when it did not run).
  landmarks: Optional[np.ndarray] = None  # float32 [5, 2] in the photo; None when centred.

  @property
  def image_size(self) -> int:
    return int(self.crop.shape[0])


def check_photo(photo: np.ndarray, name: str = "photo") -> np.ndarray:
  photo = np.asarray(photo)
  if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[-1] != 3:
    raise ValueError(f"{name}: expected a uint8 [height, width, 3] image, got {photo.dtype} "
                     f"{list(photo.shape)}")
  return photo


def decode_photo(contents: bytes, name: str = "photo") -> np.ndarray:
  """uint8 [H, W, 3] of image file bytes (any format image_decoding reads), turned
  upright by its EXIF orientation; ValueError "cannot read image <name>: <reason>"."""
  pixels, reason, _ = image_decoding.decode_to_rgb(contents)
  if pixels is None:
    raise ValueError(f"cannot read image {name}: {reason}")
  # A phone photo stored sideways would hide its face from the detector, and its
  # paste-back (written without the EXIF tag) would come out turned.
  return image_decoding.upright(pixels, contents)


def check_landmarks(name: str, points: np.ndarray, what: str = "--landmarks") -> np.ndarray:
  """float32 [5, 2] points that can be aligned; ValueError naming `name` otherwise."""
  points = np.asarray(points, np.float32)
  if points.shape != (5, 2):
    raise ValueError(f"{what} for {name}: expected 5 (x, y) points, got shape "
                     f"{list(points.shape)}")
  if not np.isfinite(points).all():
    raise ValueError(f"{what} for {name} are not all finite numbers")
  pupils = float(np.linalg.norm(points[1] - points[0]))
  if pupils < MIN_PUPIL_DISTANCE:
    raise ValueError(f"{what} for {name}: the pupils are {pupils:.1f} pixels apart; "
                     f"at least {MIN_PUPIL_DISTANCE:g} are needed to align the face")
  return points


def check_scale(name: str, photo_shape, image_size: int, zoom: float) -> None:
  if zoom * MIN_SCALE_FRACTION > 1.0:
    height, width = photo_shape[:2]
    raise ValueError(f"image {name} is too small ({width}x{height}) for this "
                     f"{image_size}-pixel model: the face would be upscaled {zoom:.1f}x, "
                     f"at most {1 / MIN_SCALE_FRACTION:g}x")


def center_transform(height: int, width: int, image_size: int) -> np.ndarray:
  """The similarity of alignment.center_crop_resize: the central square, scaled to S."""
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  scale = image_size / side
  # Pixel centres: x' + 0.5 = (x - left + 0.5) * scale (tf.image.resize's half-pixel rule).
  return np.array([scale, 0.0, (0.5 - left) * scale - 0.5, (0.5 - top) * scale - 0.5],
                  np.float32)


def to_model_range(pixels) -> np.ndarray:
  """float [0, 255] -> float32 [-1, 1], clipped (the model's input range)."""
  return np.clip(np.asarray(pixels, np.float32) / 127.5 - 1.0, -1.0, 1.0)


def prepare_face(photo: np.ndarray, image_size: int, align: str = "auto",
                 landmarks: Optional[np.ndarray] = None, face: int = 0,
                 detector: Optional[face_detection.FaceDetector] = None,
                 name: str = "photo") -> AlignedFace:
  """Find (align="auto"), or take (align="landmarks"), the face's five landmarks and align
  it onto the paper's template at `image_size`; align="center" crops the central square.

  `face` picks among detected faces, 0 = the largest (face_detection.choose_face);
  `detector` defaults to one shared MtcnnDetector; `name` is used in error messages.
  """
  photo = check_photo(photo, name)
  if align not in ALIGN_MODES:
    raise ValueError(f"align={align!r}; valid: {', '.join(ALIGN_MODES)}")
  faces_found = 0
  if align == "center":
    zoom = image_size / min(photo.shape[:2])
    check_scale(name, photo.shape, image_size, zoom)
    crop = alignment.center_crop_resize(photo, image_size)
    return AlignedFace(to_model_range(crop), photo,
                       center_transform(photo.shape[0], photo.shape[1], image_size), 0)
  if align == "landmarks":
    if landmarks is None:
      raise ValueError(f"align='landmarks' needs landmarks for {name}")
    points = check_landmarks(name, landmarks)
  else:
    faces = face_detection.default_detector(detector).detect(photo)
    faces_found = len(faces)
    chosen = face_detection.choose_face(faces, face, name)
    points = check_landmarks(name, chosen.landmarks, what="the detected landmarks")
  zoom = alignment.template_pupil_distance(image_size) / float(
      np.linalg.norm(points[1] - points[0]))
  check_scale(name, photo.shape, image_size, zoom)
  crop = alignment.align(photo, points, image_size)
  transform = alignment.similarity_params(points, alignment.template_landmarks(image_size))
  return AlignedFace(to_model_range(crop), photo, np.asarray(transform, np.float32),
                     faces_found, points)


def crop_mask(image_size: int) -> np.ndarray:
  """float32 [S, S] blend weights in the crop: 0 at the border, 1 inside, smooth between."""
  centres = np.arange(image_size, dtype=np.float32) + 0.5
  to_edge = np.minimum(centres, image_size - centres)  # Pixel centre to the nearer edge.
  margin = MASK_MARGIN_FRACTION * image_size
  feather = max(MASK_FEATHER_FRACTION * image_size, 1.0)
  ramp = np.clip((to_edge - margin) / feather, 0.0, 1.0)
  ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # Smoothstep: no kink where the ramp starts.
  return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)


def _warp_back(aligned: AlignedFace, edited_crop: np.ndarray):
  """(box (top, left, bottom, right), pixels float [h, w, 3] in [0, 255], mask [h, w]) of
  the edited crop warped into the part of the photo its square covers."""
  size = aligned.image_size
  edited = np.asarray(edited_crop, np.float32)
  if edited.shape != aligned.crop.shape:
    raise ValueError(f"edited crop has shape {list(edited.shape)}; the aligned crop is "
                     f"{list(aligned.crop.shape)}")
  height, width = aligned.photo.shape[:2]
  back = np.asarray(alignment.inverse_similarity(aligned.transform), np.float32)
  # Only the photo pixels under the crop's square can change: warp into their bounding
  # box (plus one pixel for bilinear reach) instead of the whole photo.
  corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5],
                      [size - 0.5, size - 0.5]], np.float32)
  corners = np.asarray(alignment.apply_similarity(back, corners))
  left = int(max(np.floor(corners[:, 0].min()) - 1, 0))
  top = int(max(np.floor(corners[:, 1].min()) - 1, 0))
  right = int(min(np.ceil(corners[:, 0].max()) + 2, width))
  bottom = int(min(np.ceil(corners[:, 1].max()) + 2, height))
  if right <= left or bottom <= top:
    return (0, 0, 0, 0), np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32)
  layers = np.concatenate([(edited + 1.0) * 127.5, crop_mask(size)[..., None]], axis=-1)
  # crop pixel -> box pixel: the inverse similarity, shifted to the box's corner.
  to_box = back - np.array([0.0, 0.0, left, top], np.float32)
  warped = alignment.warp(layers, to_box, bottom - top, right - left,
                          fill_mode="CONSTANT").numpy()
  mask = np.clip(warped[..., 3], 0.0, 1.0)
  return (top, left, bottom, right), warped[..., :3], mask


def paste_mask(aligned: AlignedFace) -> np.ndarray:
  """float32 [H, W]: the weight paste_back gives the edited crop at each photo pixel."""
  (top, left, bottom, right), _, mask = _warp_back(aligned, aligned.crop)
  full = np.zeros(aligned.photo.shape[:2], np.float32)
  full[top:bottom, left:right] = mask
  return full


def paste_back(aligned: AlignedFace, edited_crop: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3]: the photo with `edited_crop` (float [S, S, 3] in [-1, 1], e.g. the
  model's output for aligned.crop) blended in where it came from.

  Pixels where the mask (paste_mask) is zero are copied from the photo unchanged.
  """
  (top, left, bottom, right), pixels, mask = _warp_back(aligned, edited_crop)
  result = aligned.photo.copy()
  if mask.size == 0:
    return result
  region = aligned.photo[top:bottom, left:right].astype(np.float32)
  weight = mask[..., None]
  blended = np.clip(np.round(region * (1.0 - weight) + pixels * weight), 0, 255)
  result[top:bottom, left:right] = np.where(weight > 0.0, blended,
                                            region).astype(np.uint8)
  return result
