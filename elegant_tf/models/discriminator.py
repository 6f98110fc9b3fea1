"""ELEGANT's conditional discriminator: one global realism score per (image, labels)."""

from typing import Sequence

import keras
from keras import ops

from elegant_tf.models import conv_block
from elegant_tf.models import initializers
from elegant_tf.models import normalization as normalization_lib

# How the labels reach the score: tiled as input channels (the paper) or as a
# projection onto the final features.
CONDITIONINGS = ("channels", "projection", "channels_projection")


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

  `conditioning="projection"` (not in the paper; Miyato & Koyama 2018) leaves
  the labels out of the input and adds sum_j s_j <v_j, phi(x)> to the score,
  phi(x) the flattened features and s_j = +1 / -1 for attribute j present /
  absent. The label then acts on what the network has seen instead of being
  one more input channel that the first convolution may learn to ignore.
  `conditioning="channels_projection"` does both: the label channels let the
  convolutions look for the attribute where the label says it should (or should
  not) be, the projection makes the label act on the final score from step 0.

  `normalization="none"` (not in the paper) drops the per-pixel L2 normalization
  after each convolution. That normalization divides every feature vector by
  its length, so a faint structure and a strong one of the same shape give
  nearly the same normalized features wherever the convolution responds mostly
  to the structure: the score then barely changes with the amplitude of what a
  removal left behind (a faded glasses frame scores like a full one), and the
  generator gets little push to take the rest away.
  """

  def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), downsample: int = 1,
               num_classes: int = 0, patch: bool = False, conditioning: str = "channels",
               num_labels: int = 0, normalization: str = "pixel", **kwargs):
    super().__init__(**kwargs)
    if conditioning not in CONDITIONINGS:
      raise ValueError(f"unknown discriminator conditioning {conditioning!r}; valid: "
                       + ", ".join(CONDITIONINGS))
    projected = conditioning != "channels"
    if patch and projected:
      raise ValueError("the projection discriminator scores whole images; it does not "
                       "combine with patch=True")
    if normalization not in normalization_lib.NORMALIZATIONS:
      raise ValueError(f"unknown discriminator normalization {normalization!r}; valid: "
                       + ", ".join(normalization_lib.NORMALIZATIONS))
    if projected and num_labels < 1:
      raise ValueError("the projection discriminator needs num_labels (one embedding each)")
    self.widths = list(widths)
    self.downsample = int(downsample)
    self.num_classes = int(num_classes)
    self.patch = bool(patch)
    self.conditioning = conditioning
    self.num_labels = int(num_labels)
    self.normalization = normalization
    self.pool = (keras.layers.AveragePooling2D(self.downsample)
                 if self.downsample > 1 else None)
    # Blocks are attributes, not list items, so checkpoints name them (see encoder.py).
    for k, width in enumerate(self.widths):
      setattr(self, f"block_{k}", conv_block.downsampling_block(
          width, f"block_{k}", normalized=normalization == "pixel"))
    self.flatten = keras.layers.Flatten()
    self.score = (
        keras.layers.Conv2D(1, 1, kernel_initializer=initializers.kernel_initializer(),
                            name="score") if self.patch else
        keras.layers.Dense(1, kernel_initializer=initializers.kernel_initializer(), name="score"))
    # One embedding v_j per attribute, as the rows of a bias-free Dense.
    self.projection = (
        keras.layers.Dense(self.num_labels, use_bias=False, name="projection",
                           kernel_initializer=initializers.kernel_initializer())
        if projected else None)
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
    if self.conditioning != "projection":
      height, width = ops.shape(images)[1], ops.shape(images)[2]
      tiled = ops.broadcast_to(labels[:, None, None, :],
                               (ops.shape(images)[0], height, width, ops.shape(labels)[-1]))
      features = ops.concatenate([images, ops.cast(tiled, images.dtype)], axis=-1)
    else:
      features = images
    for block in self.blocks:
      features = block(features)
    return features

  def call(self, images, labels):
    """Logits: [b] (global score) or [b, h, w] (patch scores)."""
    features = self._features(images, labels)
    # Logits leave in float32 under every policy: sigmoid/BCE and the losses are float32.
    if self.patch:
      return ops.cast(ops.squeeze(self.score(features), axis=-1), "float32")
    flat = self.flatten(features)
    logits = ops.squeeze(self.score(flat), axis=-1)
    if self.projection is not None:
      signs = 2.0 * ops.cast(labels, flat.dtype) - 1.0
      logits = logits + ops.sum(signs * self.projection(flat), axis=-1)
    return ops.cast(logits, "float32")

  def classify(self, images, num_labels: int):
    """Attribute logits [b, num_classes] from the image alone: the label channels are
    zeros, so the classifier cannot read the answer from its input."""
    zeros = ops.zeros((ops.shape(images)[0], num_labels), images.dtype)
    return ops.cast(self.classes(self.flatten(self._features(images, zeros))), "float32")

  def get_config(self):
    return {**super().get_config(), "widths": self.widths, "downsample": self.downsample,
            "num_classes": self.num_classes, "patch": self.patch,
            "conditioning": self.conditioning, "num_labels": self.num_labels,
            "normalization": self.normalization}
