"""The downsampling block the encoder and the discriminators share."""

import keras
from keras import ops

from elegant_tf.models import initializers
from elegant_tf.models import normalization


@keras.saving.register_keras_serializable(package="elegant_tf")
def leaky_relu_as_maximum(x):
  """LeakyReLU(0.2) as max(x, 0.2 x), for a convolution it follows directly.

  TensorFlow 2.21's graph optimizer fuses Conv2D + BiasAdd + LeakyRelu into one
  op even when a second-order gradient (R1) still reads the BiasAdd it removes;
  the rewrite then fails, the whole remapping pass is dropped for the train
  step and "remapper failed ... LeakyReluGrad" is logged as an error. The
  maximum has the same values and gradients and matches no fusion pattern.
  """
  return ops.maximum(x, 0.2 * x)


def downsampling_block(width: int, name: str, normalized: bool = True) -> keras.Sequential:
  """Conv 3x3 stride 2 'same' -> PixelL2Normalization -> LeakyReLU(0.2), as in the paper;
  `normalized=False` leaves the normalization out (the LeakyReLU then follows the
  convolution directly, computed by leaky_relu_as_maximum)."""
  layers = [keras.layers.Conv2D(width, 3, strides=2, padding="same",
                                kernel_initializer=initializers.kernel_initializer())]
  if normalized:
    layers += [normalization.PixelL2Normalization(), keras.layers.LeakyReLU(negative_slope=0.2)]
  else:
    layers.append(keras.layers.Activation(leaky_relu_as_maximum))
  return keras.Sequential(layers, name=name)
