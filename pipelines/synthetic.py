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
import zlib
from typing import Iterable, Mapping, Optional

import numpy as np
import tensorflow as tf

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
  c["eye_y"] = draw.range("eye_y", -0.10, -0.04)
  c["eye_dx"] = draw.range("eye_dx", 0.165, 0.205)
  c["eye_rx"] = draw.range("eye_rx", 0.075, 0.092)
  c["eye_ry"] = c["eye_rx"] * draw.range("eye_aspect", 0.55, 0.72)
  c["iris_radius"] = c["eye_rx"] * draw.range("iris_frac", 0.48, 0.6)
  c["iris_r"], c["iris_g"], c["iris_b"] = draw.pick("iris", _IRIS, 0.05).T
  c["brow_dy"] = draw.range("brow_dy", 0.095, 0.125)
  c["brow_thickness"] = draw.range("brow_thickness", 0.015, 0.026)
  c["brow_arch"] = draw.range("brow_arch", -0.01, 0.04)
  c["brow_tilt"] = draw.range("brow_tilt", -0.02, 0.03)
  c["brow_r"], c["brow_g"], c["brow_b"] = draw.pick("brow", _BROW, 0.04).T
  c["nose_y"] = draw.range("nose_y", 0.10, 0.14)
  c["nose_w"] = draw.range("nose_w", 0.045, 0.07)
  c["mouth_y"] = draw.range("mouth_y", 0.28, 0.32)
  c["mouth_w"] = draw.range("mouth_w", 0.09, 0.13)
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
  g["frame_width"] = draw.range("glasses/frame_width", 0.026, 0.05)
  g["frame_r"], g["frame_g"], g["frame_b"] = draw.pick(
      "glasses/frame", _FRAMES, 0.06).T
  # About 40% of glasses are sunglasses; clear lenses get a faint sheen so
  # that the lens area is still visibly part of the drawing.
  sunglasses = draw.u("glasses/sunglasses") < 0.4
  g["tint_alpha"] = np.where(sunglasses,
                             draw.range("glasses/tint_alpha", 0.55, 0.85),
                             0.15)
  tint = np.where(sunglasses[:, None], draw.pick("glasses/tint", _TINTS, 0.04),
                  np.array([[0.88, 0.93, 0.98]]))
  g["tint_r"], g["tint_g"], g["tint_b"] = tint.T
  g["bridge_height"] = draw.range("glasses/bridge_height", 0.0, 0.6)

  b = a["Bangs"]
  b["length"] = draw.range("bangs/length", -0.02, 0.1)
  b["slant"] = draw.range("bangs/slant", -0.3, 0.3)
  b["arch"] = draw.range("bangs/arch", -0.4, 0.8)
  b["jag_amplitude"] = np.maximum(draw.range("bangs/jag", -0.03, 0.07), 0.0)
  b["jag_frequency"] = draw.range("bangs/jag_frequency", 5.0, 11.0)
  b["jag_phase"] = draw.u("bangs/jag_phase")
  b["strand_frequency"] = draw.range("bangs/strand_frequency", 14.0, 28.0)

  s = a["Smiling"]
  s["width"] = draw.range("smile/width", 0.13, 0.19)
  s["lift"] = draw.range("smile/lift", 0.02, 0.06)
  s["opening"] = draw.range("smile/opening", 0.035, 0.075)
  s["teeth"] = np.maximum(draw.range("smile/teeth", -0.01, 0.03), 0.0)

  m = a["Mustache"]
  m["thickness"] = draw.range("mustache/thickness", 0.022, 0.04)
  m["width"] = draw.range("mustache/width", 0.1, 0.17)
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
  t["base"] = draw.range("hat/base", 0.5, 0.72)
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


def sample_faces(seed: int, indices: np.ndarray,
                 attribute_frequencies: Optional[Mapping] = None) -> FaceParams:
  """Sample the faces with global `indices` of `seed` (deterministic per index).

  Args:
    seed: any integer.
    indices: int array [N] of global face indices (>= 0).
    attribute_frequencies: {attribute name: probability}; missing names keep
      0.5. Unknown names raise ValueError.
  """
  freqs = _check_frequencies(attribute_frequencies)
  indices = np.asarray(indices, np.int64).reshape(-1)
  draw = _Draw(seed, indices)
  ident = _sample_identity(draw)
  identity = np.stack([ident[f] for f in IDENTITY_FIELDS], axis=1)
  app = _sample_appearance(draw)
  appearance = np.zeros((len(indices), len(ATTRIBUTES), _NUM_APPEARANCE))
  for j, name in enumerate(ATTRIBUTES):
    for k, field in enumerate(APPEARANCE_FIELDS[name]):
      appearance[:, j, k] = app[name][field]
  return FaceParams(identity=identity.astype(np.float32),
                    appearance=appearance.astype(np.float32),
                    states=_sample_states(seed, indices, freqs))


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


