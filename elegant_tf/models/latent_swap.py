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


def channel_weights(attribute_weights, channels: int):
  """float32 [..., channels]: each attribute's weight ([..., n]) spread over its slab's
  channels (a multi-hot choice of attributes gives the mask of their slabs)."""
  membership = ops.convert_to_tensor(slab_membership(channels, attribute_weights.shape[-1]))
  return ops.matmul(ops.cast(attribute_weights, "float32"), membership)


def swap_latent_slabs(latent, exemplar_latent, attribute_weights):
  """Take the chosen attributes' slabs from `exemplar_latent`, the rest from `latent`.

  latent, exemplar_latent: [batch, h, w, C].
  attribute_weights: [batch, n] or [n]; 1 = take that slab from the exemplar,
  0 = keep it, values in between interpolate (used for strength and the
  paper's interpolation modes). Several attributes can be exchanged at once.
  """
  # Channel weights in float32, then one cast to the latent's dtype: under mixed
  # precision the latent is bfloat16/float16, and 0 and 1 stay exact in every float type.
  weights = ops.cast(channel_weights(attribute_weights, latent.shape[-1]),
                     latent.dtype)  # [batch, C] or [C]
  if len(weights.shape) == 2:
    weights = weights[:, None, None, :]
  # (1-w)*a + w*b rather than a + w*(b-a): exact copies at w = 0 and w = 1.
  return (1.0 - weights) * latent + weights * exemplar_latent
