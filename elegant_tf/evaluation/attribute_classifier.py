"""The attribute classifier that AttGAN / STGAN use to judge editing accuracy.

Five blocks of [conv 3x3 -> BatchNorm -> ReLU] x 2 then 2x2 max-pool, then a
512-unit fully connected layer and one logit per attribute (multi-label, so a
sigmoid per attribute, not a softmax). The papers use 128 px and widths 64,
128, 256, 512, 512; the image size and widths are arguments here so a small
version trains in minutes on a CPU. It is a plain functional Keras model, so
it saves to and loads from one `.keras` file.
"""

from typing import Sequence

import keras

PAPER_WIDTHS = (64, 128, 256, 512, 512)
NUM_BLOCKS = 5
DENSE_UNITS = 512


def block_widths(base_width: int = 64, max_width: int = 512) -> tuple:
  """Channel widths of the five blocks: doubling from base_width, capped at max_width."""
  return tuple(min(base_width * 2 ** k, max_width) for k in range(NUM_BLOCKS))


def build_classifier(num_attributes: int, image_size: int,
                     widths: Sequence[int] = PAPER_WIDTHS,
                     dense_units: int = DENSE_UNITS) -> keras.Model:
  """Images in [-1, 1], [b, S, S, 3] -> attribute logits [b, num_attributes]."""
  if image_size % 2 ** len(widths):
    raise ValueError(f"image_size {image_size} must be a multiple of {2 ** len(widths)} "
                     f"({len(widths)} max-pools)")
  images = keras.Input((image_size, image_size, 3), name="image")
  x = images
  for index, width in enumerate(widths):
    for conv in range(2):
      # No conv bias: the BatchNorm shift that follows makes it redundant.
      x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                              name=f"block{index + 1}_conv{conv + 1}")(x)
      x = keras.layers.BatchNormalization(name=f"block{index + 1}_bn{conv + 1}")(x)
      x = keras.layers.ReLU(name=f"block{index + 1}_relu{conv + 1}")(x)
    x = keras.layers.MaxPool2D(2, name=f"block{index + 1}_pool")(x)
  x = keras.layers.Flatten(name="flatten")(x)
  x = keras.layers.Dense(dense_units, name="fc")(x)
  x = keras.layers.ReLU(name="fc_relu")(x)
  logits = keras.layers.Dense(num_attributes, name="logits")(x)
  return keras.Model(images, logits, name="attribute_classifier")
