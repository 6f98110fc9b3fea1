"""ELEGANT's normalization: per-pixel L2 normalization of the channel vector.

Not BatchNorm nor InstanceNorm: each pixel's channel vector is divided by its
L2 norm, then one learnable scalar scale (init 1) and shift (init 0) apply to
the whole tensor. No batch statistics, so results do not depend on how a batch
is split across replicas.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="elegant_tf")
class PixelL2Normalization(keras.layers.Layer):
  """x / ||x||_2 over channels at every pixel, then `scale * . + shift` (scalars)."""

  def __init__(self, epsilon: float = 1e-8, **kwargs):
    super().__init__(**kwargs)
    self.epsilon = epsilon

  def build(self, input_shape):
    self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
    self.shift = self.add_weight(name="shift", shape=(), initializer="zeros")

  def call(self, inputs):
    # The sum of squares runs in float32 even under a mixed policy: over 512
    # channels a bfloat16 sum (8-bit mantissa) would lose most of its digits.
    # epsilon inside the sqrt keeps the gradient finite at an all-zero pixel.
    squares = ops.sum(ops.square(ops.cast(inputs, "float32")), axis=-1, keepdims=True)
    norm = ops.cast(ops.sqrt(squares + self.epsilon), inputs.dtype)
    return self.scale * (inputs / norm) + self.shift

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon}
