"""Not in the paper: a latent adversary that reads each attribute from the channels
outside that attribute's slab (Fader Networks' latent discriminator, per slab)."""

import keras
from keras import ops

from elegant_tf.models import initializers
from elegant_tf.models import latent_swap


@keras.saving.register_keras_serializable(package="elegant_tf")
class LatentAdversary(keras.Model):
  """latent [b, h, w, C] -> logits [b, n]: logit i sees every channel but slab i's.

  ELEGANT exchanges only slab i, so whatever of attribute i the other channels
  carry stays with the edited face and comes back in the decode (removed glasses
  leave faded frames). Trained against the encoder, this network finds such
  traces; the encoder is asked to leave it at chance. One shared trunk (a strided
  3x3 conv, leaky ReLU, a dense layer) runs on n masked copies of the latent, and
  copy i's logit i is the one kept.
  """

  def __init__(self, num_attributes: int, width: int = 64, **kwargs):
    super().__init__(**kwargs)
    self.num_attributes = int(num_attributes)
    self.width = int(width)
    self.conv = keras.layers.Conv2D(self.width, 3, strides=2, padding="same",
                                    kernel_initializer=initializers.kernel_initializer(),
                                    name="conv")
    self.flatten = keras.layers.Flatten(name="flatten")
    self.logits = keras.layers.Dense(self.num_attributes, name="logits")

  def call(self, latents):
    n = self.num_attributes
    channels = latents.shape[-1]
    outside = 1.0 - latent_swap.slab_membership(channels, n)  # [n, C]
    masked = latents[None] * ops.cast(outside[:, None, None, None, :], latents.dtype)
    batch = ops.shape(latents)[0]
    stacked = ops.reshape(masked, (n * batch,) + tuple(latents.shape[1:]))
    features = self.flatten(ops.leaky_relu(self.conv(stacked), 0.2))
    logits = ops.cast(ops.reshape(self.logits(features), (n, batch, n)), "float32")
    # Copy i's logit i: [n, b] -> [b, n].
    return ops.transpose(ops.sum(logits * ops.eye(n)[:, None, :], axis=-1))

  def get_config(self):
    return {**super().get_config(), "num_attributes": self.num_attributes, "width": self.width}
