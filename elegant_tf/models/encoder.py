"""ELEGANT's encoder: strided 3x3 convolutions that also hand skip features to the decoder."""

from typing import Sequence

import keras

from elegant_tf.models import conv_block


@keras.saving.register_keras_serializable(package="elegant_tf")
class Encoder(keras.Model):
  """[Conv3x3 stride 2 -> PixelL2Normalization -> LeakyReLU(0.2)] x len(widths).

  call(images) returns (latent, skips): the last block's output, and the outputs
  of all earlier blocks, finest first (the decoder adds them back).
  """

  def __init__(self, widths: Sequence[int] = (64, 128, 256, 512, 512), **kwargs):
    super().__init__(**kwargs)
    self.widths = list(widths)
    # One attribute per block: tf.train.Checkpoint only sees layers held as
    # attributes (Keras 3 does not expose Python lists as checkpoint children).
    for k, width in enumerate(self.widths):
      setattr(self, f"block_{k}", conv_block.downsampling_block(width, f"block_{k}"))

  @property
  def blocks(self) -> list:
    return [getattr(self, f"block_{k}") for k in range(len(self.widths))]

  @property
  def latent_channels(self) -> int:
    return self.widths[-1]

  def call(self, images):
    skips = []
    features = images
    for block in self.blocks:
      features = block(features)
      skips.append(features)
    return features, skips[:-1]

  def get_config(self):
    return {**super().get_config(), "widths": self.widths}
