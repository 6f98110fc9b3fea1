"""Rendering synthetic faces: one painter per layer, back to front.

Each painter draws one layer of every face in a chunk onto the canvas; the
order of the painters is the depth order, and the masks record what of each
attribute stays visible after the later layers.
"""

import numpy as np

from pipelines.synthetic.canvas import (Canvas, ellipse, paired, round_box,
                                        tri)
from pipelines.synthetic.params import (APPEARANCE_FIELDS, ATTRIBUTES,
                                        ID_COLUMN, IDENTITY_FIELDS,
                                        MAX_IMAGE_SIZE, MIN_IMAGE_SIZE,
                                        FaceParams)

_GLASSES, _BANGS, _SMILING, _MUSTACHE, _BLOND, _HAT = range(len(ATTRIBUTES))


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
  """A colour as [3, n, 1, 1], the shape `Canvas.paint` takes."""
  return np.stack([p[prefix + c] for c in ("_r", "_g", "_b")])


def _const(r, g, b):
  return np.array([r, g, b], np.float32).reshape(3, 1, 1, 1)


_WHITE_OF_EYE = _const(0.96, 0.95, 0.92)
_PUPIL = _const(0.04, 0.04, 0.04)
_LID = _const(0.12, 0.08, 0.07)
_MOUTH_INSIDE = _const(0.35, 0.07, 0.1)
_TEETH = _const(0.96, 0.94, 0.88)



def _on(p, attr):
  """[n, 1, 1] 1.0 where the face shows attribute index `attr`, else 0.0."""
  return p[f"{ATTRIBUTES[attr]}.on"]


def _hair_colour(p):
  """Blond or dark hair as [3, n, 1, 1], by the Blond_Hair state."""
  blond = _on(p, _BLOND)
  return (_rgb(p, "Blond_Hair.blond") * blond
          + _rgb(p, "Blond_Hair.dark") * (1 - blond))


def _head_top(p):
  """Top of the hair behind the head, where the hat's crown starts too."""
  return -(p["face_ry"] + p["hair_volume"])


def _brow_y(p):
  """Height of the brows, which the bangs' fringe follows."""
  return p["eye_y"] - p["brow_dy"]


def _paint_background(cv: Canvas, p: dict):
  # Background: a linear gradient in image (not face) coordinates.
  x_img = cv.coords
  t = (p["bg_dx"] * np.float32(0.35)) * x_img[None, None, :] + (
      p["bg_dy"] * np.float32(0.35) * x_img[None, :, None] + np.float32(0.5))
  lo = _rgb(p, "bg0")
  np.multiply(_rgb(p, "bg1") - lo, t, out=cv.rgb)
  cv.rgb += lo


def _paint_back_hair(cv: Canvas, p: dict):
  # Hair behind the head: a box with a fully rounded top, cut flat at the
  # hair length.
  rx, ry = p["face_rx"], p["face_ry"]
  hair = _hair_colour(p)
  vol, length = p["hair_volume"], p["hair_length"]
  top = _head_top(p)
  hw = rx + vol
  w = cv.window(-hw, hw, top, length)
  d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -(top + length + hw)
                                                * 0.5),
                 hw, (length + hw - top) * 0.5, hw)
  np.maximum(d, w.lin(0.0, 1.0, -length), out=d)
  cv.paint(w, cv.alpha(d), hair * np.float32(0.75), (_BLOND,))


def _paint_neck_and_shirt(cv: Canvas, p: dict):
  # Neck, then shoulders in a shirt over its lower end.
  # The shirt covers the neck below ry + 0.24, so it can stop there.
  rx, ry = p["face_rx"], p["face_ry"]
  skin = _rgb(p, "skin")
  w = cv.window(-rx * 0.45, rx * 0.45, 0.2, ry + 0.3)
  if w is not None:
    d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -(ry + 0.5) * 0.5),
                  rx * 0.45, (ry + 0.1) * 0.5, 0.05)
    cv.paint(w, cv.alpha(d), skin * np.float32(0.8))
  w = cv.window(-1.05, 1.05, ry + 0.23, ry + 1.27)
  if w is not None:
    cv.paint(w, cv.ellipse_alpha(w, 0.0, ry + 0.75, 1.05, 0.52),
             _rgb(p, "shirt"))


def _paint_ears_and_face(cv: Canvas, p: dict):
  # Ears, then the face; the jaw narrows by stretching u below the centre,
  # and the skin darkens towards the outline.
  rx, ry = p["face_rx"], p["face_ry"]
  skin = _rgb(p, "skin")
  eye_y, eye_dx = p["eye_y"], p["eye_dx"]
  ear_rx, ear_ry = 0.055 * p["ear_size"], 0.095 * p["ear_size"]
  ear_y = eye_y + 0.07
  for w in paired(cv, rx * 0.96, ear_rx, ear_y - ear_ry, ear_y + ear_ry):
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


