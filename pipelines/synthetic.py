"""Procedural synthetic faces with exact attribute ground truth.

CelebA cannot be downloaded everywhere, and even when it can, the quality of an
attribute swap on real photos can only be judged by eye. This module draws
cartoon faces procedurally, so that

* every image is a pure function of (seed, index): a counter-based hash, not a
  sequential generator, draws every random number, so image k is the same no
  matter which batch it is rendered in;
* every attribute has an appearance (e.g. the frame colour and lens shape of
  the eyeglasses) that varies from face to face, so "A with B's eyeglasses" is
  a precise target that `exchange_attributes` + `render_faces` produce exactly;
* the renderer also returns, per attribute, the region of the image its drawing
  covers, so errors can be measured inside and outside that region.

All shapes are defined by signed distance functions in a face-local coordinate
frame and anti-aliased by clipping the distance measured in pixels. Rendering
is vectorised over a batch with numpy and only touches the bounding window of
each layer, which is what makes it fast enough to train from on a CPU.
"""

import dataclasses
import functools
import zlib
from typing import Iterable, Mapping, Optional

import numpy as np
import tensorflow as tf

from pipelines import alignment
from pipelines import face_source

ATTRIBUTES = ("Eyeglasses", "Bangs", "Smiling", "Mustache", "Blond_Hair",
              "Wearing_Hat")
_GLASSES, _BANGS, _SMILING, _MUSTACHE, _BLOND, _HAT = range(len(ATTRIBUTES))

# Parameters of a face that no attribute controls, in column order of
# FaceParams.identity. Lengths are in face-local units (the image spans
# [-1, 1]; the head is centred on the local origin, y points down).
IDENTITY_FIELDS = (
    "scale", "shift_x", "shift_y", "angle",
    "face_rx", "face_ry", "jaw",
    "skin_r", "skin_g", "skin_b",
    "eye_y", "eye_dx", "eye_rx", "eye_ry", "iris_radius",
    "iris_r", "iris_g", "iris_b",
    "brow_dy", "brow_thickness", "brow_arch", "brow_tilt",
    "brow_r", "brow_g", "brow_b",
    "nose_y", "nose_w",
    "mouth_y", "mouth_w", "lip_thickness", "lip_r", "lip_g", "lip_b",
    "hair_length", "hair_volume", "hairline", "temple", "ear_size",
    "bg0_r", "bg0_g", "bg0_b", "bg1_r", "bg1_g", "bg1_b", "bg_dx", "bg_dy",
    "shirt_r", "shirt_g", "shirt_b",
    "light_gain", "light_x", "light_y",
)

# Per-attribute appearance parameters, in column order of
# FaceParams.appearance[:, attribute]. They are sampled for every face whether
# or not it shows the attribute, so any face can donate any attribute.
APPEARANCE_FIELDS = {
    "Eyeglasses": ("lens_w", "lens_aspect", "lens_roundness", "frame_width",
                   "frame_r", "frame_g", "frame_b", "tint_alpha", "tint_r",
                   "tint_g", "tint_b", "bridge_height"),
    "Bangs": ("length", "slant", "arch", "jag_amplitude", "jag_frequency",
              "jag_phase", "strand_frequency"),
    "Smiling": ("width", "lift", "opening", "teeth"),
    "Mustache": ("thickness", "width", "droop", "lift", "color_r", "color_g",
                 "color_b"),
    "Blond_Hair": ("blond_r", "blond_g", "blond_b", "dark_r", "dark_g",
                   "dark_b"),
    "Wearing_Hat": ("base", "crown_extra", "crown_width", "roundness",
                    "brim_width", "brim_thickness", "color_r", "color_g",
                    "color_b", "band_height", "band_shade"),
}
_NUM_APPEARANCE = max(len(f) for f in APPEARANCE_FIELDS.values())
_ID_COLUMN = {name: i for i, name in enumerate(IDENTITY_FIELDS)}

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 32, 256

# Where each face sits in the image. "aligned" (the default): the similarity
# that `pipelines.alignment.align` would apply to a real photo has already been
# applied, so the five landmarks of every face land on the template up to the
# residual of a least-squares fit, as in CelebA's aligned crops that ELEGANT is
# built for. "wild": today's unaligned faces, shifted by up to about +-5 px,
# rotated by up to 8 degrees and smaller; the same faces otherwise, so
# aligning a wild face with its exact landmarks reproduces the aligned one.
LAYOUTS = ("aligned", "wild")
DEFAULT_LAYOUT = "aligned"

# Global index offset of each split, so that splits never share a face.
SPLIT_BASES = {"train": 0, "val": 10**9, "test": 2 * 10**9}
DEFAULT_SPLIT_SIZES = {"train": 100_000, "val": 2_000, "test": 2_000}


@dataclasses.dataclass(frozen=True)
class FaceParams:
  """A batch of N faces: identity, attribute states and attribute appearances.

  Attributes:
    identity: float32 [N, len(IDENTITY_FIELDS)].
    appearance: float32 [N, len(ATTRIBUTES), max appearance fields]; row j
      holds APPEARANCE_FIELDS[ATTRIBUTES[j]] (unused columns are zero).
    states: bool [N, len(ATTRIBUTES)]; whether each face shows each attribute.
  """
  identity: np.ndarray
  appearance: np.ndarray
  states: np.ndarray

  def __len__(self):
    return self.states.shape[0]

  def take(self, idx) -> "FaceParams":
    """Return the faces selected by `idx` (any numpy index) as a new batch."""
    idx = np.atleast_1d(np.asarray(idx)) if np.ndim(idx) == 0 else idx
    return FaceParams(identity=self.identity[idx],
                      appearance=self.appearance[idx],
                      states=self.states[idx])


# ---------------------------------------------------------------------------
# Counter-based random numbers.

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _mix_int(z: int) -> int:
  """splitmix64 finaliser on a Python int (for the per-field keys)."""
  z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
  z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
  return z ^ (z >> 31)


def _mix(z: np.ndarray) -> np.ndarray:
  """splitmix64 finaliser on uint64 arrays (wrap-around is intended)."""
  z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
  z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
  return z ^ (z >> np.uint64(31))


def _uniform(seed: int, indices: np.ndarray, field: str) -> np.ndarray:
  """Uniform float64 in [0, 1) for every index, keyed on (seed, index, field).

  The field is keyed by the CRC of its name rather than its position, so
  adding a parameter never changes the values of existing ones.
  """
  key = _mix_int((seed * _GOLDEN + zlib.crc32(field.encode())) & _MASK64)
  key2 = _mix_int(key ^ 0x5851F42D4C957F2D)
  z = indices.astype(np.uint64) * np.uint64(_GOLDEN) + np.uint64(key)
  z = _mix(_mix(z) ^ np.uint64(key2))
  return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class _Draw:
  """Draws the random parameters of one batch of global indices."""

  def __init__(self, seed: int, indices: np.ndarray):
    self.seed = int(seed) & _MASK64
    self.indices = indices

  def u(self, field: str) -> np.ndarray:
    return _uniform(self.seed, self.indices, field)

  def range(self, field: str, lo: float, hi: float) -> np.ndarray:
    return lo + (hi - lo) * self.u(field)

  def blend(self, field: str, palette) -> np.ndarray:
    """A colour on the piecewise-linear path through `palette` ([N, 3])."""
    palette = np.asarray(palette, np.float64)
    t = self.u(field) * (len(palette) - 1)
    i = np.minimum(t.astype(np.int64), len(palette) - 2)
    f = (t - i)[:, None]
    return palette[i] * (1 - f) + palette[i + 1] * f

  def pick(self, field: str, palette, jitter: float) -> np.ndarray:
    """One of the `palette` colours, jittered per channel ([N, 3])."""
    palette = np.asarray(palette, np.float64)
    i = np.minimum((self.u(field) * len(palette)).astype(np.int64),
                   len(palette) - 1)
    noise = np.stack([self.range(f"{field}/{c}", -jitter, jitter)
                      for c in "rgb"], axis=1)
    return np.clip(palette[i] + noise, 0.0, 1.0)

  def hsv(self, field: str, s_range, v_range) -> np.ndarray:
    return _hsv_to_rgb(self.u(f"{field}/h"), self.range(f"{field}/s", *s_range),
                       self.range(f"{field}/v", *v_range))


