"""The downsampling block the encoder and the discriminators share."""

import keras

from elegant_tf.models import initializers
from elegant_tf.models import normalization


def downsampling_block(width: int, name: str) -> keras.Sequential:
  """Conv 3x3 stride 2 'same' -> PixelL2Normalization -> LeakyReLU(0.2), as in the paper."""
  return keras.Sequential([
      keras.layers.Conv2D(width, 3, strides=2, padding="same",
                          kernel_initializer=initializers.kernel_initializer()),
      normalization.PixelL2Normalization(),
      keras.layers.LeakyReLU(negative_slope=0.2),
  ], name=name)