def _paint_brows_and_eyes(cv: Canvas, p: dict):
  # Brows and eyes, one small window per side.
  eye_y, eye_dx = p["eye_y"], p["eye_dx"]
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
    sclera = ellipse(w, eye_dx, eye_y, erx, ery)
    cv.paint(w, cv.alpha(sclera.copy()), _WHITE_OF_EYE)
    d = ellipse(w, eye_dx, eye_y, ir, ir)
    np.maximum(d, sclera, out=d)
    cv.paint(w, cv.alpha(d), iris)
    d = ellipse(w, eye_dx, eye_y, ir * 0.45, ir * 0.45)
    np.maximum(d, sclera, out=d)
    cv.paint(w, cv.alpha(d), _PUPIL)
    # Upper lid: the top half of the sclera outline.
    d = np.abs(sclera, out=sclera)
    d -= 0.011
    np.maximum(d, w.lin(0.0, 1.0, -eye_y), out=d)
    cv.paint(w, cv.alpha(d), _LID)


def _paint_nose(cv: Canvas, p: dict):
  # Nose: a soft shadow under the tip and two nostrils.
  skin = _rgb(p, "skin")
  nose_y, nose_w = p["nose_y"], p["nose_w"]
  nose_cy = nose_y - 0.015
  w = cv.window(-(nose_w * 1.1 + 0.03), nose_w * 1.1 + 0.03,
                nose_cy - nose_w * 0.8 - 0.03, nose_cy + nose_w * 0.8 + 0.03)
  d = ellipse(w, 0.0, nose_cy, nose_w * 1.1, nose_w * 0.8)
  cv.paint(w, cv.alpha(d, soft=0.04), skin * np.float32(0.88))
  w = cv.window(-(nose_w * 0.55 + 0.022), nose_w * 0.55 + 0.022,
                nose_y - 0.013, nose_y + 0.013, mirror=True)
  cv.paint(w, cv.ellipse_alpha(w, nose_w * 0.55, nose_y, 0.022, 0.013),
           skin * np.float32(0.45))


def _paint_mouth(cv: Canvas, p: dict):
  # Mouth: neutral lips, or an open smile with teeth.
  mouth_y, lip = p["mouth_y"], _rgb(p, "lip")
  smiling = _on(p, _SMILING)
  lip_th, mw = p["lip_thickness"], p["mouth_w"]
  w = cv.window(-mw, mw, mouth_y - lip_th, mouth_y + lip_th,
                active=smiling < 1)
  if w is not None:
    d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y), mw, lip_th,
                  lip_th)
    cv.paint(w, cv.alpha(d) * (1 - smiling), lip)
    d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y), mw * 0.95,
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
  if cv.with_masks:
    # The smile mask is a fixed region around the mouth: the mouth exists in
    # both states and only changes shape inside it.
    w = cv.window(-0.26, 0.26, mouth_y - 0.09, mouth_y + 0.12)
    d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -mouth_y - 0.015),
                  0.26, 0.105, 0.05)
    cv.add_mask(w, cv.alpha(d), _SMILING)


def _paint_mustache(cv: Canvas, p: dict):
  # Mustache: a band under the nose that thins and droops towards its ends.
  nose_y = p["nose_y"]
  mus = _on(p, _MUSTACHE)
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


def _paint_hair_and_bangs(cv: Canvas, p: dict):
  # Hair over the top of the head down to a hairline that dips at the
  # temples, then the bangs below it.
  rx, ry = p["face_rx"], p["face_ry"]
  eye_y = p["eye_y"]
  brow_y = _brow_y(p)
  hair = _hair_colour(p)
  hl0 = -ry * p["hairline"]
  temple_y = eye_y - p["temple"]
  dip = temple_y - hl0
  w = cv.window(-(rx + 0.02), rx + 0.02, -(ry + 0.02), temple_y + 0.03)
  t = w.lin(1.0 / rx, 0.0, 0.0)
  t *= t
  t *= -dip
  t += w.lin(0.0, 1.0, -hl0)
  d = ellipse(w, 0.0, 0.0, rx + 0.02, ry + 0.02)
  np.maximum(d, t, out=d)
  cv.paint(w, cv.alpha(d), hair, (_BLOND,))
  bangs = _on(p, _BANGS)
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
    jag = tri(w.lin(p["Bangs.jag_frequency"], 0.0, p["Bangs.jag_phase"]))
    jag *= p["Bangs.jag_amplitude"]
    bottom -= jag
    np.maximum(t, bottom, out=t)
    # ... and inside the head.
    np.maximum(t, ellipse(w, 0.0, 0.0, rx + 0.03, ry + 0.03), out=t)
    strands = tri(w.lin(p["Bangs.strand_frequency"], 0.0, 0.0))
    strands *= -0.2
    strands += 1.0
    alpha = cv.alpha(t)
    alpha *= bangs
    cv.paint(w, alpha, hair * strands, (_BANGS, _BLOND))