def _hsv_to_rgb(h, s, v) -> np.ndarray:
  """Vectorised HSV -> RGB with only arithmetic (no table lookups)."""
  channels = []
  for n in (5.0, 3.0, 1.0):
    k = np.mod(n + h * 6.0, 6.0)
    channels.append(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
  return np.stack(channels, axis=1)


_SKIN = ((0.99, 0.87, 0.77), (0.95, 0.77, 0.63), (0.86, 0.65, 0.49),
         (0.70, 0.49, 0.34), (0.50, 0.33, 0.22), (0.36, 0.24, 0.16))
_IRIS = ((0.42, 0.26, 0.12), (0.22, 0.13, 0.07), (0.25, 0.48, 0.78),
         (0.30, 0.55, 0.32), (0.52, 0.57, 0.62), (0.58, 0.46, 0.18))
_BROW = ((0.10, 0.07, 0.05), (0.22, 0.14, 0.08), (0.35, 0.24, 0.15),
         (0.30, 0.28, 0.27))
_DARK_HAIR = ((0.07, 0.06, 0.05), (0.18, 0.11, 0.07), (0.32, 0.20, 0.12),
              (0.40, 0.17, 0.08), (0.26, 0.24, 0.24))
_BLOND_HAIR = ((0.97, 0.93, 0.78), (0.95, 0.80, 0.40), (0.88, 0.70, 0.36),
               (0.87, 0.82, 0.62), (0.95, 0.74, 0.50))
_FRAMES = ((0.05, 0.05, 0.05), (0.38, 0.20, 0.08), (0.88, 0.72, 0.25),
           (0.78, 0.79, 0.83), (0.78, 0.10, 0.10), (0.10, 0.18, 0.55))
_TINTS = ((0.08, 0.08, 0.09), (0.30, 0.18, 0.08), (0.10, 0.24, 0.12),
          (0.10, 0.18, 0.40))
_MUSTACHES = ((0.06, 0.05, 0.04), (0.20, 0.12, 0.07), (0.36, 0.23, 0.13),
              (0.62, 0.30, 0.12), (0.55, 0.55, 0.55))


def _check_frequencies(attribute_frequencies: Optional[Mapping]) -> np.ndarray:
  freqs = np.full(len(ATTRIBUTES), 0.5)
  for name, value in (attribute_frequencies or {}).items():
    if name not in ATTRIBUTES:
      raise ValueError(f"unknown attribute {name!r}; valid attribute names: "
                       + ", ".join(ATTRIBUTES))
    if not 0.0 <= float(value) <= 1.0:
      raise ValueError(f"frequency of {name} must be in [0, 1], got {value}")
    freqs[ATTRIBUTES.index(name)] = float(value)
  return freqs


def _sample_states(seed: int, indices: np.ndarray,
                   frequencies: np.ndarray) -> np.ndarray:
  """bool [N, n_attributes]; uses its own hash fields, so no rendering needed."""
  draw = _Draw(seed, indices)
  return np.stack([draw.u(f"state/{name}") < frequencies[j]
                   for j, name in enumerate(ATTRIBUTES)], axis=1)


def _sample_identity(draw: _Draw) -> dict:
  c = {}
  c["scale"] = draw.range("scale", 0.98, 1.12)
  c["shift_x"] = draw.range("shift_x", -0.07, 0.07)
  c["shift_y"] = draw.range("shift_y", 0.05, 0.15)
  c["angle"] = draw.range("angle", -0.14, 0.14)
  c["face_rx"] = draw.range("face_rx", 0.39, 0.47)
  c["face_ry"] = draw.range("face_ry", 0.51, 0.58)
  c["jaw"] = draw.range("jaw", 0.0, 0.7)
  c["skin_r"], c["skin_g"], c["skin_b"] = draw.blend("skin", _SKIN).T
  # The five landmark positions (pupils, nose tip, mouth corners) vary within
  # ranges whose mean matches the proportions of alignment.TEMPLATE_UNITS, so
  # a least-squares similarity fit leaves residuals of a fraction of a pixel
  # at 64 px, as on real aligned faces (see `landmarks_local`).
  c["eye_y"] = draw.range("eye_y", -0.08, -0.05)
  c["eye_dx"] = draw.range("eye_dx", 0.16, 0.18)
  c["eye_rx"] = draw.range("eye_rx", 0.075, 0.092)
  c["eye_ry"] = c["eye_rx"] * draw.range("eye_aspect", 0.55, 0.72)
  c["iris_radius"] = c["eye_rx"] * draw.range("iris_frac", 0.48, 0.6)
  c["iris_r"], c["iris_g"], c["iris_b"] = draw.pick("iris", _IRIS, 0.05).T
  c["brow_dy"] = draw.range("brow_dy", 0.095, 0.125)
  c["brow_thickness"] = draw.range("brow_thickness", 0.015, 0.026)
  c["brow_arch"] = draw.range("brow_arch", -0.01, 0.04)
  c["brow_tilt"] = draw.range("brow_tilt", -0.02, 0.03)
  c["brow_r"], c["brow_g"], c["brow_b"] = draw.pick("brow", _BROW, 0.04).T
  c["nose_y"] = draw.range("nose_y", 0.12, 0.14)
  c["nose_w"] = draw.range("nose_w", 0.045, 0.07)
  c["mouth_y"] = draw.range("mouth_y", 0.29, 0.32)
  c["mouth_w"] = draw.range("mouth_w", 0.13, 0.155)
  c["lip_thickness"] = draw.range("lip_thickness", 0.014, 0.022)
  redness = draw.range("lip_redness", 0.25, 0.5)[:, None]
  skin = np.stack([c["skin_r"], c["skin_g"], c["skin_b"]], axis=1)
  lip = skin * 0.8 * (1 - redness) + np.array([0.78, 0.22, 0.25]) * redness
  c["lip_r"], c["lip_g"], c["lip_b"] = lip.T
  c["hair_length"] = draw.range("hair_length", -0.12, 0.95)
  c["hair_volume"] = draw.range("hair_volume", 0.03, 0.15)
  c["hairline"] = draw.range("hairline", 0.55, 0.72)
  c["temple"] = draw.range("temple", 0.0, 0.07)
  c["ear_size"] = draw.range("ear_size", 0.85, 1.15)
  # Muted backgrounds keep the face the most salient thing in the image.
  bg0 = draw.hsv("bg0", (0.05, 0.45), (0.35, 0.95))
  bg1 = np.clip(bg0 * draw.range("bg_shade", 0.55, 1.1)[:, None]
                + draw.range("bg_shift", -0.1, 0.1)[:, None], 0.0, 1.0)
  c["bg0_r"], c["bg0_g"], c["bg0_b"] = bg0.T
  c["bg1_r"], c["bg1_g"], c["bg1_b"] = bg1.T
  c["bg_dx"] = draw.range("bg_dx", -1.0, 1.0)
  c["bg_dy"] = draw.range("bg_dy", -1.0, 1.0)
  c["shirt_r"], c["shirt_g"], c["shirt_b"] = draw.hsv(
      "shirt", (0.0, 0.8), (0.15, 0.95)).T
  c["light_gain"] = draw.range("light_gain", 0.85, 1.12)
  c["light_x"] = draw.range("light_x", -0.15, 0.15)
  c["light_y"] = draw.range("light_y", -0.12, 0.12)
  return c


def _sample_appearance(draw: _Draw) -> dict:
  """{attribute: {field: [N] array}} for all attributes."""
  a = {name: {} for name in ATTRIBUTES}
  g = a["Eyeglasses"]
  g["lens_w"] = draw.range("glasses/lens_w", 0.105, 0.14)
  g["lens_aspect"] = draw.range("glasses/lens_aspect", 0.6, 1.0)
  g["lens_roundness"] = draw.range("glasses/lens_roundness", 0.1, 1.0)
  # Frames at least 2.5 px wide at 64 px on aligned faces (a local unit is
  # about 20 px there): thinner ones are a pixel of aliasing a 64 px model
  # cannot resolve, let alone move between faces.
  g["frame_width"] = draw.range("glasses/frame_width", 0.053, 0.078)
  g["frame_r"], g["frame_g"], g["frame_b"] = draw.pick(
      "glasses/frame", _FRAMES, 0.06).T
  # About 40% of glasses are sunglasses; clear lenses get a visible sheen so
  # that the lens area is still part of the drawing.
  sunglasses = draw.u("glasses/sunglasses") < 0.4
  g["tint_alpha"] = np.where(sunglasses,
                             draw.range("glasses/tint_alpha", 0.55, 0.85),
                             0.3)
  tint = np.where(sunglasses[:, None], draw.pick("glasses/tint", _TINTS, 0.04),
                  np.array([[0.88, 0.93, 0.98]]))
  g["tint_r"], g["tint_g"], g["tint_b"] = tint.T
  g["bridge_height"] = draw.range("glasses/bridge_height", 0.0, 0.6)

  b = a["Bangs"]
  b["length"] = draw.range("bangs/length", -0.03, 0.04)
  b["slant"] = draw.range("bangs/slant", -0.3, 0.3)
  b["arch"] = draw.range("bangs/arch", -0.4, 0.8)
  b["jag_amplitude"] = np.maximum(draw.range("bangs/jag", -0.03, 0.07), 0.0)
  b["jag_frequency"] = draw.range("bangs/jag_frequency", 5.0, 11.0)
  b["jag_phase"] = draw.u("bangs/jag_phase")
  b["strand_frequency"] = draw.range("bangs/strand_frequency", 14.0, 28.0)

  s = a["Smiling"]
  s["width"] = draw.range("smile/width", 0.17, 0.22)
  s["lift"] = draw.range("smile/lift", 0.02, 0.06)
  s["opening"] = draw.range("smile/opening", 0.035, 0.075)
  s["teeth"] = np.maximum(draw.range("smile/teeth", -0.01, 0.03), 0.0)

  m = a["Mustache"]
  m["thickness"] = draw.range("mustache/thickness", 0.03, 0.048)
  m["width"] = draw.range("mustache/width", 0.12, 0.19)
  m["droop"] = draw.range("mustache/droop", -0.015, 0.07)
  m["lift"] = draw.range("mustache/lift", 0.0, 0.015)
  m["color_r"], m["color_g"], m["color_b"] = draw.pick(
      "mustache/color", _MUSTACHES, 0.04).T

  h = a["Blond_Hair"]
  h["blond_r"], h["blond_g"], h["blond_b"] = draw.pick(
      "hair/blond", _BLOND_HAIR, 0.04).T
  h["dark_r"], h["dark_g"], h["dark_b"] = draw.pick(
      "hair/dark", _DARK_HAIR, 0.03).T

  t = a["Wearing_Hat"]
  t["base"] = draw.range("hat/base", 0.62, 0.8)
  t["crown_extra"] = draw.range("hat/crown_extra", 0.03, 0.35)
  t["crown_width"] = draw.range("hat/crown_width", 1.0, 1.15)
  t["roundness"] = draw.range("hat/roundness", 0.1, 1.0)
  t["brim_width"] = np.where(draw.u("hat/has_brim") < 0.55,
                             draw.range("hat/brim_width", 1.2, 1.6), 0.0)
  t["brim_thickness"] = draw.range("hat/brim_thickness", 0.022, 0.04)
  t["color_r"], t["color_g"], t["color_b"] = draw.hsv(
      "hat/color", (0.35, 0.9), (0.35, 0.92)).T
  t["band_height"] = np.maximum(draw.range("hat/band_height", -0.03, 0.07), 0.0)
  t["band_shade"] = draw.range("hat/band_shade", 0.3, 0.6)
  return a


def _rotation(theta: np.ndarray) -> tuple:
  """(cos, sin) by polynomials: angles are small, and plain arithmetic keeps
  results bit-identical however the batch is laid out."""
  theta = np.asarray(theta, np.float64)
  t2 = theta * theta
  cos = 1 - t2 / 2 + t2 * t2 / 24 - t2 * t2 * t2 / 720
  sin = theta * (1 - t2 / 6 + t2 * t2 / 120 - t2 * t2 * t2 / 5040)
  return cos, sin


def landmarks_local(identity: np.ndarray) -> np.ndarray:
  """float64 [N, 5, 2] landmarks in face-local units, in CelebA's order.

  Left pupil, right pupil (image left first), nose tip, left and right mouth
  corner of the neutral mouth. A smile moves the real mouth corners, but the
  face's placement must not depend on an attribute, or exchanging Smiling
  would move the whole face; so every layout is fitted on the neutral mouth.
  """
  column = lambda name: identity[:, _ID_COLUMN[name]].astype(np.float64)
  eye_dx, eye_y = column("eye_dx"), column("eye_y")
  mouth_w, mouth_y = column("mouth_w"), column("mouth_y")
  zero = np.zeros_like(eye_dx)
  points = [(-eye_dx, eye_y), (eye_dx, eye_y), (zero, column("nose_y")),
            (-mouth_w, mouth_y), (mouth_w, mouth_y)]
  return np.stack([np.stack(point, axis=1) for point in points], axis=1)


def _template_image_units() -> np.ndarray:
  """The alignment template in image units ([-1, 1] edge to edge), any size."""
  size = 256
  return (2.0 * alignment.template_landmarks(size).astype(np.float64) + 1.0) / size - 1.0


def _fit_to_template(local: np.ndarray) -> dict:
  """Per face, the least-squares similarity taking `local` landmarks onto the
  template: what alignment.similarity_params computes for a photo, in numpy."""
  target = _template_image_units()[None]
  local_mean = local.mean(axis=1, keepdims=True)
  target_mean = target.mean(axis=1, keepdims=True)
  s, t = local - local_mean, target - target_mean
  norm = np.sum(s * s, axis=(1, 2))
  a = np.sum(s[..., 0] * t[..., 0] + s[..., 1] * t[..., 1], axis=1) / norm
  b = np.sum(s[..., 0] * t[..., 1] - s[..., 1] * t[..., 0], axis=1) / norm
  mx, my = local_mean[:, 0, 0], local_mean[:, 0, 1]
  return {"scale": np.hypot(a, b), "angle": np.arctan2(b, a),
          "shift_x": target_mean[:, 0, 0] - (a * mx - b * my),
          "shift_y": target_mean[:, 0, 1] - (b * mx + a * my)}


def landmarks_of(params: FaceParams, image_size: int) -> np.ndarray:
  """float32 [N, 5, 2] pixel positions (x, y) of the five landmarks as rendered.

  Pixel centres sit at integers, the convention of CelebA's landmark files and
  of pipelines.alignment, so these can be fed to alignment.align directly.
  """
  local = landmarks_local(params.identity)
  column = lambda name: params.identity[:, _ID_COLUMN[name]].astype(np.float64)[:, None]
  cos, sin = _rotation(column("angle"))
  scale = column("scale")
  x = column("shift_x") + scale * (cos * local[..., 0] - sin * local[..., 1])
  y = column("shift_y") + scale * (sin * local[..., 0] + cos * local[..., 1])
  pixels = (np.stack([x, y], axis=-1) + 1.0) * (image_size / 2.0) - 0.5
  return pixels.astype(np.float32)


def _check_layout(layout: str) -> str:
  if layout not in LAYOUTS:
    raise ValueError(f"unknown synthetic layout {layout!r}; valid layouts: "
                     + ", ".join(LAYOUTS))
  return layout


def sample_faces(seed: int, indices: np.ndarray,
                 attribute_frequencies: Optional[Mapping] = None,
                 layout: str = DEFAULT_LAYOUT) -> FaceParams:
  """Sample the faces with global `indices` of `seed` (deterministic per index).

  Args:
    seed: any integer.
    indices: int array [N] of global face indices (>= 0).
    attribute_frequencies: {attribute name: probability}; missing names keep
      0.5. Unknown names raise ValueError.
    layout: one of LAYOUTS. The two layouts give the same faces (identity,
      attributes) and differ only in scale, shift and angle.
  """
  freqs = _check_frequencies(attribute_frequencies)
  _check_layout(layout)
  indices = np.asarray(indices, np.int64).reshape(-1)
  draw = _Draw(seed, indices)
  ident = _sample_identity(draw)
  if layout == "aligned":
    ident.update(_fit_to_template(landmarks_local(
        np.stack([ident[f] for f in IDENTITY_FIELDS], axis=1))))
  identity = np.stack([ident[f] for f in IDENTITY_FIELDS], axis=1)
  app = _sample_appearance(draw)
  appearance = np.zeros((len(indices), len(ATTRIBUTES), _NUM_APPEARANCE))
  for j, name in enumerate(ATTRIBUTES):
    for k, field in enumerate(APPEARANCE_FIELDS[name]):
      appearance[:, j, k] = app[name][field]
  return FaceParams(identity=identity.astype(np.float32),
                    appearance=appearance.astype(np.float32),
                    states=_sample_states(seed, indices, freqs))


@functools.lru_cache(maxsize=8)
def mean_style(seed: int, count: int = 4096) -> np.ndarray:
  """float32 [len(ATTRIBUTES), max appearance fields]: every attribute's mean
  appearance over the first `count` training faces of `seed`.

  A generic version of each attribute, for the "placed generic" oracle: the
  attribute drawn at a face's own geometry, but in nobody's particular style.
  """
  indices = np.arange(count) + SPLIT_BASES["train"]
  style = sample_faces(seed, indices).appearance.mean(axis=0)
  # Cached (evaluation asks once per swap): read-only, so no caller can alter it.
  style.flags.writeable = False
  return style


def with_generic_attributes(params: FaceParams, attribute_names,
                            style: np.ndarray) -> FaceParams:
  """`params` with the named attributes switched on in the given `style`."""
  cols = _attribute_indices(attribute_names)
  appearance = params.appearance.copy()
  states = params.states.copy()
  appearance[:, cols] = style[cols]
  states[:, cols] = True
  return FaceParams(identity=params.identity.copy(), appearance=appearance, states=states)


def labels_of(params: FaceParams) -> np.ndarray:
  """uint8 [N, len(ATTRIBUTES)] 0/1 labels of a batch of faces."""
  return params.states.astype(np.uint8)


def _attribute_indices(attribute_names) -> list:
  if isinstance(attribute_names, str):
    attribute_names = [attribute_names]
  out = []
  for name in attribute_names:
    if name not in ATTRIBUTES:
      raise ValueError(f"unknown attribute {name!r}; valid attribute names: "
                       + ", ".join(ATTRIBUTES))
    out.append(ATTRIBUTES.index(name))
  return out


def exchange_attributes(target: FaceParams, donor: FaceParams,
                        attribute_names) -> FaceParams:
  """`target` faces wearing `donor`'s state and appearance of the named attributes.

  Face i of the result keeps the identity and all other attributes of
  target[i] and takes attribute state and appearance from donor[i].
  """
  cols = _attribute_indices(attribute_names)
  if len(target) != len(donor):
    raise ValueError(f"target has {len(target)} faces but donor {len(donor)}")
  appearance = target.appearance.copy()
  states = target.states.copy()
  appearance[:, cols] = donor.appearance[:, cols]
  states[:, cols] = donor.states[:, cols]
  return FaceParams(identity=target.identity.copy(), appearance=appearance,
                    states=states)


# ---------------------------------------------------------------------------
# Rendering.


def _tri(x: np.ndarray) -> np.ndarray:
  """Triangle wave with period 1 and range [0, 1] (exact, no transcendentals)."""
  f = x - np.floor(x)
  f *= 2.0
  f -= 1.0
  return np.abs(f, out=f)


def _ellipse_q(w, cx, cy, rx, ry):
  """Normalised squared radius of an ellipse (1 on its outline) over a window."""
  irx, iry = 1.0 / rx, 1.0 / ry
  q = w.lin(irx, 0.0, -cx * irx)
  q *= q
  b = w.lin(0.0, iry, -cy * iry)
  b *= b
  q += b
  return q


def _ellipse(w, cx, cy, rx, ry):
  """Approximate signed distance to an ellipse over a window.

  Scaling the normalised radius by the smaller semi-axis never underestimates
  the edge width, so edges stay at least one pixel soft.
  """
  d = np.sqrt(_ellipse_q(w, cx, cy, rx, ry))
  d -= 1.0
  d *= np.minimum(rx, ry)
  return d


def _round_box(dx, dy, hx, hy, r):
  """Exact signed distance to a box with half sizes (hx, hy) and corner radius r.

  dx, dy are the offsets from the box centre; they are overwritten.
  """
  qx = np.abs(dx, out=dx)
  qx -= hx - r
  qy = np.abs(dy, out=dy)
  qy -= hy - r
  inside = np.maximum(qx, qy)
  np.minimum(inside, 0.0, out=inside)
  np.maximum(qx, 0.0, out=qx)
  np.maximum(qy, 0.0, out=qy)
  qx *= qx
  qy *= qy
  qx += qy
  d = np.sqrt(qx, out=qx)
  d += inside
  d -= r
  return d


class _Window:
  """A rectangular pixel window and the face-local coordinates of its pixels.

  Local coordinates are affine in the image coordinates, so any affine
  expression a*u + b*v + c is a column part plus a row part: one broadcast add
  over the window instead of several full-size operations. `flip=-1` mirrors
  u, so one definition draws both shapes of a left/right pair; `mirror`
  replaces u by |u| (both shapes in one window, cheaper when they are tiny).
  """

  def __init__(self, cv, rows: slice, cols: slice, flip: float = 1.0,
               mirror: bool = False):
    self.rows, self.cols, self.mirror = rows, cols, mirror
    self._uc = cv.u_col[:, None, cols] * np.float32(flip)
    self._ur = cv.u_row[:, rows, None] * np.float32(flip)
    self._vc = cv.v_col[:, None, cols]
    self._vr = cv.v_row[:, rows, None]
    self._u = self._v = None
    if mirror:
      self._u = np.abs(self._uc + self._ur)

  def lin(self, a, b, c):
    """a * u + b * v + c over the window (a, b, c scalars or [n, 1, 1])."""
    if self.mirror:
      if isinstance(b, float) and b == 0.0:
        out = self._u * a
      else:
        out = (b * self._vc) + (b * self._vr)
        out += self._u * a
      out += c
      return out
    if isinstance(b, float) and b == 0.0:
      return (a * self._uc) + (a * self._ur + c)
    if isinstance(a, float) and a == 0.0:
      return (b * self._vc) + (b * self._vr + c)
    return (a * self._uc + b * self._vc) + (a * self._ur + b * self._vr + c)

  @property
  def u(self):
    if self._u is None:
      self._u = self._uc + self._ur
    return self._u

  @property
  def v(self):
    if self._v is None:
      self._v = self._vc + self._vr
    return self._v


class _Canvas:
  """RGB planes plus visible-coverage masks for one chunk of faces."""

  def __init__(self, p, size: int, with_masks: bool):
    n = p["scale"].shape[0]
    self.n, self.size, self.with_masks = n, size, with_masks
    self.p = p
    flat = lambda name: p[name].reshape(n)
    self.cos, self.sin = _rotation(flat("angle"))
    self.scale = flat("scale").astype(np.float64)
    self.tx = flat("shift_x").astype(np.float64)
    self.ty = flat("shift_y").astype(np.float64)
    coords = (2.0 * np.arange(size) + 1.0) / size - 1.0  # Pixel centres.
    self.coords = coords.astype(np.float32)
    inv = 1.0 / self.scale
    c, s = self.cos * inv, self.sin * inv
    # local = R(-angle) (image - shift) / scale, split into a column part and
    # a row part so a window's grid is one broadcast add.
    self.u_col = (c[:, None] * coords).astype(np.float32)
    self.u_row = (s[:, None] * coords
                  - (c * self.tx + s * self.ty)[:, None]).astype(np.float32)
    self.v_col = (-s[:, None] * coords).astype(np.float32)
    self.v_row = (c[:, None] * coords
                  - (-s * self.tx + c * self.ty)[:, None]).astype(np.float32)
    # Local length of one pixel, for anti-aliasing.
    self.pixel = (2.0 / (size * self.scale)).astype(np.float32)[:, None, None]
    self.inv_pixel = (1.0 / self.pixel).astype(np.float32)
    self.rgb = np.empty((3, n, size, size), np.float32)
    self.masks = (np.zeros((len(ATTRIBUTES), n, size, size), np.float32)
                  if with_masks else None)
    self.live = set()

  def window(self, x0, x1, y0, y1, active=None, flip: float = 1.0,
             mirror: bool = False) -> Optional[_Window]:
    """Window covering local boxes [x0, x1] x [y0, y1] of all active faces.

    Pixels outside a shape's box get exactly zero coverage, so the window
    only decides how much work is done, never what the pixels are.
    """
    n = self.n
    xl = np.empty((4, n))
    yl = np.empty((4, n))
    xl[:2] = np.reshape(x0, (-1,))
    xl[2:] = np.reshape(x1, (-1,))
    yl[0::2] = np.reshape(y0, (-1,))
    yl[1::2] = np.reshape(y1, (-1,))
    xs = self.tx + self.scale * (self.cos * xl - self.sin * yl)
    ys = self.ty + self.scale * (self.sin * xl + self.cos * yl)
    if active is not None:
      active = np.reshape(active, (n,))
      if not active.any():
        return None
      xs, ys = xs[:, active], ys[:, active]
    half = self.size / 2.0
    c0 = max(int(np.floor((xs.min() + 1.0) * half - 0.5)) - 1, 0)
    c1 = min(int(np.ceil((xs.max() + 1.0) * half - 0.5)) + 2, self.size)
    r0 = max(int(np.floor((ys.min() + 1.0) * half - 0.5)) - 1, 0)
    r1 = min(int(np.ceil((ys.max() + 1.0) * half - 0.5)) + 2, self.size)
    if c0 >= c1 or r0 >= r1:
      return None
    return _Window(self, slice(r0, r1), slice(c0, c1), flip, mirror)

  def ellipse_alpha(self, w, cx, cy, rx, ry):
    """Coverage of an ellipse, with the distance scaling fused into one op."""
    m = np.minimum(rx, ry) * self.inv_pixel
    a = np.sqrt(_ellipse_q(w, cx, cy, rx, ry))
    a *= -m
    a += 0.5 + m
    return np.clip(a, 0.0, 1.0, out=a)

  def alpha(self, d, soft=None):
    """Coverage in [0, 1] from a signed distance (in place on d)."""
    if soft is None:
      d *= -self.inv_pixel
    else:
      d *= -1.0 / (self.pixel + soft)
    d += 0.5
    return np.clip(d, 0.0, 1.0, out=d)

  def paint(self, w: _Window, alpha, color, attrs=(), mask_alpha=None):
    """Composite `color` ([3, n, 1, 1] or [3, n, h, w]) with coverage `alpha`.

    `attrs` are the attributes this drawing belongs to: their masks gain
    `mask_alpha` (default `alpha`); the masks of earlier attributes lose what
    this drawing hides, so masks are the visible coverage.
    """
    planes = self.rgb[:, :, w.rows, w.cols]
    # All three planes in one call each: numpy call overhead matters at 64 px.
    tmp = color - planes
    tmp *= alpha
    planes += tmp
    if self.with_masks:
      self._cover(w, alpha, attrs, alpha if mask_alpha is None else mask_alpha)

  def _cover(self, w, alpha, attrs, mask_alpha):
    hidden = [k for k in self.live if k not in attrs]
    if hidden:
      keep = 1.0 - alpha
      for k in hidden:
        self.masks[k, :, w.rows, w.cols] *= keep
    for k in attrs:
      m = self.masks[k, :, w.rows, w.cols]
      m += mask_alpha * (1.0 - m)
      self.live.add(k)

  def add_mask(self, w: _Window, alpha, attr):
    """Mark a region as belonging to `attr` without drawing anything."""
    if self.with_masks:
      m = self.masks[attr, :, w.rows, w.cols]
      m += alpha * (1.0 - m)
      self.live.add(attr)


def _chunk_params(params: FaceParams) -> dict:
  """{name: float32 [n, 1, 1]} of identity, appearance and state values."""
  p = {}
  ident = params.identity
  n = ident.shape[0]
  for i, name in enumerate(IDENTITY_FIELDS):
    p[name] = ident[:, i].reshape(n, 1, 1)
  app = params.appearance
  for j, attr in enumerate(ATTRIBUTES):
    for k, field in enumerate(APPEARANCE_FIELDS[attr]):
      p[f"{attr}.{field}"] = app[:, j, k].reshape(n, 1, 1)
    p[f"{attr}.on"] = params.states[:, j].astype(np.float32).reshape(
        n, 1, 1)
  return p


def _rgb(p, prefix):
  """A colour as [3, n, 1, 1], the shape `_Canvas.paint` takes."""
  return np.stack([p[prefix + c] for c in ("_r", "_g", "_b")])


def _const(r, g, b):
  return np.array([r, g, b], np.float32).reshape(3, 1, 1, 1)


_WHITE_OF_EYE = _const(0.96, 0.95, 0.92)
_PUPIL = _const(0.04, 0.04, 0.04)
_LID = _const(0.12, 0.08, 0.07)
_MOUTH_INSIDE = _const(0.35, 0.07, 0.1)
_TEETH = _const(0.96, 0.94, 0.88)


def _paired(cv: _Canvas, cx, half_w, y0, y1, active=None):
  """Windows of a left/right pair of shapes centred at u = +-cx.

  The left window is mirrored (u -> -u) so both sides share one shape
  definition; two tight windows are much smaller than one spanning the face.
  """
  for flip in (-1.0, 1.0):
    w = cv.window(flip * cx - half_w, flip * cx + half_w, y0, y1, active,
                  flip=flip)
    if w is not None:
      yield w


def _render_chunk(p: dict, size: int, with_masks: bool) -> tuple:
  """Draw one chunk of faces; returns planar rgb [3, n, S, S] and masks."""
  cv = _Canvas(p, size, with_masks)
  on = lambda attr: p[f"{ATTRIBUTES[attr]}.on"]
  rx, ry = p["face_rx"], p["face_ry"]
  skin = _rgb(p, "skin")
  blond = on(_BLOND)
  hair = (_rgb(p, "Blond_Hair.blond") * blond
          + _rgb(p, "Blond_Hair.dark") * (1 - blond))

  # Background: a linear gradient in image (not face) coordinates.
  x_img = cv.coords
  t = (p["bg_dx"] * np.float32(0.35)) * x_img[None, None, :] + (
      p["bg_dy"] * np.float32(0.35) * x_img[None, :, None] + np.float32(0.5))
  lo = _rgb(p, "bg0")
  np.multiply(_rgb(p, "bg1") - lo, t, out=cv.rgb)
  cv.rgb += lo

  # Hair behind the head: a box with a fully rounded top, cut flat at the
  # hair length.
  vol, length = p["hair_volume"], p["hair_length"]
  top = -(ry + vol)
  hw = rx + vol
  w = cv.window(-hw, hw, top, length)
  d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -(top + length + hw)
                                                * 0.5),
                 hw, (length + hw - top) * 0.5, hw)
  np.maximum(d, w.lin(0.0, 1.0, -length), out=d)
  cv.paint(w, cv.alpha(d), hair * np.float32(0.75), (_BLOND,))

  # Neck, then shoulders in a shirt over its lower end.
  # The shirt covers the neck below ry + 0.24, so it can stop there.
  w = cv.window(-rx * 0.45, rx * 0.45, 0.2, ry + 0.3)
  if w is not None:
    d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -(ry + 0.5) * 0.5),
                   rx * 0.45, (ry + 0.1) * 0.5, 0.05)
    cv.paint(w, cv.alpha(d), skin * np.float32(0.8))
  w = cv.window(-1.05, 1.05, ry + 0.23, ry + 1.27)
  if w is not None:
    cv.paint(w, cv.ellipse_alpha(w, 0.0, ry + 0.75, 1.05, 0.52),
             _rgb(p, "shirt"))

  # Ears, then the face; the jaw narrows by stretching u below the centre,
  # and the skin darkens towards the outline.
  eye_y, eye_dx = p["eye_y"], p["eye_dx"]
  ear_rx, ear_ry = 0.055 * p["ear_size"], 0.095 * p["ear_size"]
  ear_y = eye_y + 0.07
  for w in _paired(cv, rx * 0.96, ear_rx, ear_y - ear_ry, ear_y + ear_ry):
    cv.paint(w, cv.ellipse_alpha(w, rx * 0.96, ear_y, ear_rx, ear_ry),
             skin * np.float32(0.9))
  w = cv.window(-rx, rx, -ry, ry)
  vn = w.lin(0.0, 1.0 / ry, 0.0)
  q = np.maximum(vn, 0.0)
  q *= p["jaw"] * ry
  q += 1.0
  q *= w.lin(1.0 / rx, 0.0, 0.0)
  q *= q
  vn *= vn
  q += vn
  m = np.minimum(rx, ry) * cv.inv_pixel
  face = np.sqrt(q)
  face *= -m
  face += 0.5 + m
  np.clip(face, 0.0, 1.0, out=face)
  light = np.minimum(q, 1.0, out=q)
  light *= -0.22
  light += 1.04
  cv.paint(w, face, skin * light)

  # Brows and eyes, one small window per side.
  erx, ery = p["eye_rx"], p["eye_ry"]
  brow_y = eye_y - p["brow_dy"]
  bw, arch, tilt = erx * 1.35, p["brow_arch"], p["brow_tilt"]
  brow_th = p["brow_thickness"]
  reach = np.abs(arch) + np.abs(tilt) + brow_th
  brow = _rgb(p, "brow")
  w = cv.window(-(eye_dx + bw), eye_dx + bw, brow_y - reach, brow_y + reach,
                mirror=True)
  if w is not None:
    t = w.lin(1.0 / bw, 0.0, -eye_dx / bw)
    t2 = t * t
    d = w.lin(0.0, 1.0, -brow_y)
    d -= arch * t2
    d += tilt * t
    np.abs(d, out=d)
    t2 *= 0.5
    np.subtract(1.0, t2, out=t2)
    t2 *= brow_th
    d -= t2
    np.abs(t, out=t)
    t -= 1.0
    t *= bw
    np.maximum(d, t, out=d)
    cv.paint(w, cv.alpha(d), brow)
  ir = p["iris_radius"]
  iris = _rgb(p, "iris")
  w = cv.window(-(eye_dx + erx + 0.012), eye_dx + erx + 0.012,
                eye_y - ery - 0.012, eye_y + ery + 0.012, mirror=True)
  if w is not None:
    sclera = _ellipse(w, eye_dx, eye_y, erx, ery)
    cv.paint(w, cv.alpha(sclera.copy()), _WHITE_OF_EYE)
    d = _ellipse(w, eye_dx, eye_y, ir, ir)
    np.maximum(d, sclera, out=d)
    cv.paint(w, cv.alpha(d), iris)
    d = _ellipse(w, eye_dx, eye_y, ir * 0.45, ir * 0.45)
    np.maximum(d, sclera, out=d)
    cv.paint(w, cv.alpha(d), _PUPIL)
    # Upper lid: the top half of the sclera outline.
    d = np.abs(sclera, out=sclera)
    d -= 0.011
    np.maximum(d, w.lin(0.0, 1.0, -eye_y), out=d)
    cv.paint(w, cv.alpha(d), _LID)

  # Nose: a soft shadow under the tip and two nostrils.
  nose_y, nose_w = p["nose_y"], p["nose_w"]
  nose_cy = nose_y - 0.015
  w = cv.window(-(nose_w * 1.1 + 0.03), nose_w * 1.1 + 0.03,
                nose_cy - nose_w * 0.8 - 0.03, nose_cy + nose_w * 0.8 + 0.03)
  d = _ellipse(w, 0.0, nose_cy, nose_w * 1.1, nose_w * 0.8)
  cv.paint(w, cv.alpha(d, soft=0.04), skin * np.float32(0.88))
  w = cv.window(-(nose_w * 0.55 + 0.022), nose_w * 0.55 + 0.022,
                nose_y - 0.013, nose_y + 0.013, mirror=True)
  cv.paint(w, cv.ellipse_alpha(w, nose_w * 0.55, nose_y, 0.022, 0.013),
           skin * np.float32(0.45))

  # Mouth: neutral lips, or an open smile with teeth.
  mouth_y, lip = p["mouth_y"], _rgb(p, "lip")
  smiling = on(_SMILING)
  lip_th, mw = p["lip_thickness"], p["mouth_w"]
  w = cv.window(-mw, mw, mouth_y - lip_th, mouth_y + lip_th,
                active=smiling < 1)
  if w is not None:
    d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y), mw, lip_th,
                   lip_th)
    cv.paint(w, cv.alpha(d) * (1 - smiling), lip)
    d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y), mw * 0.95,
                   0.004, 0.004)
    cv.paint(w, cv.alpha(d) * (1 - smiling), lip * np.float32(0.45))
  # The smile is an open crescent between two parabolas meeting at raised
  # corners, outlined by lips.
  sw, lift = p["Smiling.width"], p["Smiling.lift"]
  corner = mouth_y - lift
  w = cv.window(-(sw + lip_th), sw + lip_th, corner - lip_th - 0.03,
                mouth_y + p["Smiling.opening"] + lip_th, active=smiling > 0)
  if w is not None:
    t = w.lin(1.0 / sw, 0.0, 0.0)
    bulge = t * t
    np.subtract(1.0, bulge, out=bulge)
    upper = (lift + 0.004) * bulge
    upper += corner
    lower = (lift + p["Smiling.opening"]) * bulge
    lower += corner
    v = w.v
    inner = np.maximum(upper - v, v - lower)
    np.abs(t, out=t)
    t -= 1.0
    t *= sw
    np.maximum(inner, t, out=inner)
    cv.paint(w, cv.alpha(inner - lip_th * 0.8) * smiling, lip)
    cv.paint(w, cv.alpha(inner.copy()) * smiling, _MOUTH_INSIDE)
    upper += p["Smiling.teeth"]
    np.maximum(inner, np.subtract(v, upper, out=upper), out=inner)
    inner += (p["Smiling.teeth"] <= 0) * np.float32(10.0)
    cv.paint(w, cv.alpha(inner) * smiling, _TEETH)
  if with_masks:
    # The smile mask is a fixed region around the mouth: the mouth exists in
    # both states and only changes shape inside it.
    w = cv.window(-0.26, 0.26, mouth_y - 0.09, mouth_y + 0.12)
    d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y - 0.015),
                   0.26, 0.105, 0.05)
    cv.add_mask(w, cv.alpha(d), _SMILING)

  # Mustache: a band under the nose that thins and droops towards its ends.
  mus = on(_MUSTACHE)
  mus_w, mus_th, droop = (p["Mustache.width"], p["Mustache.thickness"],
                          p["Mustache.droop"])
  mus_top = nose_y + 0.04 - p["Mustache.lift"]
  w = cv.window(-mus_w, mus_w, mus_top + np.minimum(droop, 0.0) - 0.005,
                mus_top + 2 * mus_th + np.maximum(droop, 0.0) + 0.005,
                active=mus > 0)
  if w is not None:
    t = w.lin(1.0 / mus_w, 0.0, 0.0)
    t2 = t * t
    d = w.lin(0.0, 1.0, -(mus_top + mus_th))
    d -= droop * t2
    np.abs(d, out=d)
    t2 *= -0.55 * mus_th
    t2 += mus_th
    d -= t2
    np.abs(t, out=t)
    t -= 1.0
    t *= mus_w
    np.maximum(d, t, out=d)
    cv.paint(w, cv.alpha(d) * mus, _rgb(p, "Mustache.color"), (_MUSTACHE,))

  # Hair over the top of the head down to a hairline that dips at the
  # temples, then the bangs below it.
  hl0 = -ry * p["hairline"]
  temple_y = eye_y - p["temple"]
  dip = temple_y - hl0
  w = cv.window(-(rx + 0.02), rx + 0.02, -(ry + 0.02), temple_y + 0.03)
  t = w.lin(1.0 / rx, 0.0, 0.0)
  t *= t
  t *= -dip
  t += w.lin(0.0, 1.0, -hl0)
  d = _ellipse(w, 0.0, 0.0, rx + 0.02, ry + 0.02)
  np.maximum(d, t, out=d)
  cv.paint(w, cv.alpha(d), hair, (_BLOND,))
  bangs = on(_BANGS)
  fringe = brow_y + 0.01 - p["Bangs.length"]
  slant, arch = p["Bangs.slant"], p["Bangs.arch"]
  lowest = (fringe + np.abs(slant) * 0.55 + np.maximum(arch, 0.0) * 0.3
            + p["Bangs.jag_amplitude"])
  w = cv.window(-(rx + 0.03), rx + 0.03, hl0 - 0.04, lowest, active=bangs > 0)
  if w is not None:
    u = w.u
    # Below the hairline (raised a little so bangs overlap the cap)...
    t = u * u
    t *= dip / (rx * rx)
    t -= w.lin(0.0, 1.0, -(hl0 - 0.04))
    # ... above the fringe edge: slanted, arched and possibly jagged ...
    bottom = u * (arch * u + slant)
    bottom -= w.lin(0.0, 1.0, -fringe)
    bottom *= -1.0
    jag = _tri(w.lin(p["Bangs.jag_frequency"], 0.0, p["Bangs.jag_phase"]))
    jag *= p["Bangs.jag_amplitude"]
    bottom -= jag
    np.maximum(t, bottom, out=t)
    # ... and inside the head.
    np.maximum(t, _ellipse(w, 0.0, 0.0, rx + 0.03, ry + 0.03), out=t)
    strands = _tri(w.lin(p["Bangs.strand_frequency"], 0.0, 0.0))
    strands *= -0.2
    strands += 1.0
    alpha = cv.alpha(t)
    alpha *= bangs
    cv.paint(w, alpha, hair * strands, (_BANGS, _BLOND))

  # Eyeglasses: tinted lenses, then the frame (rims, bridge and arms).
  glasses = on(_GLASSES)
  a = p["Eyeglasses.lens_w"]
  b = a * p["Eyeglasses.lens_aspect"]
  fw = p["Eyeglasses.frame_width"]
  lens_y = eye_y + 0.005
  x_in = eye_dx + a
  x_out = rx * np.sqrt(np.maximum(1.0 - (eye_y / ry) ** 2, 0.0)) + 0.01
  reach = np.maximum(x_out, x_in + fw)
  w = cv.window(-reach, reach, lens_y - b - fw, lens_y + b + fw,
                active=glasses > 0)
  if w is not None:
    au = np.abs(w.u)
    lens = _round_box(au - eye_dx, w.lin(0.0, 1.0, -lens_y), a, b,
                      p["Eyeglasses.lens_roundness"] * np.minimum(a, b))
    lens_alpha = cv.alpha(lens.copy())
    lens_alpha *= glasses
    cv.paint(w, lens_alpha * p["Eyeglasses.tint_alpha"],
             _rgb(p, "Eyeglasses.tint"), (_GLASSES,), mask_alpha=lens_alpha)
    d = np.abs(lens, out=lens)
    d -= fw * 0.5
    bridge_y = eye_y - b * p["Eyeglasses.bridge_height"]
    bridge = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -bridge_y),
                        eye_dx - a + fw, fw * 0.45, 0.0)
    np.minimum(d, bridge, out=d)
    # Arms run from the outer rim to the side of the face.
    au -= (x_in + x_out) * 0.5
    arm = _round_box(au, w.lin(0.0, 1.0, -(eye_y - b * 0.5)),
                     np.maximum(x_out - x_in, 0.0) * 0.5, fw * 0.4, 0.0)
    arm += (x_out <= x_in) * np.float32(10.0)
    np.minimum(d, arm, out=d)
    alpha = cv.alpha(d)
    alpha *= glasses
    cv.paint(w, alpha, _rgb(p, "Eyeglasses.frame"), (_GLASSES,))

  # Hat: a crown cut flat at its base, an optional band and an optional brim.
  hat = on(_HAT)
  base = -ry * p["Wearing_Hat.base"]
  crown_top = top - p["Wearing_Hat.crown_extra"]
  cw = (rx + vol * 0.7) * p["Wearing_Hat.crown_width"]
  r = p["Wearing_Hat.roundness"] * np.minimum(cw, base - crown_top)
  hat_rgb = _rgb(p, "Wearing_Hat.color")
  band_h = p["Wearing_Hat.band_height"]

  def crown(w):
    # The box extends r below the base so that its bottom corners are square.
    d = _round_box(w.lin(1.0, 0.0, 0.0),
                   w.lin(0.0, 1.0, -(crown_top + base + r) * 0.5), cw,
                   (base + r - crown_top) * 0.5, r)
    return np.maximum(d, w.lin(0.0, 1.0, -base), out=d)

  w = cv.window(-cw, cw, crown_top, base, active=hat > 0)
  if w is not None:
    alpha = cv.alpha(crown(w))
    alpha *= hat
    cv.paint(w, alpha, hat_rgb, (_HAT,))
  w = cv.window(-cw, cw, base - band_h, base, active=(hat * band_h) > 0)
  if w is not None:
    d = crown(w)
    np.maximum(d, w.lin(0.0, -1.0, base - band_h), out=d)
    # A zero-height band would still anti-alias into a half-pixel line.
    d += (band_h <= 0) * np.float32(10.0)
    alpha = cv.alpha(d)
    alpha *= hat
    cv.paint(w, alpha, hat_rgb * p["Wearing_Hat.band_shade"], (_HAT,))
  bw = cw * p["Wearing_Hat.brim_width"]
  bt = p["Wearing_Hat.brim_thickness"]
  brim_y = base - bt * 0.3
  w = cv.window(-bw, bw, brim_y - bt, brim_y + bt, active=(hat * bw) > 0)
  if w is not None:
    d = _round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -brim_y), bw, bt, bt)
    d += (bw <= 0) * np.float32(10.0)
    alpha = cv.alpha(d)
    alpha *= hat
    cv.paint(w, alpha, hat_rgb * np.float32(0.82), (_HAT,))

  # Lighting (overall gain plus a directional gradient across the image),
  # folded into the mapping to [-1, 1].
  gain = (np.float32(2.0) * p["light_x"]) * x_img[None, None, :] + (
      np.float32(2.0) * (p["light_y"] * x_img[None, :, None] + p["light_gain"]))
  cv.rgb *= gain
  cv.rgb -= 1.0
  np.clip(cv.rgb, -1.0, 1.0, out=cv.rgb)
  return cv.rgb, cv.masks


