"""The downsampling block the encoder and the discriminators share."""

import keras

from elegant_tf.models import initializers
from elegant_tf.models import normalization


def downsampling_block(width: int, name: str, normalized: bool = True) -> keras.Sequential:
  """Conv 3x3 stride 2 'same' -> PixelL2Normalization -> LeakyReLU(0.2), as in the paper;
  `normalized=False` leaves the normalization out: the LeakyReLU then follows the
  convolution directly, which TensorFlow's graph remapper would fuse with it (see
  train_lib.turn_off_graph_remapping for why training turns that pass off)."""
  layers = [keras.layers.Conv2D(width, 3, strides=2, padding="same",
                                kernel_initializer=initializers.kernel_initializer())]
  if normalized:
    layers.append(normalization.PixelL2Normalization())
  layers.append(keras.layers.LeakyReLU(negative_slope=0.2))
  return keras.Sequential(layers, name=name)
