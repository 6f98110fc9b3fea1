"""ELEGANT's normalization: per-pixel L2 normalization of the channel vector.

Not BatchNorm nor InstanceNorm: each pixel's channel vector is divided by its
L2 norm, then one learnable scalar scale (init 1) and shift (init 0) apply to
the whole tensor. No batch statistics, so results do not depend on how a batch
is split across replicas.
"""

import keras
import tensorflow as tf

# What a network may put after each convolution (--discriminator_normalization,
# --encoder_normalization, --decoder_normalization): this layer, or nothing.
NORMALIZATIONS = ("pixel", "none")


def scaled_unit_pixel_vectors(inputs, scale, epsilon: float):
  """scale * x / sqrt(sum_c x^2 + epsilon) at every pixel, with a hand-written gradient.

  The layer sits after every convolution of every network, so its elementwise
  work is a large share of a train step on a CPU (multiplies and divides were
  28% of a bfloat16 step on an Intel Xeon with AMX). Left to autodiff, x / norm
  gives a divide, a square of the norm and several full-size products in the
  backward pass; the gradient of a projection onto the unit sphere is one line,
  dx = scale * (g - u <g, u>) / norm, u = x / norm, and the scale's gradient
  is the sum of the same <g, u>. The forward is one full-size multiply, by
  scale / norm.

  The backward is written in differentiable ops of the forward's tensors, so a
  second derivative (R1's penalty differentiates D1's input gradient) goes
  through it exactly as through the autodiff version. `scale` is a scalar (the
  layer's weight, read in the layer's compute dtype as before), used in float32.
  """

  @tf.custom_gradient
  def forward(x, scale):
    # The squares are taken in float32 under every policy: a norm rounded from
    # bfloat16 squares (8-bit mantissa) loses digits the forward pass keeps.
    # epsilon inside the root keeps an all-zero pixel finite, gradient included.
    squares = tf.reduce_sum(tf.square(tf.cast(x, tf.float32)), axis=-1, keepdims=True)
    inverse_norm = tf.math.rsqrt(squares + epsilon)
    factor = tf.cast(inverse_norm * scale, x.dtype)

    def backward(upstream):
      unit = x * tf.cast(inverse_norm, x.dtype)
      # No float32 casts of full-size tensors here: TensorFlow's CPU sum of
      # bfloat16 accumulates wider (4,096 ones sum to 4,096, not 256), and the
      # casts cost a quarter of the layer's bfloat16 time for the same largest
      # error against float32.
      along = tf.reduce_sum(upstream * unit, axis=-1, keepdims=True)
      return (upstream - unit * along) * factor, tf.reduce_sum(tf.cast(along, tf.float32))

    return x * factor, backward

  return forward(inputs, tf.cast(scale, tf.float32))


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
    return scaled_unit_pixel_vectors(inputs, self.scale, self.epsilon) + self.shift

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    return {**super().get_config(), "epsilon": self.epsilon}
