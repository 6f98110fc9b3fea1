"""Edit a face inside an ordinary photo: find and align it, then paste the edit back.

  aligned = photo_edit.prepare_face(photo, model.image_size)       # detect + align
  outputs = photo_edit.edit_and_reconstruct(model, aligned.crop, exemplar.crop, weights)
  result = photo_edit.paste_back(aligned, outputs["edited"], outputs["reconstructed"])

`prepare_face` turns a uint8 photo of any size into the S x S crop the model takes
(float32 in [-1, 1], what transfer.read_image returns), keeping the similarity
transform from photo pixels to crop pixels. `paste_back` brings back the CHANGE the
model made, not its S x S face: the edited crop minus the model's reconstruction of the
same face (ELEGANT's C - A'), warped through the inverse transform at the photo's
resolution and added to the photo's own pixels. Where the model changed nothing the
photo keeps its pixels (bit-identical) and its sharpness; where it painted new content
(a change of tens of levels) its pixels are shown. `blend_crop` is the whole-crop blend
paste_back did before, kept as the baseline the paste-back benchmark measures against.
All geometry is pipelines.alignment's (the same least-squares similarity and TF warp as
training).

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
from pipelines import uint8_pixels

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
# The change gate, in 8-bit levels of the largest channel of |C - A'|: below CHANGE_FLOOR
# the change is the decoder's noise between two nearby latents (median 2 levels on the
# demo model, where the attribute is not) and is dropped, so those photo pixels stay
# bit-identical; from CHANGE_FULL on it is added whole; smoothstep between (no seam).
CHANGE_FLOOR = 6.0
CHANGE_FULL = 16.0
# The repaint gate: where the change is this large the model drew new content (a frame,
# a fringe, a mouth moved) rather than shading the face; an added change cannot hide the
# photo's detail underneath, so there, and one model pixel around (where the photo's old
# edge would show through), the model's edited pixels are shown instead, fully from
# REPAINT_FULL. Chosen on the synthetic ground truth (BUILD_NOTES, "Sharp photos").
REPAINT_FLOOR = 16.0
REPAINT_FULL = 48.0


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


def check_landmarks(name: str, points: np.ndarray, what: str = "landmarks") -> np.ndarray:
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


def crop_box(aligned: AlignedFace, window: Optional[tuple] = None) -> tuple:
  """(top, left, bottom, right): the photo pixels under the crop's square, or under
  `window` (top, left, bottom, right) of crop pixels, plus one pixel for bilinear reach;
  empty (0, 0, 0, 0) when it lies outside the photo."""
  size = aligned.image_size
  crop_top, crop_left, crop_bottom, crop_right = window or (0, 0, size, size)
  height, width = aligned.photo.shape[:2]
  back = np.asarray(alignment.inverse_similarity(aligned.transform), np.float32)
  corners = np.array([[crop_left - 0.5, crop_top - 0.5], [crop_right - 0.5, crop_top - 0.5],
                      [crop_left - 0.5, crop_bottom - 0.5], [crop_right - 0.5, crop_bottom - 0.5]],
                     np.float32)
  corners = np.asarray(alignment.apply_similarity(back, corners))
  left = int(max(np.floor(corners[:, 0].min()) - 1, 0))
  top = int(max(np.floor(corners[:, 1].min()) - 1, 0))
  right = int(min(np.ceil(corners[:, 0].max()) + 2, width))
  bottom = int(min(np.ceil(corners[:, 1].max()) + 2, height))
  if right <= left or bottom <= top:
    return 0, 0, 0, 0
  return top, left, bottom, right


def warp_to_photo(aligned: AlignedFace, layers: np.ndarray, box: tuple) -> np.ndarray:
  """float32 [h, w, C]: crop-sized `layers` [S, S, C] resampled (bilinearly, zero outside
  the crop) at the photo pixels of `box` (crop_box). Only those pixels can change, so the
  warp covers them and not the whole photo."""
  top, left, bottom, right = box
  back = np.asarray(alignment.inverse_similarity(aligned.transform), np.float32)
  # crop pixel -> box pixel: the inverse similarity, shifted to the box's corner.
  to_box = back - np.array([0.0, 0.0, left, top], np.float32)
  return alignment.warp(np.asarray(layers, np.float32), to_box, bottom - top, right - left,
                        fill_mode="CONSTANT").numpy()


def _check_crop(aligned: AlignedFace, crop, what: str) -> np.ndarray:
  crop = np.asarray(crop, np.float32)
  if crop.shape != aligned.crop.shape:
    raise ValueError(f"{what} crop has shape {list(crop.shape)}; the aligned crop is "
                     f"{list(aligned.crop.shape)}")
  return crop


def nonzero_window(layers: np.ndarray) -> Optional[tuple]:
  """(top, left, bottom, right) of the crop pixels where `layers` [S, S, C] are not all
  zero, grown by one pixel (a bilinear sample there still reads them); None if none."""
  rows = np.flatnonzero(layers.any(axis=(1, 2)))
  columns = np.flatnonzero(layers.any(axis=(0, 2)))
  if rows.size == 0:
    return None
  size = layers.shape[0]
  return (max(rows[0] - 1, 0), max(columns[0] - 1, 0), min(rows[-1] + 2, size),
          min(columns[-1] + 2, size))


def paste_mask(aligned: AlignedFace) -> np.ndarray:
  """float32 [H, W]: the weight of the crop at each photo pixel (crop_mask warped back);
  no pixel outside it can change."""
  box = crop_box(aligned)
  full = np.zeros(aligned.photo.shape[:2], np.float32)
  if box[2] > box[0]:
    top, left, bottom, right = box
    warped = warp_to_photo(aligned, crop_mask(aligned.image_size)[..., None], box)
    full[top:bottom, left:right] = np.clip(warped[..., 0], 0.0, 1.0)
  return full


def smoothstep(values: np.ndarray, low: float, high: float) -> np.ndarray:
  """0 at or below `low`, 1 at or above `high`, smooth (zero slope at both ends) between."""
  ramp = np.clip((np.asarray(values, np.float32) - low) / (high - low), 0.0, 1.0)
  return ramp * ramp * (3.0 - 2.0 * ramp)


def edit_change(edited_crop, reconstructed_crop) -> np.ndarray:
  """float32 [S, S, 3] in 8-bit levels: what the edit changed, C - A'.

  Both are the model's clipped outputs (what it shows), not its raw residuals: the
  exported signatures return only those, and A' + (C - A') = C, so the crop receives
  exactly the visible change (a residual pushing an already white pixel further would
  otherwise add a change nobody saw).
  """
  return (np.asarray(edited_crop, np.float32) - np.asarray(reconstructed_crop, np.float32)) * 127.5


def grow_by_one_pixel(weights: np.ndarray) -> np.ndarray:
  """[S, S] weights, each the largest of its 3 x 3 neighbourhood (edges repeated)."""
  padded = np.pad(weights, 1, mode="edge")
  rows, columns = weights.shape
  return np.max([padded[dy:dy + rows, dx:dx + columns] for dy in range(3) for dx in range(3)],
                axis=0)


def change_layers(edited_crop, reconstructed_crop) -> np.ndarray:
  """float32 [S, S, 7]: the gated change (3, levels), the model's edited pixels weighted
  by the repaint gate (3, levels) and the repaint gate (1), all faded out at the crop's
  border by crop_mask. Zero wherever the model changed less than CHANGE_FLOOR (and, for
  the repaint layers, less than REPAINT_FLOOR within one pixel)."""
  change = edit_change(edited_crop, reconstructed_crop)
  magnitude = np.abs(change).max(axis=-1)
  border = crop_mask(change.shape[0])
  added = smoothstep(magnitude, CHANGE_FLOOR, CHANGE_FULL) * border
  repaint = grow_by_one_pixel(smoothstep(magnitude, REPAINT_FLOOR, REPAINT_FULL)) * border
  edited_levels = uint8_pixels.to_levels(edited_crop)
  return np.concatenate([change * added[..., None], edited_levels * repaint[..., None],
                         repaint[..., None]], axis=-1)


def paste_back(aligned: AlignedFace, edited_crop: np.ndarray,
               reconstructed_crop: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3]: the photo with the model's edit applied at its own resolution.

  edited_crop, reconstructed_crop: float [S, S, 3] in [-1, 1], the model's output for
  aligned.crop with the edit and without it (edit_and_reconstruct gives both). Their
  difference is warped back bilinearly and added to the photo; where the change is
  large the model's pixels replace the photo's (REPAINT_*). Every photo pixel the gated
  change does not reach is returned bit-identical.
  """
  edited = _check_crop(aligned, edited_crop, "edited")
  reconstructed = _check_crop(aligned, reconstructed_crop, "reconstructed")
  result = aligned.photo.copy()
  layers = change_layers(edited, reconstructed)
  window = nonzero_window(layers)
  if window is None:  # Nothing changed: nothing to warp.
    return result
  # Only the photo pixels under what changed are warped: a local edit (glasses) of a
  # large face in a 12 MP photo is a fraction of the face's square.
  box = crop_box(aligned, window)
  top, left, bottom, right = box
  if bottom <= top:
    return result
  warped = warp_to_photo(aligned, layers, box)
  change, repainted, repaint = warped[..., :3], warped[..., 3:6], warped[..., 6:]
  region = aligned.photo[top:bottom, left:right].astype(np.float32)
  # (photo + change) where the model shaded, its own pixels where it repainted; the
  # repainted layer is already weighted by the gate (bilinear warps commute with that).
  pasted = (region + change) * (1.0 - repaint) + repainted
  result[top:bottom, left:right] = uint8_pixels.levels_to_uint8(pasted)
  return result


