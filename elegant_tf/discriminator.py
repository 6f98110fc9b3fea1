"""ELEGANT's conditional discriminator: one global realism score per (image, labels)."""

from typing import Sequence

import keras
from keras import ops

from elegant_tf import conv_block
from elegant_tf import initializers


@keras.saving.register_keras_serializable(package="elegant_tf")
class Discriminator(keras.Model):
  """Image + labels tiled as channels -> 4 strided conv blocks -> flatten -> Dense(1).

  Returns a logit per image (the sigmoid of the paper lives in the loss, where
  it is numerically stable). `downsample` > 1 average-pools the image first:
  the paper's D2 sees the image at half resolution. The flatten size follows
  from the image size at build time, so any image size works.

  `patch=True` (not in the paper) replaces flatten -> Dense(1) by a 1x1 conv
  over the last feature map: one logit per cell, [b, h, w], each judging the
  patch its receptive field covers. The losses average over the cells.
  """

  def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), downsample: int = 1,
               num_classes: int = 0, patch: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.widths = list(widths)
    self.downsample = int(downsample)
    self.num_classes = int(num_classes)
    self.patch = bool(patch)
    self.pool = (keras.layers.AveragePooling2D(self.downsample)
                 if self.downsample > 1 else None)
    # Blocks are attributes, not list items, so checkpoints name them (see encoder.py).
    for k, width in enumerate(self.widths):
      setattr(self, f"block_{k}", conv_block.downsampling_block(width, f"block_{k}"))
    self.flatten = keras.layers.Flatten()
    self.score = (
        keras.layers.Conv2D(1, 1, kernel_initializer=initializers.kernel_initializer(),
                            name="score") if self.patch else
        keras.layers.Dense(1, kernel_initializer=initializers.kernel_initializer(), name="score"))
    # Optional auxiliary attribute classifier (AttGAN/StarGAN style), off in the paper.
    self.classes = (keras.layers.Dense(self.num_classes, name="classes",
                                       kernel_initializer=initializers.kernel_initializer())
                    if self.num_classes else None)

  @property
  def blocks(self) -> list:
    return [getattr(self, f"block_{k}") for k in range(len(self.widths))]

  def _features(self, images, labels):
    if self.pool is not None:
      images = self.pool(images)
    height, width = ops.shape(images)[1], ops.shape(images)[2]
    tiled = ops.broadcast_to(labels[:, None, None, :],
                             (ops.shape(images)[0], height, width, ops.shape(labels)[-1]))
    features = ops.concatenate([images, ops.cast(tiled, images.dtype)], axis=-1)
    for block in self.blocks:
      features = block(features)
    return features

  def call(self, images, labels):
    """Logits: [b] (global score) or [b, h, w] (patch scores)."""
    features = self._features(images, labels)
    logits = ops.squeeze(self.score(features if self.patch else self.flatten(features)), axis=-1)
    return ops.cast(logits, "float32")  # Sigmoid/BCE in float32 under mixed precision.

  def classify(self, images, num_labels: int):
    """Attribute logits [b, num_classes] from the image alone: the label channels are
    zeros, so the classifier cannot read the answer from its input."""
    zeros = ops.zeros((ops.shape(images)[0], num_labels), images.dtype)
    return ops.cast(self.classes(self.flatten(self._features(images, zeros))), "float32")

  def get_config(self):
    return {**super().get_config(), "widths": self.widths, "downsample": self.downsample,
            "num_classes": self.num_classes, "patch": self.patch}
