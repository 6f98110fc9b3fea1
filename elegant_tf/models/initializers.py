"""Weight initialisation of the reference: kernels ~ N(0, 0.02), biases 0."""

import keras


def kernel_initializer(seed=None):
  return keras.initializers.RandomNormal(mean=0.0, stddev=0.02, seed=seed)
