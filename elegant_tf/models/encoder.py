"""ELEGANT's encoder: strided 3x3 convolutions that also hand skip features to the decoder."""

from typing import Sequence

import keras

from elegant_tf.models import conv_block


@keras.saving.register_keras_serializable(package="elegant_tf")
class Encoder(keras.Model):
  """[Conv3x3 stride 2 -> PixelL2Normalization -> LeakyReLU(0.2)] x len(widths).

  call(images) returns (latent, skips): the last block's output, and the outputs
  of all earlier blocks, finest first (the decoder adds them back).

  `normalized=False` (not in the paper) leaves the normalization out of every
  block. With it, each latent pixel's 256..512 channels have one length, so how
  strongly slab i holds an attribute is only ever relative to the rest of the
  vector (see the Decoder's `normalized`).
  """

  def __init__(self, widths: Sequence[int] = (64, 128, 256, 512, 512), normalized: bool = True,
               **kwargs):
    super().__init__(**kwargs)
    self.widths = list(widths)
    self.normalized = bool(normalized)
    # One attribute per block: tf.train.Checkpoint only sees layers held as
    # attributes (Keras 3 does not expose Python lists as checkpoint children).
    for k, width in enumerate(self.widths):
      setattr(self, f"block_{k}", conv_block.downsampling_block(
          width, f"block_{k}", normalized=self.normalized))

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
    return {**super().get_config(), "widths": self.widths, "normalized": self.normalized}