def _paint_eyeglasses(cv: Canvas, p: dict):
  # Eyeglasses: tinted lenses, then the frame (rims, bridge and arms).
  rx, ry = p["face_rx"], p["face_ry"]
  eye_y, eye_dx = p["eye_y"], p["eye_dx"]
  glasses = _on(p, _GLASSES)
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
    lens = round_box(au - eye_dx, w.lin(0.0, 1.0, -lens_y), a, b,
                     p["Eyeglasses.lens_roundness"] * np.minimum(a, b))
    lens_alpha = cv.alpha(lens.copy())
    lens_alpha *= glasses
    cv.paint(w, lens_alpha * p["Eyeglasses.tint_alpha"],
             _rgb(p, "Eyeglasses.tint"), (_GLASSES,), mask_alpha=lens_alpha)
    d = np.abs(lens, out=lens)
    d -= fw * 0.5
    bridge_y = eye_y - b * p["Eyeglasses.bridge_height"]
    bridge = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -bridge_y),
                       eye_dx - a + fw, fw * 0.45, 0.0)
    np.minimum(d, bridge, out=d)
    # Arms run from the outer rim to the side of the face.
    au -= (x_in + x_out) * 0.5
    arm = round_box(au, w.lin(0.0, 1.0, -(eye_y - b * 0.5)),
                    np.maximum(x_out - x_in, 0.0) * 0.5, fw * 0.4, 0.0)
    arm += (x_out <= x_in) * np.float32(10.0)
    np.minimum(d, arm, out=d)
    alpha = cv.alpha(d)
    alpha *= glasses
    cv.paint(w, alpha, _rgb(p, "Eyeglasses.frame"), (_GLASSES,))


def _paint_hat(cv: Canvas, p: dict):
  # Hat: a crown cut flat at its base, an optional band and an optional brim.
  rx, ry = p["face_rx"], p["face_ry"]
  vol = p["hair_volume"]
  top = _head_top(p)
  hat = _on(p, _HAT)
  base = -ry * p["Wearing_Hat.base"]
  crown_top = top - p["Wearing_Hat.crown_extra"]
  cw = (rx + vol * 0.7) * p["Wearing_Hat.crown_width"]
  r = p["Wearing_Hat.roundness"] * np.minimum(cw, base - crown_top)
  hat_rgb = _rgb(p, "Wearing_Hat.color")
  band_h = p["Wearing_Hat.band_height"]

  def crown(w):
    # The box extends r below the base so that its bottom corners are square.
    d = round_box(w.lin(1.0, 0.0, 0.0),
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
    d = round_box(w.lin(1.0, 0.0, 0.0), w.lin(0.0, 1.0, -brim_y), bw, bt, bt)
    d += (bw <= 0) * np.float32(10.0)
    alpha = cv.alpha(d)
    alpha *= hat
    cv.paint(w, alpha, hat_rgb * np.float32(0.82), (_HAT,))


def _paint_lighting(cv: Canvas, p: dict):
  # Lighting (overall gain plus a directional gradient across the image),
  # folded into the mapping to [-1, 1].
  x_img = cv.coords
  gain = (np.float32(2.0) * p["light_x"]) * x_img[None, None, :] + (
      np.float32(2.0) * (p["light_y"] * x_img[None, :, None] + p["light_gain"]))
  cv.rgb *= gain
  cv.rgb -= 1.0
  np.clip(cv.rgb, -1.0, 1.0, out=cv.rgb)


# Back to front: a later painter covers an earlier one, and its masks.
_PAINTERS = (_paint_background, _paint_back_hair, _paint_neck_and_shirt,
             _paint_ears_and_face, _paint_brows_and_eyes, _paint_nose,
             _paint_mouth, _paint_mustache, _paint_hair_and_bangs,
             _paint_eyeglasses, _paint_hat, _paint_lighting)


def _render_chunk(p: dict, size: int, with_masks: bool) -> tuple:
  """Draw one chunk of faces; returns planar rgb [3, n, S, S] and masks."""
  cv = Canvas(p, size, with_masks)
  for paint in _PAINTERS:
    paint(cv, p)
  return cv.rgb, cv.masks


def render_batch(params: FaceParams, image_size: int, with_masks: bool):
  """render_faces, with masks optional (training does not need them)."""
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
  order = np.argsort(params.identity[:, ID_COLUMN["shift_y"]], kind="stable")
  shift_x = params.identity[:, ID_COLUMN["shift_x"]]
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
  return render_batch(params, image_size, with_masks=True)

