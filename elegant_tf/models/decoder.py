"""ELEGANT's decoder: transposed convolutions with additive skips, producing a residual image."""

from typing import Sequence

import keras
from keras import ops

from elegant_tf.models import initializers
from elegant_tf.models import normalization


@keras.saving.register_keras_serializable(package="elegant_tf")
class Decoder(keras.Model):
  """Maps concat(edited latent, unedited latent) and encoder skips to a residual image.

  `encoder_widths` are the encoder's block widths; the decoder mirrors them:
  transposed convs 3x3 stride 2 with widths encoder_widths[-2::-1] + [3]
  (paper: 512, 256, 128, 64, 3). Every block but the last is followed by
  PixelL2Normalization -> ReLU and then ADDS the encoder skip at that resolution.
  The last block has no normalization; its output is 2*tanh(.), a residual in
  [-2, 2] that is added to the input image (and clipped) by the caller.

  `skip_gating=True` (not in the paper) scales each skip by a gate computed from
  the latent difference (edited - unedited): keep = 1 - tanh(|W d|), W a 1x1
  conv per skip level at the latent's resolution, resized up to the skip's. The
  skips carry the edited image's own attribute (A's glasses reach C at every
  skip resolution, whatever the exchanged slab says), so without a gate the
  residual has to cancel them. With no edit, d = 0 and keep = 1 exactly: the
  reconstruction is the ungated decoder's. (STGAN's selective transfer units
  gate skips by the attribute difference for the same reason.)

  `dropped_fine_skips=k` (not in the paper) leaves out the k finest skips: the
  edited image's own fine detail (A's thin glasses frames at half resolution)
  then reaches the residual only through the coarser skips and the latent. The
  unchanged pixels still come from the input image, which the residual is added to.

  `image_head_width=k` (not in the paper; 0 = off) makes the last transposed
  conv give k channels at full resolution (then PixelL2Normalization -> ReLU),
  which a 3x3 conv reads together with the input image to give the output. The
  encoder's first block already halves the resolution, so without it the
  residual comes from one stride-2 transposed conv of 2x-coarser features,
  which might place a thin glasses frame only to about a pixel; with the image
  at hand the last conv sees exactly which pixels are frame. Measured once
  (k = 32, docs/experiments/removal-at-1200-steps.md): removed frames keep the
  same outline, so that was not the limit.

  `normalized=False` (not in the paper) leaves out the PixelL2Normalization
  after every transposed conv but the last (the image head's too). That
  normalization gives every pixel's feature vector one length, so the features
  at a glasses frame can say how much of it to cancel by their direction only
  (the discriminators' own normalization hid how faint a leftover frame was
  from them; this asks whether the decoder's limits how much it takes away).

  `condition_channels=n` (not in the paper; 0 = off) gives every transposed
  conv n more input channels: a per-image vector `conditions` [b, n] (the
  generator passes how much each attribute changes, by its slab readout),
  the same at every pixel. A removal then reaches the finer blocks, where A's
  own attribute arrives through the skips, as a value of -1 rather than as the
  small part of the slab difference that is attribute and not identity (an
  exact removal moves A's slab only 7-26% of the way to B's). STGAN and AttGAN
  condition their decoders on the attribute (difference) vector the same way.

  `masked_output=True` (not in the paper) gives 4 channels instead of a residual:
  tanh of a colour image and the sigmoid of a mask, which the generator blends
  into the input as input + mask * (colour - input) (GANimation's attention
  mask). To remove glasses by a residual, the decoder must produce minus the
  frames' exact colours, which the exchanged slab no longer tells it; under a
  mask it only has to say where to paint and with what skin.
  """

  def __init__(self, encoder_widths: Sequence[int] = (64, 128, 256, 512, 512),
               skip_gating: bool = False, dropped_fine_skips: int = 0,
               masked_output: bool = False, image_head_width: int = 0, normalized: bool = True,
               condition_channels: int = 0, output_gain: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.encoder_widths = list(encoder_widths)
    self.normalized = bool(normalized)
    self.skip_gating = bool(skip_gating)
    self.dropped_fine_skips = int(dropped_fine_skips)
    self.masked_output = bool(masked_output)
    self.image_head_width = int(image_head_width)
    self.condition_channels = int(condition_channels)
    self.output_gain = bool(output_gain)
    if self.output_gain and self.masked_output:
      raise ValueError("output_gain and masked_output are two ways to combine the output with "
                       "the input; choose one")
    if self.condition_channels < 0:
      raise ValueError(f"condition_channels={self.condition_channels}: must be 0 (off) or more")
    if self.image_head_width < 0:
      raise ValueError(f"image_head_width={self.image_head_width}: must be 0 (off) or more")
    output_channels = 4 if self.masked_output else 3
    widths = self.encoder_widths[-2::-1] + [self.image_head_width or output_channels]
    self.num_blocks = len(widths)
    if not 0 <= self.dropped_fine_skips <= self.num_blocks - 1:
      raise ValueError(f"dropped_fine_skips={self.dropped_fine_skips}: the decoder has "
                       f"{self.num_blocks - 1} skips")
    # Layers are attributes, not list items, so checkpoints name them (see encoder.py).
    for k, width in enumerate(widths):
      setattr(self, f"upsample_{k}", keras.layers.Conv2DTranspose(
          width, 3, strides=2, padding="same",
          kernel_initializer=initializers.kernel_initializer(), name=f"upsample_{k}"))
      if k < len(widths) - 1:
        if self.normalized:
          setattr(self, f"norm_{k}", normalization.PixelL2Normalization(name=f"norm_{k}"))
        if self.skip_gating and self.uses_skip(k):
          # Bias-free, so a zero latent difference gives keep = 1 exactly.
          setattr(self, f"skip_gate_{k}", keras.layers.Conv2D(
              width, 1, use_bias=False, kernel_initializer=initializers.kernel_initializer(),
              name=f"skip_gate_{k}"))
    if self.image_head_width:
      if self.normalized:
        self.head_norm = normalization.PixelL2Normalization(name="head_norm")
      self.head = keras.layers.Conv2D(
          output_channels, 3, padding="same",
          kernel_initializer=initializers.kernel_initializer(), name="head")
    if self.output_gain:
      # Zero kernel and bias: gain exactly 1 at the start. It reads what the last
      # residual layer reads (the image head's input when there is one).
      if self.image_head_width:
        self.gain = keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros",
                                        name="gain")
      else:
        self.gain = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same",
                                                 kernel_initializer="zeros", name="gain")

  @property
  def upsamples(self) -> list:
    return [getattr(self, f"upsample_{k}") for k in range(self.num_blocks)]

  def normalize(self, layer_name: str, features):
    """`features` through the normalization layer `layer_name`, or unchanged when the
    decoder is unnormalized (it then has no such layer)."""
    return getattr(self, layer_name)(features) if self.normalized else features

  def uses_skip(self, k: int) -> bool:
    """Whether block k (coarsest first) adds its encoder skip."""
    return k < self.num_blocks - 1 - self.dropped_fine_skips

  def skip_keep(self, k: int, latent_difference, skip):
    """The fraction [b, h, w, c] of skip level k kept for this latent difference."""
    gate = getattr(self, f"skip_gate_{k}")(latent_difference)
    gate = ops.image.resize(gate, ops.shape(skip)[1:3], interpolation="bilinear")
    return 1.0 - ops.tanh(ops.abs(gate))

  def conditioned(self, features, conditions):
    """`features` with `conditions` [b, n] appended as n constant channels (unchanged
    when the decoder is unconditioned)."""
    if not self.condition_channels:
      return features
    if conditions is None:
      raise ValueError(f"a decoder with condition_channels={self.condition_channels} needs "
                       "conditions")
    per_image = ops.cast(conditions, features.dtype)[:, None, None, :]
    tiled = ops.ones_like(features[..., :1]) * per_image
    return ops.concatenate([features, tiled], axis=-1)

  def call(self, edited_latent, unedited_latent, skips, images=None, conditions=None):
    """skips: the encoder's skip list (finest first) for the image being edited;
    images: that image (read only with `image_head_width`); conditions: [b,
    condition_channels] (read only with `condition_channels`)."""
    features = ops.concatenate([edited_latent, unedited_latent], axis=-1)
    difference = edited_latent - unedited_latent
    for k, upsample in enumerate(self.upsamples[:-1]):
      features = self.conditioned(features, conditions)
      features = ops.relu(self.normalize(f"norm_{k}", upsample(features)))
      if not self.uses_skip(k):
        continue
      skip = skips[-1 - k]
      if self.skip_gating:
        skip = skip * ops.cast(self.skip_keep(k, difference, skip), skip.dtype)
      features = features + skip
    last_features = self.conditioned(features, conditions)
    output = self.upsamples[-1](last_features)
    if self.image_head_width:
      if images is None:
        raise ValueError("a decoder with image_head_width needs the images being edited")
      output = ops.relu(self.normalize("head_norm", output))
      last_features = ops.concatenate([output, ops.cast(images, output.dtype)], axis=-1)
      output = self.head(last_features)
    if self.masked_output:
      return ops.concatenate([ops.tanh(output[..., :3]), ops.sigmoid(output[..., 3:])], axis=-1)
    if self.output_gain:
      gain = 1.0 + ops.tanh(self.gain(last_features))
      return ops.concatenate([2.0 * ops.tanh(output), gain], axis=-1)
    return 2.0 * ops.tanh(output)

  def get_config(self):
    return {**super().get_config(), "encoder_widths": self.encoder_widths,
            "skip_gating": self.skip_gating, "dropped_fine_skips": self.dropped_fine_skips,
            "masked_output": self.masked_output, "image_head_width": self.image_head_width,
            "normalized": self.normalized, "condition_channels": self.condition_channels,
            "output_gain": self.output_gain}