def blend_crop(aligned: AlignedFace, edited_crop: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 3]: the whole edited crop blended in with paste_mask's weights.

  What paste_back did before it pasted the change: the S x S face, scaled up, replaces
  the photo's face, so a 64 px model blurs a 300 px face. No command uses it; it is the
  "before" of benchmarks/paste_back_quality.py.
  """
  edited = _check_crop(aligned, edited_crop, "edited")
  result = aligned.photo.copy()
  box = crop_box(aligned)
  top, left, bottom, right = box
  if bottom <= top:
    return result
  layers = np.concatenate([uint8_pixels.to_levels(edited), crop_mask(aligned.image_size)[..., None]],
                          axis=-1)
  warped = warp_to_photo(aligned, layers, box)
  weight = np.clip(warped[..., 3:], 0.0, 1.0)
  region = aligned.photo[top:bottom, left:right].astype(np.float32)
  blended = region * (1.0 - weight) + warped[..., :3] * weight
  result[top:bottom, left:right] = uint8_pixels.levels_to_uint8(
      np.where(weight > 0.0, blended, region))
  return result


def edit_and_reconstruct(model, image_crop: np.ndarray, exemplar_crop: np.ndarray,
                         weights: np.ndarray) -> dict:
  """The model outputs paste_back needs, from one call of model.transfer (any
  TransferModel: SavedModel, run directory, .tflite).

  image_crop, exemplar_crop: float32 [S, S, 3]; weights: float32 [n] slab weights.
  Returns float32 [S, S, 3] arrays: "edited" (C), "exemplar_edited" (D), and
  "reconstructed" (A'), "exemplar_reconstructed" (B'). The reconstructions are the same
  transfer with all weights 0 (no slab exchanged), as a second batch row, so a TF
  Serving or LiteRT client gets them from the existing signatures the same way.
  """
  weights = np.asarray(weights, np.float32)
  outputs = model.transfer(np.stack([image_crop, image_crop]),
                           np.stack([exemplar_crop, exemplar_crop]),
                           np.stack([weights, np.zeros_like(weights)]))
  edited = np.asarray(outputs["edited"], np.float32)
  exemplar_edited = np.asarray(outputs["exemplar_edited"], np.float32)
  return {"edited": edited[0], "exemplar_edited": exemplar_edited[0],
          "reconstructed": edited[1], "exemplar_reconstructed": exemplar_edited[1]}
