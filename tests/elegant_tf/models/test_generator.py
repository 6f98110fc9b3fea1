"""The generator (encoder + slab exchange + decoder) through the shared checks."""

import numpy as np
import tensorflow as tf

from elegant_tf.models import generator
from elegant_tf.models import precision
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


def test_an_output_gain_generator_scales_then_adds():
  inputs = _transfer_inputs()
  images = inputs["image"]
  gained = generator.ElegantGenerator(2, [4, 8, 8], output_gain=True)
  gained(inputs)
  rng = np.random.default_rng(3)
  gained.decoder.gain.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                                   for w in gained.decoder.gain.get_weights()])
  edited = np.asarray(gained(inputs)["edited"])
  # What the decoder said, combined by hand: input * gain + residual.
  latents, skips = gained.encode(np.concatenate([images, inputs["exemplar"]]))
  swapped = latent_swap.swap_latent_slabs(latents[:2], latents[2:], inputs["attributes"])
  output = np.asarray(gained.decoder(swapped, latents[:2], [s[:2] for s in skips]))
  assert output.shape == (2, 32, 32, 6) and np.ptp(output[..., 3:]) > 0.1
  expected = np.clip(images * output[..., 3:] + output[..., :3], -1, 1)
  np.testing.assert_allclose(edited, expected, atol=1e-5)
  twin = generator.ElegantGenerator.from_config(gained.get_config())
  assert twin.output_gain and twin.decoder.output_gain


def test_output_gain_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], output_gain=True),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_masked_output_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], masked_output=True),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_image_head_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], image_head_width=4),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])
  twin = generator.ElegantGenerator.from_config(
      generator.ElegantGenerator(2, [4, 8, 8], image_head_width=4).get_config())
  assert twin.image_head_width == 4 and twin.decoder.image_head_width == 4


def _readout_conditioned_generator():
  model = generator.ElegantGenerator(2, [4, 8, 8], readout_conditioned=True)
  model(_transfer_inputs())
  rng = np.random.default_rng(4)
  model.readout.kernel.assign(rng.normal(size=(8,)).astype("float32"))
  return model


def test_readout_conditioned_generator_decodes_with_the_readouts_change():
  model = _readout_conditioned_generator()
  inputs = _transfer_inputs()
  images = inputs["image"]
  latents, skips = model.encode(np.concatenate([images, inputs["exemplar"]]))
  latent_a, skips_a = latents[:2], [s[:2] for s in skips]
  # No exchange: the change is exactly zero.
  np.testing.assert_array_equal(np.asarray(model.attribute_change(latent_a, latent_a)), 0)
  swapped = latent_swap.swap_latent_slabs(latent_a, latents[2:], inputs["attributes"])
  change = np.asarray(model.attribute_change(swapped, latent_a))
  probability = lambda z: 1 / (1 + np.exp(-np.asarray(model.readout(z))))
  np.testing.assert_allclose(change, probability(swapped) - probability(latent_a), atol=1e-6)
  assert np.abs(change).max() > 1e-3
  # The transfer is the decoder given that change; another change gives another edit.
  edited = np.asarray(model(inputs)["edited"])
  by_hand = np.clip(images + np.asarray(model.decoder(swapped, latent_a, skips_a, images,
                                                      change)), -1, 1)
  np.testing.assert_allclose(edited, by_hand, atol=1e-5)
  other = np.clip(images + np.asarray(model.decoder(swapped, latent_a, skips_a, images,
                                                    np.zeros_like(change))), -1, 1)
  assert np.abs(edited - other).max() > 1e-4
  twin = generator.ElegantGenerator.from_config(model.get_config())
  assert twin.readout_conditioned and twin.decoder.condition_channels == 2
  assert not hasattr(generator.ElegantGenerator(2, [4, 8, 8]), "readout")


def test_only_the_readouts_own_loss_trains_it():
  # The change is held constant for the decoder's losses: an edit's gradient
  # reaches the decoder and not the readout.
  model = _readout_conditioned_generator()
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(model(_transfer_inputs())["edited"])
  kernel_gradient, decoder_gradient = tape.gradient(
      loss, [model.readout.kernel, model.decoder.upsamples[0].kernel])
  assert kernel_gradient is None or np.abs(np.asarray(kernel_gradient)).max() == 0
  assert np.abs(np.asarray(decoder_gradient)).max() > 0


def test_readout_conditioned_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(
      lambda: generator.ElegantGenerator(2, [4, 8, 8], readout_conditioned=True),
      (_transfer_inputs(),), tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])


def test_readout_conditioned_generator_runs_under_mixed_precision():
  with precision.policy_scope("mixed_bfloat16"):
    model = generator.ElegantGenerator(2, [4, 8, 8], readout_conditioned=True)
  inputs = _transfer_inputs()
  edited = model(inputs)["edited"]
  assert edited.dtype == "float32" and edited.shape == (2, 32, 32, 3)
  latents = model.encode(inputs["image"])[0]
  assert latents.dtype == "bfloat16"
  assert model.readout(latents).dtype == "float32"
