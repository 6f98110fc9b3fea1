"""The drawing surface of the synthetic renderer: signed-distance shapes,
pixel windows in face-local coordinates, and compositing with visible-coverage
masks. Painters (render.py) say what to draw; this says how.
"""

from typing import Optional

import numpy as np

from pipelines.synthetic.params import ATTRIBUTES, rotation

def tri(x: np.ndarray) -> np.ndarray:
  """Triangle wave with period 1 and range [0, 1] (exact, no transcendentals)."""
  f = x - np.floor(x)
  f *= 2.0
  f -= 1.0
  return np.abs(f, out=f)


def ellipse_q(w, cx, cy, rx, ry):
  """Normalised squared radius of an ellipse (1 on its outline) over a window."""
  irx, iry = 1.0 / rx, 1.0 / ry
  q = w.lin(irx, 0.0, -cx * irx)
  q *= q
  b = w.lin(0.0, iry, -cy * iry)
  b *= b
  q += b
  return q


def ellipse(w, cx, cy, rx, ry):
  """Approximate signed distance to an ellipse over a window.

  Scaling the normalised radius by the smaller semi-axis never underestimates
  the edge width, so edges stay at least one pixel soft.
  """
  d = np.sqrt(ellipse_q(w, cx, cy, rx, ry))
  d -= 1.0
  d *= np.minimum(rx, ry)
  return d


def round_box(dx, dy, hx, hy, r):
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


class Window:
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


class Canvas:
  """RGB planes plus visible-coverage masks for one chunk of faces."""

  def __init__(self, p, size: int, with_masks: bool):
    n = p["scale"].shape[0]
    self.n, self.size, self.with_masks = n, size, with_masks
    self.p = p
    flat = lambda name: p[name].reshape(n)
    self.cos, self.sin = rotation(flat("angle"))
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
             mirror: bool = False) -> Optional[Window]:
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
    return Window(self, slice(r0, r1), slice(c0, c1), flip, mirror)

  def ellipse_alpha(self, w, cx, cy, rx, ry):
    """Coverage of an ellipse, with the distance scaling fused into one op."""
    m = np.minimum(rx, ry) * self.inv_pixel
    a = np.sqrt(ellipse_q(w, cx, cy, rx, ry))
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

  def paint(self, w: Window, alpha, color, attrs=(), mask_alpha=None):
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

  def add_mask(self, w: Window, alpha, attr):
    """Mark a region as belonging to `attr` without drawing anything."""
    if self.with_masks:
      m = self.masks[attr, :, w.rows, w.cols]
      m += alpha * (1.0 - m)
      self.live.add(attr)


def paired(cv: Canvas, cx, half_w, y0, y1, active=None):
  """Windows of a left/right pair of shapes centred at u = +-cx.

  The left window is mirrored (u -> -u) so both sides share one shape
  definition; two tight windows are much smaller than one spanning the face.
  """
  for flip in (-1.0, 1.0):
    w = cv.window(flip * cx - half_w, flip * cx + half_w, y0, y1, active,
                  flip=flip)
    if w is not None:
      yield w

