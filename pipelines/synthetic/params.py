"""What a synthetic face is: its parameters, how they are drawn, and where
its landmarks are.

A batch of faces is a FaceParams (identity, attribute states, attribute
appearances); `sample_faces` draws them from the counter hash, and
`exchange_attributes` / `with_generic_attributes` build the exact targets of a
swap. Nothing here draws pixels (see render.py).
"""

import dataclasses
import functools
from typing import Mapping, Optional

import numpy as np

from pipelines import alignment
from pipelines.synthetic.counter_random import Draw

ATTRIBUTES = ("Eyeglasses", "Bangs", "Smiling", "Mustache", "Blond_Hair",
              "Wearing_Hat")

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
ID_COLUMN = {name: i for i, name in enumerate(IDENTITY_FIELDS)}

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


def check_frequencies(attribute_frequencies: Optional[Mapping]) -> np.ndarray:
  freqs = np.full(len(ATTRIBUTES), 0.5)
  for name, value in (attribute_frequencies or {}).items():
    if name not in ATTRIBUTES:
      raise ValueError(f"unknown attribute {name!r}; valid attribute names: "
                       + ", ".join(ATTRIBUTES))
    if not 0.0 <= float(value) <= 1.0:
      raise ValueError(f"frequency of {name} must be in [0, 1], got {value}")
    freqs[ATTRIBUTES.index(name)] = float(value)
  return freqs


def sample_states(seed: int, indices: np.ndarray,
                  frequencies: np.ndarray) -> np.ndarray:
  """bool [N, n_attributes]; uses its own hash fields, so no rendering needed."""
  draw = Draw(seed, indices)
  return np.stack([draw.u(f"state/{name}") < frequencies[j]
                   for j, name in enumerate(ATTRIBUTES)], axis=1)


def _sample_identity(draw: Draw) -> dict:
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


def _sample_appearance(draw: Draw) -> dict:
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


def rotation(theta: np.ndarray) -> tuple:
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
  column = lambda name: identity[:, ID_COLUMN[name]].astype(np.float64)
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
  column = lambda name: params.identity[:, ID_COLUMN[name]].astype(np.float64)[:, None]
  cos, sin = rotation(column("angle"))
  scale = column("scale")
  x = column("shift_x") + scale * (cos * local[..., 0] - sin * local[..., 1])
  y = column("shift_y") + scale * (sin * local[..., 0] + cos * local[..., 1])
  pixels = (np.stack([x, y], axis=-1) + 1.0) * (image_size / 2.0) - 0.5
  return pixels.astype(np.float32)


def check_layout(layout: str) -> str:
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
  freqs = check_frequencies(attribute_frequencies)
  check_layout(layout)
  indices = np.asarray(indices, np.int64).reshape(-1)
  draw = Draw(seed, indices)
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
                    states=sample_states(seed, indices, freqs))


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