def _ellipse(u, v, cx, cy, rx, ry):
  """Approximate signed distance to an ellipse (and the normalised radius^2).

  Scaling the normalised radius by the smaller semi-axis never underestimates
  the edge width, so edges stay at least one pixel soft.
  """
  a = (u - cx) / rx
  a *= a
  b = (v - cy) / ry
  b *= b
  a += b
  q = a
  d = np.sqrt(q)
  d -= 1.0
  d *= np.minimum(rx, ry)
  return d, q


def _round_box(u, v, cx, cy, hx, hy, r):
  """Exact signed distance to a box with half sizes (hx, hy) and corner radius r."""
  qx = np.abs(u - cx)
  qx -= hx - r
  qy = np.abs(v - cy)
  qy -= hy - r
  inside = np.minimum(np.maximum(qx, qy), 0.0)
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
  """A rectangular pixel window with the face-local coordinates of its pixels."""

  def __init__(self, rows, cols, u, v):
    self.rows, self.cols, self.u, self.v = rows, cols, u, v


class _Canvas:
  """RGB planes plus visible-coverage masks for one chunk of faces."""

  def __init__(self, p, size: int, with_masks: bool):
    n = p["scale"].shape[0]
    self.n, self.size, self.with_masks = n, size, with_masks
    self.p = p
    flat = lambda name: p[name].reshape(n)
    theta = flat("angle").astype(np.float64)
    # Polynomial sin/cos: small angles, and plain arithmetic keeps results
    # bit-identical however the batch is laid out.
    t2 = theta * theta
    self.cos = 1 - t2 / 2 + t2 * t2 / 24 - t2 * t2 * t2 / 720
    self.sin = theta * (1 - t2 / 6 + t2 * t2 / 120 - t2 * t2 * t2 / 5040)
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

  def window(self, x0, x1, y0, y1, active=None) -> Optional[_Window]:
    """Window covering local boxes [x0, x1] x [y0, y1] of all active faces."""
    n = self.n
    corners_x, corners_y = [], []
    for xl in (x0, x1):
      for yl in (y0, y1):
        xl_ = np.broadcast_to(np.asarray(xl, np.float64).reshape(-1), (n,))
        yl_ = np.broadcast_to(np.asarray(yl, np.float64).reshape(-1), (n,))
        corners_x.append(self.tx + self.scale * (self.cos * xl_ - self.sin * yl_))
        corners_y.append(self.ty + self.scale * (self.sin * xl_ + self.cos * yl_))
    xs, ys = np.stack(corners_x), np.stack(corners_y)
    if active is not None:
      active = np.asarray(active).reshape(n)
      if not active.any():
        return None
      xs, ys = xs[:, active], ys[:, active]
    to_pixel = lambda t: (t + 1.0) * (self.size / 2.0) - 0.5
    c0 = max(int(np.floor(to_pixel(xs.min()))) - 1, 0)
    c1 = min(int(np.ceil(to_pixel(xs.max()))) + 2, self.size)
    r0 = max(int(np.floor(to_pixel(ys.min()))) - 1, 0)
    r1 = min(int(np.ceil(to_pixel(ys.max()))) + 2, self.size)
    if c0 >= c1 or r0 >= r1:
      return None
    u = self.u_col[:, None, c0:c1] + self.u_row[:, r0:r1, None]
    v = self.v_col[:, None, c0:c1] + self.v_row[:, r0:r1, None]
    return _Window(slice(r0, r1), slice(c0, c1), u, v)

  def full(self) -> _Window:
    return self.window(-10.0, 10.0, -10.0, 10.0)

  def alpha(self, d, soft=None):
    """Coverage in [0, 1] from a signed distance (in place on d)."""
    if soft is None:
      d *= -self.inv_pixel
    else:
      d *= -1.0 / (self.pixel + soft)
    d += 0.5
    return np.clip(d, 0.0, 1.0, out=d)

  def paint(self, w: _Window, alpha, color, attrs=(), mask_alpha=None):
    """Composite `color` over the canvas with coverage `alpha`.

    `attrs` are the attributes this drawing belongs to: their masks gain
    `mask_alpha` (default `alpha`); the masks of earlier attributes lose what
    this drawing hides, so masks are the visible coverage.
    """
    tmp = np.empty_like(alpha)
    for ch in range(3):
      plane = self.rgb[ch, :, w.rows, w.cols]
      np.subtract(color[ch], plane, out=tmp)
      tmp *= alpha
      plane += tmp
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


