"""Which latent channels stand for which attribute, and how slabs are exchanged.

The latent channel axis is cut into n contiguous slabs for n attributes; slab i
spans channels [rint(C*i/n), rint(C*(i+1)/n)) and keeps the full spatial map.
"""

import numpy as np
from keras import ops


def slab_boundaries(channels: int, num_attributes: int) -> list[tuple[int, int]]:
  """[(start, stop)] channel range of each attribute's slab (round half to even, as rint)."""
  if num_attributes < 1 or channels < num_attributes:
    raise ValueError(f"cannot split {channels} latent channels into {num_attributes} "
                     "attribute slabs; need at least one channel per attribute")
  edges = [int(np.rint(channels * i / num_attributes)) for i in range(num_attributes + 1)]
  return list(zip(edges[:-1], edges[1:]))


def slab_membership(channels: int, num_attributes: int) -> np.ndarray:
  """float32 [num_attributes, channels]: 1 where channel c belongs to attribute i's slab."""
  membership = np.zeros((num_attributes, channels), np.float32)
  for i, (start, stop) in enumerate(slab_boundaries(channels, num_attributes)):
    membership[i, start:stop] = 1.0
  return membership


def swap_latent_slabs(latent, exemplar_latent, attribute_weights):
  """Take the chosen attributes' slabs from `exemplar_latent`, the rest from `latent`.

  latent, exemplar_latent: [batch, h, w, C].
  attribute_weights: [batch, n] or [n]; 1 = take that slab from the exemplar,
  0 = keep it, values in between interpolate (used for strength and the
  paper's interpolation modes). Several attributes can be exchanged at once.
  """
  channels = latent.shape[-1]
  num_attributes = attribute_weights.shape[-1]
  membership = ops.convert_to_tensor(slab_membership(channels, num_attributes))
  # Channel weights in float32 (the membership constant's dtype), then one cast
  # to the latent's dtype: under mixed precision the latent is bfloat16/float16,
  # and 0 and 1 stay exact in every float type.
  weights = ops.cast(attribute_weights, "float32")
  channel_weights = ops.cast(ops.matmul(weights, membership), latent.dtype)  # [batch, C] or [C]
  if len(channel_weights.shape) == 2:
    channel_weights = channel_weights[:, None, None, :]
  # (1-w)*a + w*b rather than a + w*(b-a): exact copies at w = 0 and w = 1.
  return (1.0 - channel_weights) * latent + channel_weights * exemplar_latent
