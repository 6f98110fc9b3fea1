"""Counter-based random numbers for the synthetic faces.

Every random number is a hash of (seed, global face index, field name) rather
than the next output of a sequential generator, so face k is the same whatever
batch it is drawn in, and adding a parameter never shifts the others.
"""

import zlib

import numpy as np

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


def uniform(seed: int, indices: np.ndarray, field: str) -> np.ndarray:
  """Uniform float64 in [0, 1) for every index, keyed on (seed, index, field).

  The field is keyed by the CRC of its name rather than its position, so
  adding a parameter never changes the values of existing ones.
  """
  key = _mix_int((seed * _GOLDEN + zlib.crc32(field.encode())) & _MASK64)
  key2 = _mix_int(key ^ 0x5851F42D4C957F2D)
  z = indices.astype(np.uint64) * np.uint64(_GOLDEN) + np.uint64(key)
  z = _mix(_mix(z) ^ np.uint64(key2))
  return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class Draw:
  """Draws the random parameters of one batch of global indices."""

  def __init__(self, seed: int, indices: np.ndarray):
    self.seed = int(seed) & _MASK64
    self.indices = indices

  def u(self, field: str) -> np.ndarray:
    return uniform(self.seed, self.indices, field)

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
    return hsv_to_rgb(self.u(f"{field}/h"), self.range(f"{field}/s", *s_range),
                       self.range(f"{field}/v", *v_range))


def hsv_to_rgb(h, s, v) -> np.ndarray:
  """Vectorised HSV -> RGB with only arithmetic (no table lookups)."""
  channels = []
  for n in (5.0, 3.0, 1.0):
    k = np.mod(n + h * 6.0, 6.0)
    channels.append(v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
  return np.stack(channels, axis=1)