def _render(params: FaceParams, image_size: int, with_masks: bool):
  if not MIN_IMAGE_SIZE <= int(image_size) <= MAX_IMAGE_SIZE:
    raise ValueError(f"image_size must be in [{MIN_IMAGE_SIZE}, "
                     f"{MAX_IMAGE_SIZE}], got {image_size}")
  size = int(image_size)
  n = len(params)
  images = np.empty((n, size, size, 3), np.float32)
  masks = (np.empty((n, size, size, len(ATTRIBUTES)), np.float32)
           if with_masks else None)
  # Chunks of ~128k pixels balance numpy call overhead against cache misses.
  chunk = max(1, (1 << 17) // (size * size))
  # Faces at similar positions share a chunk so that the chunk's windows (the
  # union over its faces) stay tight: sort by height, then by horizontal
  # position within runs of four chunks. Pixels never depend on the grouping.
  order = np.argsort(params.identity[:, _ID_COLUMN["shift_y"]], kind="stable")
  shift_x = params.identity[:, _ID_COLUMN["shift_x"]]
  run = 4 * chunk
  for start in range(0, n, run):
    part = order[start:start + run]
    order[start:start + run] = part[np.argsort(shift_x[part], kind="stable")]
  for start in range(0, n, chunk):
    members = order[start:start + chunk]
    rgb, m = _render_chunk(_chunk_params(params.take(members)), size,
                           with_masks)
    images[members] = np.moveaxis(rgb, 0, -1)
    if with_masks:
      masks[members] = np.moveaxis(m, 0, -1)
  return images, masks


def render_faces(params: FaceParams,
                 image_size: int) -> tuple[np.ndarray, np.ndarray]:
  """Render faces and their per-attribute masks.

  Returns:
    images: float32 [N, S, S, 3] in [-1, 1].
    masks: float32 [N, S, S, len(ATTRIBUTES)] in [0, 1]; mask j is the
      visible coverage of attribute j's drawing (zero where it is absent). For
      Smiling it is the mouth region and for Blond_Hair the hair, in both
      states, since those attributes change shape or colour rather than
      appear.
  """
  return _render(params, image_size, with_masks=True)


def render_photo(index: int, face_size: int = 256, pad: tuple = (60, 40, 120, 30),
                 seed: int = 0) -> tuple:
  """A stand-in for a person's photo: wild face `index` of `seed` rendered at
  `face_size` and padded by (top, bottom, left, right) pixels that repeat its edges.

  Returns (uint8 [H, W, 3] photo, float32 [5, 2] exact landmarks in it), for the
  detector, paste-back and photo-editing tests and benchmarks.
  """
  params = sample_faces(seed, [index], layout="wild")
  # The renderer stops at MAX_IMAGE_SIZE; a larger face (a high-resolution photo) is
  # rendered at that size and enlarged bilinearly.
  rendered = min(face_size, MAX_IMAGE_SIZE)
  image, _ = render_faces(params, rendered)
  landmarks = landmarks_of(params, rendered)[0].astype(np.float64)
  if face_size != rendered:
    image = tf.image.resize(image, [face_size, face_size]).numpy()
    # Pixel centres scale about -0.5 (tf.image.resize's half-pixel convention).
    landmarks = (landmarks + 0.5) * (face_size / rendered) - 0.5
  pixels = np.clip((image[0] + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
  top, bottom, left, right = pad
  photo = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge")
  return photo, (landmarks + np.array([left, top])).astype(np.float32)


# ---------------------------------------------------------------------------
# FaceSource.


class SyntheticFaces(face_source.FaceSource):
  """The procedural faces as a FaceSource with disjoint train/val/test splits."""

  def __init__(self, image_size: int, seed: int = 0,
               split_sizes: Optional[Mapping] = None,
               attribute_frequencies: Optional[Mapping] = None,
               layout: str = DEFAULT_LAYOUT):
    if not MIN_IMAGE_SIZE <= int(image_size) <= MAX_IMAGE_SIZE:
      raise ValueError(f"image_size must be in [{MIN_IMAGE_SIZE}, "
                       f"{MAX_IMAGE_SIZE}], got {image_size}")
    super().__init__(ATTRIBUTES, image_size)
    self.seed = int(seed)
    self.layout = _check_layout(layout)
    self.split_sizes = dict(DEFAULT_SPLIT_SIZES)
    for split, size in (split_sizes or {}).items():
      self.check_split(split)
      if not 0 < int(size) <= 10**9:
        raise ValueError(f"size of split {split!r} must be in [1, 1e9], "
                         f"got {size}")
      self.split_sizes[split] = int(size)
    self.attribute_frequencies = dict(
        zip(ATTRIBUTES, _check_frequencies(attribute_frequencies)))
    self._frequencies = _check_frequencies(attribute_frequencies)
    self._labels = {}

  def _global(self, split: str, indices) -> np.ndarray:
    self.check_split(split)
    indices = np.asarray(indices, np.int64).reshape(-1)
    size = self.split_sizes[split]
    if indices.size and (indices.min() < 0 or indices.max() >= size):
      raise ValueError(f"indices of split {split!r} must be in [0, {size})")
    return indices + SPLIT_BASES[split]

  def params(self, split: str, indices) -> FaceParams:
    """FaceParams of split-local `indices`."""
    return sample_faces(self.seed, self._global(split, indices),
                        self.attribute_frequencies, self.layout)

  def labels(self, split: str) -> np.ndarray:
    self.check_split(split)
    if split not in self._labels:
      ids = self._global(split, np.arange(self.split_sizes[split]))
      self._labels[split] = _sample_states(
          self.seed, ids, self._frequencies).astype(np.uint8)
    return self._labels[split]

  def batches(self, split: str, indices: tf.data.Dataset, batch_size: int,
              deterministic: bool = True) -> tf.data.Dataset:
    self.check_split(split)
    size, n = self.image_size, len(ATTRIBUTES)

    def render(idx):
      params = self.params(split, idx)
      images, _ = _render(params, size, with_masks=False)
      return images, labels_of(params).astype(np.float32)

    def to_batch(idx):
      images, labels = tf.numpy_function(render, [idx],
                                         [tf.float32, tf.float32],
                                         stateful=False)
      images.set_shape([batch_size, size, size, 3])
      labels.set_shape([batch_size, n])
      return images, labels

    ds = indices.map(lambda i: tf.cast(i, tf.int64))
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=deterministic)


_OPTIONS = ("seed", "attribute_frequencies", "split_sizes")


def open_source(argument: str, image_size: int, **options) -> SyntheticFaces:
  """Entry point for `--data=synthetic[:LAYOUT]` (see pipelines.data_spec).

  `synthetic` and `synthetic:aligned` are the aligned faces, `synthetic:wild`
  the unaligned ones.
  """
  if argument and argument not in LAYOUTS:
    raise ValueError(f"--data=synthetic:{argument} names no layout; valid: "
                     + ", ".join(f"synthetic:{name}" for name in LAYOUTS))
  unknown = sorted(k for k, v in options.items()
                   if k not in _OPTIONS and v is not None)
  if unknown:
    raise ValueError(f"unknown options for synthetic data: {unknown}; valid "
                     f"options: {', '.join(_OPTIONS)}")
  seed = options.get("seed")
  return SyntheticFaces(image_size, seed=0 if seed is None else seed,
                        split_sizes=options.get("split_sizes"),
                        attribute_frequencies=options.get(
                            "attribute_frequencies"),
                        layout=argument or DEFAULT_LAYOUT)
