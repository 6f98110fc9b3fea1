"""The ELEGANT generator: encoder + decoder + latent slab exchange, as one Keras model.

`call` performs a transfer: the input receives the exemplar's chosen attributes
and the exemplar receives the input's (the paper's C and D).
"""

from typing import Sequence

import keras
from keras import ops

from elegant_tf.models import attribute_readout
from elegant_tf.models import decoder as decoder_lib
from elegant_tf.models import encoder as encoder_lib
from elegant_tf.models import latent_swap


def apply_residual(images, residual):
  """Images are edited by adding the decoder's residual, clipped to [-1, 1]."""
  return ops.clip(images + residual, -1.0, 1.0)


def apply_mask(images, colour_and_mask):
  """Images blended toward the decoder's colour where its mask says:
  images + mask * (colour - images); a zero mask keeps the input exactly."""
  colour, mask = colour_and_mask[..., :3], colour_and_mask[..., 3:]
  return ops.clip(images + mask * (colour - images), -1.0, 1.0)


def apply_gain_and_residual(images, residual_and_gain):
  """Images scaled per pixel by the decoder's gain, plus its residual:
  images * gain + residual; gain 1 and residual 0 keep the input exactly."""
  residual, gain = residual_and_gain[..., :3], residual_and_gain[..., 3:]
  return ops.clip(images * gain + residual, -1.0, 1.0)


@keras.saving.register_keras_serializable(package="elegant_tf")
class ElegantGenerator(keras.Model):
  """Encoder and decoder of ELEGANT over `num_attributes` latent slabs.

  `readout_conditioned=True` (not in the paper) adds `readout`, a linear reader of
  each attribute from its own slab (the trainer teaches it the real faces'
  labels), and conditions the decoder on `attribute_change`: how much the
  readout's probability of each attribute moves from the unedited to the edited
  latent. A reconstruction gets exactly 0; removing glasses about -1 for glasses.
  Every path that edits (transfer, interpolation, label-only prototypes, exports)
  goes through `edit` and so needs no labels at inference.
  """

  def __init__(self, num_attributes: int, encoder_widths: Sequence[int] = (64, 128, 256, 512, 512),
               skip_gating: bool = False, dropped_fine_skips: int = 0,
               masked_output: bool = False, image_head_width: int = 0,
               encoder_normalized: bool = True, decoder_normalized: bool = True,
               readout_conditioned: bool = False, output_gain: bool = False, **kwargs):
    super().__init__(**kwargs)
    self.num_attributes = int(num_attributes)
    self.encoder_widths = list(encoder_widths)
    self.skip_gating = bool(skip_gating)
    self.dropped_fine_skips = int(dropped_fine_skips)
    self.masked_output = bool(masked_output)
    self.image_head_width = int(image_head_width)
    self.encoder_normalized = bool(encoder_normalized)
    self.decoder_normalized = bool(decoder_normalized)
    self.readout_conditioned = bool(readout_conditioned)
    self.output_gain = bool(output_gain)
    latent_swap.slab_boundaries(self.encoder_widths[-1], self.num_attributes)  # Validates.
    self.encoder = encoder_lib.Encoder(self.encoder_widths, normalized=self.encoder_normalized,
                                       name="encoder")
    self.decoder = decoder_lib.Decoder(self.encoder_widths, skip_gating=self.skip_gating,
                                       dropped_fine_skips=self.dropped_fine_skips,
                                       masked_output=self.masked_output,
                                       image_head_width=self.image_head_width,
                                       normalized=self.decoder_normalized,
                                       condition_channels=(self.num_attributes
                                                           if self.readout_conditioned else 0),
                                       output_gain=self.output_gain, name="decoder")
    if self.readout_conditioned:
      self.readout = attribute_readout.SlabReadout(self.num_attributes, name="readout")

  @property
  def depth(self) -> int:
    return len(self.encoder_widths)

  def encode(self, images):
    """Return (latent, skips)."""
    return self.encoder(images)

  def exchange_pairs(self, latents, attribute_weights):
    """Latents of [A; B] stacked on the batch axis -> the edited latents [C; D]: C is A
    with the chosen slabs from B, D is B with A's. Each is decoded with its own image's
    unedited latent and skips."""
    size = ops.shape(latents)[0] // 2
    latent_a, latent_b = latents[:size], latents[size:]
    return ops.concatenate([latent_swap.swap_latent_slabs(latent_a, latent_b, attribute_weights),
                            latent_swap.swap_latent_slabs(latent_b, latent_a, attribute_weights)],
                           axis=0)

  def attribute_change(self, edited_latent, latent):
    """[b, n] float32: sigmoid(readout(edited)) - sigmoid(readout(unedited)), in [-1, 1].

    Held constant for the decoder's losses (stop_gradient): only the readout's own
    classification loss trains the readout, so the adversarial loss cannot move
    what the condition means.
    """
    change = ops.sigmoid(self.readout(edited_latent)) - ops.sigmoid(self.readout(latent))
    return ops.stop_gradient(change)

  def edit(self, images, edited_latent, latent, skips):
    """Decode an edited latent of `images` (with their own latent and skips) into images.

    The result is float32 under every policy: the residual is added to the
    image (with `masked_output`, the colour blended in by the mask; with
    `output_gain`, the image scaled by the gain first) and clipped in float32,
    so a mixed-precision generator's outputs (loss targets, samples, exports)
    carry no 16-bit rounding of the unchanged pixels.
    """
    conditions = (self.attribute_change(edited_latent, latent)
                  if self.readout_conditioned else None)
    output = ops.cast(self.decoder(edited_latent, latent, skips, images, conditions),
                      "float32")
    combine = (apply_mask if self.masked_output
               else apply_gain_and_residual if self.output_gain else apply_residual)
    return combine(ops.cast(images, "float32"), output)

  def call(self, inputs):
    """inputs: dict(image, exemplar: [b, S, S, 3] in [-1, 1]; attributes: [b, n] weights).

    Returns dict(edited: image with the exemplar's chosen attributes,
    exemplar_edited: exemplar with the image's chosen attributes).
    """
    images, exemplars = inputs["image"], inputs["exemplar"]
    weights = inputs["attributes"]
    batch = ops.shape(images)[0]
    latents, skips = self.encode(ops.concatenate([images, exemplars], axis=0))
    # One decoder pass over both edits: A's skips for C, B's skips for D.
    edited = self.edit(ops.concatenate([images, exemplars], axis=0),
                       self.exchange_pairs(latents, weights), latents, skips)
    return {"edited": edited[:batch], "exemplar_edited": edited[batch:]}

  def get_config(self):
    return {**super().get_config(), "num_attributes": self.num_attributes,
            "encoder_widths": self.encoder_widths, "skip_gating": self.skip_gating,
            "dropped_fine_skips": self.dropped_fine_skips, "masked_output": self.masked_output,
            "image_head_width": self.image_head_width,
            "encoder_normalized": self.encoder_normalized,
            "decoder_normalized": self.decoder_normalized,
            "readout_conditioned": self.readout_conditioned, "output_gain": self.output_gain}