def _chunk_params(params: FaceParams, start: int, stop: int) -> dict:
  """{name: float32 [n, 1, 1]} of identity, appearance and state values."""
  p = {}
  ident = params.identity[start:stop]
  n = ident.shape[0]
  for i, name in enumerate(IDENTITY_FIELDS):
    p[name] = ident[:, i].reshape(n, 1, 1)
  app = params.appearance[start:stop]
  for j, attr in enumerate(ATTRIBUTES):
    for k, field in enumerate(APPEARANCE_FIELDS[attr]):
      p[f"{attr}.{field}"] = app[:, j, k].reshape(n, 1, 1)
    p[f"{attr}.on"] = params.states[start:stop, j].astype(np.float32).reshape(
        n, 1, 1)
  return p


def _rgb(p, prefix, scale=1.0):
  return [p[prefix + c] * np.float32(scale) for c in ("_r", "_g", "_b")]


def _render_chunk(p: dict, size: int, with_masks: bool):
  cv = _Canvas(p, size, with_masks)
  on = lambda attr: p[f"{ATTRIBUTES[attr]}.on"]
  rx, ry = p["face_rx"], p["face_ry"]
  skin = _rgb(p, "skin")
  blond = on(_BLOND)
  hair = [p[f"Blond_Hair.blond_{c}"] * blond + p[f"Blond_Hair.dark_{c}"]
          * (1 - blond) for c in "rgb"]

  # Background: a linear gradient in image (not face) coordinates.
  w = cv.full()
  x_img, gx, gy = cv.coords, p["bg_dx"], p["bg_dy"]
  t = gx * x_img[None, None, :] + gy * x_img[None, :, None]
  t *= 0.35
  t += 0.5
  for ch, c in enumerate("rgb"):
    lo, hi = p[f"bg0_{c}"], p[f"bg1_{c}"]
    np.multiply(hi - lo, t, out=cv.rgb[ch])
    cv.rgb[ch] += lo

  # Hair behind the head: the top of an ellipse, extended down by a box for
  # longer hair.
  vol, length = p["hair_volume"], p["hair_length"]
  w = cv.window(-(rx + vol), rx + vol, -(ry + vol), np.maximum(length, 0) + 0.02)
  d = _ellipse(w.u, w.v, 0.0, 0.0, rx + vol, ry + vol)[0]
  np.maximum(d, w.v - length, out=d)
  half = np.maximum(length, 0.0) * 0.5
  box = _round_box(w.u, w.v, 0.0, half, rx + vol * 0.8, half,
                   np.minimum(0.12, half))
  box += (length <= 0) * np.float32(10.0)
  np.minimum(d, box, out=d)
  cv.paint(w, cv.alpha(d), [c * np.float32(0.75) for c in hair], (_BLOND,))

  # Neck, then shoulders in a shirt over its lower end.
  w = cv.window(-rx * 0.5, rx * 0.5, 0.2, 2.0)
  if w is not None:
    d = _round_box(w.u, w.v, 0.0, 1.1, rx * 0.45, 0.9, 0.05)
    cv.paint(w, cv.alpha(d), [c * np.float32(0.8) for c in skin])
  w = cv.window(-1.1, 1.1, ry + 0.15, 2.0)
  if w is not None:
    d = _ellipse(w.u, w.v, 0.0, ry + 0.75, 1.05, 0.52)[0]
    cv.paint(w, cv.alpha(d), _rgb(p, "shirt"))

  # Ears and face.
  ear = p["ear_size"]
  w = cv.window(-(rx + 0.09), rx + 0.09, -ry - 0.01, ry + 0.01)
  au = np.abs(w.u)
  d = _ellipse(au, w.v, rx * 0.96, p["eye_y"] + 0.07, 0.055 * ear,
               0.095 * ear)[0]
  cv.paint(w, cv.alpha(d), [c * np.float32(0.9) for c in skin])
  # The jaw narrows by widening u below the centre line.
  squeeze = np.maximum(w.v, 0.0)
  squeeze *= p["jaw"]
  squeeze += 1.0
  squeeze *= w.u
  d, q = _ellipse(squeeze, w.v, 0.0, 0.0, rx, ry)
  shade = np.minimum(q, 1.0)
  shade *= -0.22
  shade += 1.04
  cv.paint(w, cv.alpha(d), [c * shade for c in skin])

  eye_y, eye_dx = p["eye_y"], p["eye_dx"]
  erx, ery = p["eye_rx"], p["eye_ry"]
  brow_y = eye_y - p["brow_dy"]

  # Eye band: brows and eyes, both sides at once through |u|.
  w = cv.window(-(rx + 0.05), rx + 0.05, eye_y - 0.3, eye_y + 0.17)
  au = np.abs(w.u)
  bw = erx * 1.35
  t = (au - eye_dx) / bw
  centre = brow_y + p["brow_arch"] * (t * t) - p["brow_tilt"] * t
  d = np.abs(w.v - centre)
  d -= p["brow_thickness"] * (1.0 - 0.5 * t * t)
  np.maximum(d, np.abs(au - eye_dx) - bw, out=d)
  cv.paint(w, cv.alpha(d), _rgb(p, "brow"))
  sclera = _ellipse(au, w.v, eye_dx, eye_y, erx, ery)[0]
  cv.paint(w, cv.alpha(sclera.copy()), [np.float32(0.96), np.float32(0.95),
                                        np.float32(0.92)])
  ir = p["iris_radius"]
  d = _ellipse(au, w.v, eye_dx, eye_y, ir, ir)[0]
  np.maximum(d, sclera, out=d)
  cv.paint(w, cv.alpha(d), _rgb(p, "iris"))
  d = _ellipse(au, w.v, eye_dx, eye_y, ir * 0.45, ir * 0.45)[0]
  np.maximum(d, sclera, out=d)
  cv.paint(w, cv.alpha(d), [np.float32(0.04)] * 3)
  d = np.abs(sclera)
  d -= 0.011
  np.maximum(d, w.v - eye_y, out=d)
  cv.paint(w, cv.alpha(d), [np.float32(0.12), np.float32(0.08),
                            np.float32(0.07)])

  # Nose, mouth (neutral or smiling) and mustache.
  nose_y, nose_w = p["nose_y"], p["nose_w"]
  mouth_y = p["mouth_y"]
  w = cv.window(-0.27, 0.27, nose_y - 0.1, mouth_y + 0.14)
  au = np.abs(w.u)
  d = _ellipse(w.u, w.v, 0.0, nose_y - 0.015, nose_w * 1.1, nose_w * 0.8)[0]
  cv.paint(w, cv.alpha(d, soft=0.04), [c * np.float32(0.88) for c in skin])
  d = _ellipse(au, w.v, nose_w * 0.55, nose_y, 0.022, 0.013)[0]
  cv.paint(w, cv.alpha(d), [c * np.float32(0.45) for c in skin])

  lip = _rgb(p, "lip")
  smiling = on(_SMILING)
  lip_th = p["lip_thickness"]
  d = _round_box(w.u, w.v, 0.0, mouth_y, p["mouth_w"], lip_th, lip_th)
  cv.paint(w, cv.alpha(d) * (1 - smiling), lip)
  d = _round_box(w.u, w.v, 0.0, mouth_y, p["mouth_w"] * 0.95, 0.004, 0.004)
  cv.paint(w, cv.alpha(d) * (1 - smiling), [c * np.float32(0.45) for c in lip])
  # Smile: an open crescent between two parabolas meeting at raised corners.
  sw, lift = p["Smiling.width"], p["Smiling.lift"]
  t = w.u / sw
  bulge = 1.0 - t * t
  corner = mouth_y - lift
  upper = corner + (lift + 0.004) * bulge
  lower = corner + (lift + p["Smiling.opening"]) * bulge
  inner = np.maximum(upper - w.v, w.v - lower)
  np.maximum(inner, au - sw, out=inner)
  cv.paint(w, cv.alpha(inner - lip_th * 0.8) * smiling, lip)
  cv.paint(w, cv.alpha(inner.copy()) * smiling,
           [np.float32(0.35), np.float32(0.07), np.float32(0.1)])
  d = np.maximum(inner, w.v - upper - p["Smiling.teeth"])
  cv.paint(w, cv.alpha(d) * smiling, [np.float32(0.96), np.float32(0.94),
                                      np.float32(0.88)])
  # The smile mask is a fixed region around the mouth: the mouth exists in
  # both states and only changes shape inside it.
  d = _round_box(w.u, w.v, 0.0, mouth_y + 0.015, 0.235, 0.105, 0.05)
  cv.add_mask(w, cv.alpha(d), _SMILING)

  mw = p["Mustache.width"]
  t = w.u / mw
  t *= t
  top = nose_y + 0.04 - p["Mustache.lift"]
  centre = top + p["Mustache.thickness"] + p["Mustache.droop"] * t
  d = np.abs(w.v - centre)
  d -= p["Mustache.thickness"] * (1.0 - 0.55 * t)
  np.maximum(d, au - mw, out=d)
  cv.paint(w, cv.alpha(d) * on(_MUSTACHE), _rgb(p, "Mustache.color"),
           (_MUSTACHE,))

  # Hair over the top of the head, then the bangs.
  hl0 = -ry * p["hairline"]
  temple_y = eye_y - p["temple"]
  w = cv.window(-(rx + 0.04), rx + 0.04, -(ry + 0.04), eye_y + 0.05)
  t = w.u / rx
  hairline = hl0 + (temple_y - hl0) * (t * t)
  d = _ellipse(w.u, w.v, 0.0, 0.0, rx + 0.02, ry + 0.02)[0]
  np.maximum(d, w.v - hairline, out=d)
  cv.paint(w, cv.alpha(d), hair, (_BLOND,))
  bottom = (brow_y + 0.01 - p["Bangs.length"] + p["Bangs.slant"] * w.u
            + p["Bangs.arch"] * (w.u * w.u))
  bottom += p["Bangs.jag_amplitude"] * _tri(w.u * p["Bangs.jag_frequency"]
                                            + p["Bangs.jag_phase"])
  d = _ellipse(w.u, w.v, 0.0, 0.0, rx + 0.03, ry + 0.03)[0]
  np.maximum(d, w.v - bottom, out=d)
  np.maximum(d, hairline - 0.04 - w.v, out=d)
  strands = _tri(w.u * p["Bangs.strand_frequency"])
  strands *= -0.2
  strands += 1.0
  cv.paint(w, cv.alpha(d) * on(_BANGS), [c * strands for c in hair],
           (_BANGS, _BLOND))

  # Eyeglasses: tinted lenses, then the frame (rims, bridge and arms).
  a = p["Eyeglasses.lens_w"]
  b = a * p["Eyeglasses.lens_aspect"]
  fw = p["Eyeglasses.frame_width"]
  glasses = on(_GLASSES)
  w = cv.window(-(rx + 0.05), rx + 0.05, eye_y - 0.3, eye_y + 0.17)
  au = np.abs(w.u)
  lens = _round_box(au, w.v, eye_dx, eye_y + 0.005, a, b,
                    p["Eyeglasses.lens_roundness"] * np.minimum(a, b))
  lens_alpha = cv.alpha(lens.copy()) * glasses
  cv.paint(w, lens_alpha * p["Eyeglasses.tint_alpha"],
           _rgb(p, "Eyeglasses.tint"), (_GLASSES,), mask_alpha=lens_alpha)
  d = np.abs(lens)
  d -= fw * 0.5
  bridge_y = eye_y - b * p["Eyeglasses.bridge_height"]
  np.minimum(d, _round_box(w.u, w.v, 0.0, bridge_y, eye_dx - a + fw, fw * 0.45,
                           0.0), out=d)
  # Arms run from the outer rim to the side of the face.
  x_in = eye_dx + a
  x_out = rx * np.sqrt(np.maximum(1.0 - (eye_y / ry) ** 2, 0.0)) + 0.01
  arm = _round_box(au, w.v, (x_in + x_out) * 0.5, eye_y - b * 0.5,
                   np.maximum(x_out - x_in, 0.0) * 0.5, fw * 0.4, 0.0)
  np.minimum(d, arm, out=d)
  cv.paint(w, cv.alpha(d) * glasses, _rgb(p, "Eyeglasses.frame"), (_GLASSES,))

  # Hat: a crown cut flat at its base, an optional band and an optional brim.
  hat = on(_HAT)
  base = -ry * p["Wearing_Hat.base"]
  crown_top = -(ry + vol) - p["Wearing_Hat.crown_extra"]
  cw = (rx + vol * 0.7) * p["Wearing_Hat.crown_width"]
  bw = cw * p["Wearing_Hat.brim_width"]
  bt = p["Wearing_Hat.brim_thickness"]
  half_w = np.maximum(cw, bw)
  w = cv.window(-half_w, half_w, crown_top - 0.02, base + bt + 0.02,
                active=hat > 0)
  if w is not None:
    r = p["Wearing_Hat.roundness"] * np.minimum(cw, base - crown_top)
    crown = _round_box(w.u, w.v, 0.0, (crown_top + base + r) * 0.5, cw,
                       (base + r - crown_top) * 0.5, r)
    np.maximum(crown, w.v - base, out=crown)
    hat_rgb = _rgb(p, "Wearing_Hat.color")
    t = w.u / cw
    shade = t * t
    shade *= -0.18
    shade += 1.0
    cv.paint(w, cv.alpha(crown.copy()) * hat, [c * shade for c in hat_rgb],
             (_HAT,))
    d = np.maximum(crown, base - p["Wearing_Hat.band_height"] - w.v)
    band = [c * p["Wearing_Hat.band_shade"] for c in hat_rgb]
    cv.paint(w, cv.alpha(d) * hat, band, (_HAT,))
    d = _round_box(w.u, w.v, 0.0, base - bt * 0.3, bw, bt, bt)
    d += (bw <= 0) * np.float32(10.0)
    cv.paint(w, cv.alpha(d) * hat, [c * np.float32(0.82) for c in hat_rgb],
             (_HAT,))

  # Lighting: overall gain plus a directional gradient across the image.
  light = (p["light_x"] * x_img[None, None, :]
           + (p["light_y"] * x_img[None, :, None] + p["light_gain"]))
  for ch in range(3):
    cv.rgb[ch] *= light
  np.clip(cv.rgb, 0.0, 1.0, out=cv.rgb)
  cv.rgb *= 2.0
  cv.rgb -= 1.0
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
  # Chunks of ~64k pixels keep the working set in the L2 cache.
  chunk = max(1, (1 << 16) // (size * size))
  for start in range(0, n, chunk):
    stop = min(start + chunk, n)
    rgb, m = _render_chunk(_chunk_params(params, start, stop), size,
                           with_masks)
    images[start:stop] = np.moveaxis(rgb, 0, -1)
    if with_masks:
      masks[start:stop] = np.moveaxis(m, 0, -1)
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


# ---------------------------------------------------------------------------
# FaceSource.


class SyntheticFaces(face_source.FaceSource):
  """The procedural faces as a FaceSource with disjoint train/val/test splits."""

  def __init__(self, image_size: int, seed: int = 0,
               split_sizes: Optional[Mapping] = None,
               attribute_frequencies: Optional[Mapping] = None):
    if not MIN_IMAGE_SIZE <= int(image_size) <= MAX_IMAGE_SIZE:
      raise ValueError(f"image_size must be in [{MIN_IMAGE_SIZE}, "
                       f"{MAX_IMAGE_SIZE}], got {image_size}")
    super().__init__(ATTRIBUTES, image_size)
    self.seed = int(seed)
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
                        self.attribute_frequencies)

  def labels(self, split: str) -> np.ndarray:
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
  """Entry point for `--data=synthetic` (see pipelines.data_spec)."""
  if argument:
    raise ValueError(f"--data=synthetic takes no argument, got {argument!r}")
  unknown = sorted(k for k, v in options.items()
                   if k not in _OPTIONS and v is not None)
  if unknown:
    raise ValueError(f"unknown options for synthetic data: {unknown}; valid "
                     f"options: {', '.join(_OPTIONS)}")
  seed = options.get("seed")
  return SyntheticFaces(image_size, seed=0 if seed is None else seed,
                        split_sizes=options.get("split_sizes"),
                        attribute_frequencies=options.get(
                            "attribute_frequencies"))
