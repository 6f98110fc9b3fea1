"""Not in the paper: a readout that says, from slab i alone, whether a latent has attribute i.

The generator can condition its decoder on how the readout's answer changes
between the unedited and the edited latent (`ElegantGenerator(readout_conditioned=True)`).
"""

import keras
from keras import ops

from elegant_tf.models import latent_swap


@keras.saving.register_keras_serializable(package="elegant_tf")
class SlabReadout(keras.Model):
  """latent [b, h, w, C] -> logits [b, n]: logit i is a linear function of slab i only.

  Each slab is averaged over space and standardized over its own channels (zero
  mean, unit variance per face) before its linear map. Without that step the
  pooled values are about 0.02 (the encoder's pixel norm gives each latent pixel
  one length over 256 channels), so a readout learning at the generator's rate
  barely moves in a thousand steps (BUILD_NOTES.md, "Removal: eight more options").
  """

  def __init__(self, num_attributes: int, epsilon: float = 1e-10, **kwargs):
    # float32 under every policy (as a mixed-precision output head): a standardized
    # 64-channel mean in bfloat16 would round the slab differences it reads, and
    # its kernel would otherwise be autocast against float32 features.
    kwargs.setdefault("dtype", "float32")
    super().__init__(**kwargs)
    self.num_attributes = int(num_attributes)
    self.epsilon = float(epsilon)

  def build(self, latent_shape):
    channels = int(latent_shape[-1])
    latent_swap.slab_boundaries(channels, self.num_attributes)  # Validates.
    self.kernel = self.add_weight(shape=(channels,), initializer="zeros", name="kernel")
    self.bias = self.add_weight(shape=(self.num_attributes,), initializer="zeros", name="bias")

  def call(self, latents):
    membership = latent_swap.slab_membership(latents.shape[-1], self.num_attributes)  # [n, C]
    # x [b, C] @ slab_means: each slab's mean; s [b, n] @ to_channels: spread over its channels.
    slab_means = ops.convert_to_tensor(membership.T / membership.sum(axis=1))
    to_channels = ops.convert_to_tensor(membership)
    pooled = ops.cast(ops.mean(latents, axis=(1, 2)), "float32")  # [b, C]
    centred = pooled - ops.matmul(ops.matmul(pooled, slab_means), to_channels)
    variance = ops.matmul(ops.matmul(ops.square(centred), slab_means), to_channels)
    standardized = centred / ops.sqrt(variance + self.epsilon)
    return ops.matmul(standardized * self.kernel, ops.transpose(to_channels)) + self.bias

  def get_config(self):
    return {**super().get_config(), "num_attributes": self.num_attributes,
            "epsilon": self.epsilon}
