"""The generator (encoder + slab exchange + decoder) through the shared checks."""

import numpy as np
import pytest

from elegant_tf.models import generator
from elegant_tf.models import latent_swap
from tests.elegant_tf import model_checks


def _transfer_inputs():
  """Two random faces, each taking one of two attributes from the other."""
  images = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  return {"image": images, "exemplar": images[::-1].copy(),
          "attributes": np.array([[1, 0], [0, 1]], "float32")}


def test_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(lambda: generator.ElegantGenerator(2, [4, 8, 8]),
                              (_transfer_inputs(),), tmp_path,
                              expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_apply_mask_keeps_the_input_where_the_mask_is_zero_and_paints_where_it_is_one():
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (1, 4, 4, 3)).astype("float32")
  colour = rng.uniform(-1, 1, (1, 4, 4, 3)).astype("float32")
  mask = np.zeros((1, 4, 4, 1), "float32")
  mask[:, :2] = 1.0
  mask[:, 2, 0] = 0.25
  out = np.asarray(generator.apply_mask(images, np.concatenate([colour, mask], axis=-1)))
  np.testing.assert_array_equal(out[:, 3], images[:, 3])  # Mask 0: the input, exactly.
  np.testing.assert_allclose(out[:, :2], colour[:, :2], atol=1e-6)  # Mask 1: the colour.
  np.testing.assert_allclose(out[:, 2, 0], 0.75 * images[:, 2, 0] + 0.25 * colour[:, 2, 0],
                             atol=1e-6)


def test_a_masked_output_generator_blends_instead_of_adding():
  inputs = _transfer_inputs()
  images = inputs["image"]
  masked = generator.ElegantGenerator(2, [4, 8, 8], masked_output=True)
  edited = np.asarray(masked(inputs)["edited"])
  # What the decoder said, combined by hand: input + mask * (colour - input).
  latents, skips = masked.encode(np.concatenate([images, inputs["exemplar"]]))
  swapped = latent_swap.swap_latent_slabs(latents[:2], latents[2:], inputs["attributes"])
  output = np.asarray(masked.decoder(swapped, latents[:2], [s[:2] for s in skips]))
  assert output.shape == (2, 32, 32, 4)
  assert 0 <= output[..., 3].min() and output[..., 3].max() <= 1
  expected = np.clip(images + output[..., 3:] * (output[..., :3] - images), -1, 1)
  np.testing.assert_allclose(edited, expected, atol=1e-5)
  twin = generator.ElegantGenerator.from_config(masked.get_config())
  assert twin.masked_output and twin.decoder.masked_output


def test_masked_output_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], masked_output=True),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_exchanged_skips_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], exchanged_skips=1),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_exchange_skips_swaps_the_chosen_slab_of_the_coarsest_skips_only():
  model = generator.ElegantGenerator(2, [4, 8, 8], exchanged_skips=1)
  rng = np.random.default_rng(1)
  own = [rng.normal(size=(1, 16, 16, 4)).astype("float32"),
         rng.normal(size=(1, 8, 8, 8)).astype("float32")]
  other = [rng.normal(size=(1, 16, 16, 4)).astype("float32"),
           rng.normal(size=(1, 8, 8, 8)).astype("float32")]
  fine, coarse = [np.asarray(s) for s in model.exchange_skips(own, other, np.array([[1.0, 0.0]]))]
  np.testing.assert_array_equal(fine, own[0])  # Finer than the exchanged levels: own.
  np.testing.assert_array_equal(coarse[..., :4], other[1][..., :4])  # Attribute 0's slab.
  np.testing.assert_array_equal(coarse[..., 4:], own[1][..., 4:])


def test_a_generator_with_exchanged_skips_decodes_the_edit_with_them():
  inputs = _transfer_inputs()
  model = generator.ElegantGenerator(2, [4, 8, 8], exchanged_skips=2)
  edited = np.asarray(model(inputs)["edited"])
  images, exemplars, weights = inputs["image"], inputs["exemplar"], inputs["attributes"]
  latent, skips = model.encode(images)
  exemplar_latent, exemplar_skips = model.encode(exemplars)
  expected = model.edit(images, latent_swap.swap_latent_slabs(latent, exemplar_latent, weights),
                        latent, model.exchange_skips(skips, exemplar_skips, weights))
  np.testing.assert_allclose(edited, np.asarray(expected), atol=1e-5)
  own_skips = model.edit(images, latent_swap.swap_latent_slabs(latent, exemplar_latent, weights),
                         latent, skips)
  assert np.abs(edited - np.asarray(own_skips)).max() > 1e-4  # The exchange changes the edit.
  # No exchange (weights 0) decodes with the image's own skips: the reconstruction.
  kept = model({**inputs, "attributes": np.zeros_like(weights)})["edited"]
  np.testing.assert_allclose(np.asarray(kept), np.asarray(model.edit(images, latent, latent, skips)),
                             atol=1e-5)


def test_more_exchanged_skips_than_the_decoder_uses_is_refused():
  with pytest.raises(ValueError, match="exchanged_skips=2: the decoder uses 1 skips"):
    generator.ElegantGenerator(2, [4, 8, 8], dropped_fine_skips=1, exchanged_skips=2)
