"""The ELEGANT generator: encoder + decoder + latent slab exchange, as one Keras model.

`call` performs a transfer: the input receives the exemplar's chosen attributes
and the exemplar receives the input's (the paper's C and D).
"""

from typing import Sequence

import keras
from keras import ops

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


@keras.saving.register_keras_serializable(package="elegant_tf")
class ElegantGenerator(keras.Model):
  """Encoder and decoder of ELEGANT over `num_attributes` latent slabs."""

  def __init__(self, num_attributes: int, encoder_widths: Sequence[int] = (64, 128, 256, 512, 512),
               skip_gating: bool = False, dropped_fine_skips: int = 0,
               masked_output: bool = False, exchanged_skips: int = 0, **kwargs):
    """exchanged_skips (not in the paper): the decoder's k coarsest skips are cut into
    attribute slabs like the latent and exchanged with it (see exchange_skips)."""
    super().__init__(**kwargs)
    self.num_attributes = int(num_attributes)
    self.encoder_widths = list(encoder_widths)
    self.skip_gating = bool(skip_gating)
    self.dropped_fine_skips = int(dropped_fine_skips)
    self.masked_output = bool(masked_output)
    self.exchanged_skips = int(exchanged_skips)
    used_skips = len(self.encoder_widths) - 1 - self.dropped_fine_skips
    if not 0 <= self.exchanged_skips <= used_skips:
      raise ValueError(f"exchanged_skips={self.exchanged_skips}: the decoder uses "
                       f"{used_skips} skips")
    latent_swap.slab_boundaries(self.encoder_widths[-1], self.num_attributes)  # Validates.
    for width in self.encoder_widths[-1 - self.exchanged_skips:-1]:
      latent_swap.slab_boundaries(width, self.num_attributes)
    self.encoder = encoder_lib.Encoder(self.encoder_widths, name="encoder")
    self.decoder = decoder_lib.Decoder(self.encoder_widths, skip_gating=self.skip_gating,
                                       dropped_fine_skips=self.dropped_fine_skips,
                                       masked_output=self.masked_output, name="decoder")

  @property
  def depth(self) -> int:
    return len(self.encoder_widths)

  def encode(self, images):
    """Return (latent, skips)."""
    return self.encoder(images)

  def exchange_skips(self, skips, exemplar_skips, attribute_weights):
    """The skips an edit decodes with: the `exchanged_skips` coarsest levels take the
    chosen attributes' slabs from the exemplar's skips, as the latent does; the rest
    (and everything when exchanged_skips = 0) stay the edited image's own.

    The coarse skips carry the edited face's own attributes past the exchanged latent
    (A's glasses reach C at 16x16 whatever the slab says), and a shape such as a
    fringe is better drawn at 16x16 than from an 8x8 slab."""
    first = len(skips) - self.exchanged_skips
    return [skip if k < first else latent_swap.swap_latent_slabs(skip, other, attribute_weights)
            for k, (skip, other) in enumerate(zip(skips, exemplar_skips))]

  def exchange_pairs(self, latents, skips, attribute_weights):
    """Codes of [A; B] stacked on the batch axis -> the codes of [C; D] to decode:
    C is A with the chosen slabs from B, D is B with A's (latent, and the coarsest
    skips if exchanged_skips). Returns (edited latents, skips to decode them with)."""
    size = ops.shape(latents)[0] // 2
    latent_a, latent_b = latents[:size], latents[size:]
    edited = ops.concatenate([latent_swap.swap_latent_slabs(latent_a, latent_b, attribute_weights),
                              latent_swap.swap_latent_slabs(latent_b, latent_a, attribute_weights)],
                             axis=0)
    if self.exchanged_skips:
      skips_a, skips_b = [s[:size] for s in skips], [s[size:] for s in skips]
      skips = [ops.concatenate([c, d], axis=0) for c, d in zip(
          self.exchange_skips(skips_a, skips_b, attribute_weights),
          self.exchange_skips(skips_b, skips_a, attribute_weights))]
    return edited, skips

  def edit(self, images, edited_latent, latent, skips):
    """Decode an edited latent of `images` (with their own latent and skips) into images.

    The result is float32 under every policy: the residual is added to the
    image (or, with `masked_output`, the colour blended in by the mask) and
    clipped in float32, so a mixed-precision generator's outputs (loss targets,
    samples, exports) carry no 16-bit rounding of the unchanged pixels.
    """
    output = ops.cast(self.decoder(edited_latent, latent, skips), "float32")
    combine = apply_mask if self.masked_output else apply_residual
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
    edited_latents, edit_skips = self.exchange_pairs(latents, skips, weights)
    # One decoder pass over both edits: the image's skips for it, the exemplar's for it.
    edited = self.edit(ops.concatenate([images, exemplars], axis=0), edited_latents, latents,
                       edit_skips)
    return {"edited": edited[:batch], "exemplar_edited": edited[batch:]}

  def get_config(self):
    return {**super().get_config(), "num_attributes": self.num_attributes,
            "encoder_widths": self.encoder_widths, "skip_gating": self.skip_gating,
            "dropped_fine_skips": self.dropped_fine_skips, "masked_output": self.masked_output,
            "exchanged_skips": self.exchanged_skips}
