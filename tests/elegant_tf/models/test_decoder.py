import numpy as np
import pytest

from elegant_tf.models import decoder
from elegant_tf.models import encoder
from tests.elegant_tf import model_checks


def _inputs(widths, size=32, seed=0):
  x = np.random.default_rng(seed).uniform(-1, 1, (2, size, size, 3)).astype("float32")
  latent, skips = encoder.Encoder(widths)(x)
  return latent, skips


def test_output_is_full_size_residual_in_minus_two_two():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths)
  residual = np.asarray(dec(latent * 50, latent, skips))
  assert residual.shape == (2, 32, 32, 3)
  assert residual.min() >= -2 and residual.max() <= 2
  # Paper widths mirror the encoder: 512, 256, 128, 64, 3.
  assert [u.filters for u in decoder.Decoder().upsamples] == [512, 256, 128, 64, 3]


def test_skips_are_added():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths)
  base = np.asarray(dec(latent, latent, skips))
  zeroed = np.asarray(dec(latent, latent, [s * 0 for s in skips]))
  assert np.abs(base - zeroed).max() > 1e-4


def test_edited_latent_changes_output():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths)
  assert np.abs(np.asarray(dec(latent, latent, skips))
                - np.asarray(dec(-latent, latent, skips))).max() > 1e-4


def test_shared_layer_checks(tmp_path):
  widths = [4, 8, 8]
  latent, skips = _inputs(widths)
  inputs = (np.asarray(latent), np.asarray(latent), [np.asarray(skip) for skip in skips])
  model_checks.run_layer_test(lambda: decoder.Decoder(widths), inputs, tmp_path,
                              expected_shapes=[(2, 32, 32, 3)])


def test_skip_gating_keeps_reconstructions_and_changes_edits():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  plain = decoder.Decoder(widths)
  gated = decoder.Decoder(widths, skip_gating=True)
  plain(latent, latent, skips)
  gated(latent, latent, skips)
  # Same weights for the shared layers; the gates are the only extra variables.
  gate_names = {v.path for v in gated.weights if "skip_gate" in v.path}
  assert len(gate_names) == 2
  shared = [v for v in gated.weights if "skip_gate" not in v.path]
  for target, source in zip(shared, plain.weights):
    target.assign(source)
  for v in gated.weights:
    if "skip_gate" in v.path:
      v.assign(np.full(v.shape, 0.5, "float32"))
  # No latent difference: every skip is kept whole, bit for bit.
  np.testing.assert_array_equal(np.asarray(gated(latent, latent, skips)),
                                np.asarray(plain(latent, latent, skips)))
  # An exchanged latent closes the gates where it differs, so the edit changes.
  edited = np.asarray(latent) * 3.0
  assert np.abs(np.asarray(gated(edited, latent, skips))
                - np.asarray(plain(edited, latent, skips))).max() > 1e-3
  keep = np.asarray(gated.skip_keep(0, edited - np.asarray(latent), skips[-1]))
  assert keep.shape == tuple(skips[-1].shape) and keep.min() >= 0 and keep.max() <= 1
  assert keep.min() < 0.5


def test_skip_gating_shared_layer_checks(tmp_path):
  widths = [4, 8, 8]
  latent, skips = _inputs(widths)
  inputs = (np.asarray(latent) * 2, np.asarray(latent), [np.asarray(skip) for skip in skips])
  model_checks.run_layer_test(lambda: decoder.Decoder(widths, skip_gating=True), inputs, tmp_path,
                              expected_shapes=[(2, 32, 32, 3)])


def test_dropped_fine_skips_ignore_the_finest_skip_only():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dropped = decoder.Decoder(widths, dropped_fine_skips=1)
  before = np.asarray(dropped(latent, latent, skips))
  # The finest skip (skips[0], half resolution) no longer reaches the output...
  changed_fine = [np.asarray(skips[0]) + 5.0] + list(skips[1:])
  np.testing.assert_array_equal(np.asarray(dropped(latent, latent, changed_fine)), before)
  # ...the coarser one still does.
  changed_coarse = list(skips[:-1]) + [np.asarray(skips[-1]) + 5.0]
  assert np.abs(np.asarray(dropped(latent, latent, changed_coarse)) - before).max() > 1e-3
  assert decoder.Decoder.from_config(dropped.get_config()).dropped_fine_skips == 1


def test_dropped_fine_skips_beyond_the_skips_are_refused():
  with pytest.raises(ValueError, match="dropped_fine_skips=3: the decoder has 2 skips"):
    decoder.Decoder([8, 16, 16], dropped_fine_skips=3)


def test_masked_output_gives_a_colour_in_minus_one_one_and_a_mask_in_zero_one():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths, masked_output=True)
  output = np.asarray(dec(latent * 50, latent, skips))
  assert output.shape == (2, 32, 32, 4)
  assert output.min() >= -1 and output.max() <= 1 and output[..., 3].min() >= 0
  assert dec.upsamples[-1].filters == 4
  assert decoder.Decoder.from_config(dec.get_config()).masked_output


def test_output_gain_starts_at_one_and_stays_in_its_range():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths, output_gain=True)
  plain = decoder.Decoder(widths)
  output = np.asarray(dec(latent * 50, latent, skips))
  assert output.shape == (2, 32, 32, 6)
  np.testing.assert_array_equal(output[..., 3:], 1.0)  # Zero-initialised: gain exactly 1.
  plain(latent * 50, latent, skips)
  # The residual is the plain decoder's, given the same weights.
  plain.set_weights([w for layer in dec.layers if layer.name != "gain" for w in layer.get_weights()])
  np.testing.assert_allclose(output[..., :3], np.asarray(plain(latent * 50, latent, skips)),
                             atol=1e-6)
  # Trained weights may move the gain, but only within [0, 2].
  for sign in (1.0, -1.0):
    dec.gain.set_weights([np.full_like(w, sign * 10.0) for w in dec.gain.get_weights()])
    gain = np.asarray(dec(latent * 50, latent, skips))[..., 3:]
    assert gain.max() <= 2.0 and gain.min() >= 0.0
    assert (gain.max() > 1.5) if sign > 0 else (gain.min() < 0.5)
  assert decoder.Decoder.from_config(dec.get_config()).output_gain
  with pytest.raises(ValueError, match="output_gain and masked_output"):
    decoder.Decoder(widths, output_gain=True, masked_output=True)


def test_image_head_reads_the_image_at_full_resolution():
  widths = [8, 16, 16]
  images = np.random.default_rng(5).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  latent, skips = encoder.Encoder(widths)(images)
  dec = decoder.Decoder(widths, image_head_width=6)
  before = np.asarray(dec(latent, latent, skips, images))
  assert before.shape == (2, 32, 32, 3) and before.min() >= -2 and before.max() <= 2
  assert dec.upsamples[-1].filters == 6 and dec.head.filters == 3
  # One changed pixel of the image changes the output within the head's 3x3 window only.
  changed = images.copy()
  changed[0, 10, 20] += 0.5
  difference = np.abs(np.asarray(dec(latent, latent, skips, changed)) - before).max(-1)
  assert difference[0, 9:12, 19:22].max() > 1e-4
  outside = difference[0].copy()
  outside[9:12, 19:22] = 0
  assert outside.max() == 0 and difference[1].max() == 0
  with pytest.raises(ValueError, match="needs the images being edited"):
    dec(latent, latent, skips)
  assert decoder.Decoder.from_config(dec.get_config()).image_head_width == 6


def test_image_head_shared_layer_checks(tmp_path):
  widths = [4, 8, 8]
  images = np.random.default_rng(6).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  latent, skips = encoder.Encoder(widths)(images)
  inputs = (np.asarray(latent), np.asarray(latent), [np.asarray(skip) for skip in skips], images)
  model_checks.run_layer_test(lambda: decoder.Decoder(widths, image_head_width=4), inputs,
                              tmp_path, expected_shapes=[(2, 32, 32, 3)])


def test_without_normalization_the_features_keep_their_amplitude():
  # Zero biases: with the normalization, a latent at twice the amplitude (and no
  # skips) gives the same residual; without it, a different one.
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  zero_skips = [np.zeros_like(s) for s in skips]
  normed, plain = decoder.Decoder(widths), decoder.Decoder(widths, normalized=False)
  np.testing.assert_allclose(np.asarray(normed(2 * latent, 2 * latent, zero_skips)),
                             np.asarray(normed(latent, latent, zero_skips)), atol=1e-5)
  assert np.abs(np.asarray(plain(2 * latent, 2 * latent, zero_skips))
                - np.asarray(plain(latent, latent, zero_skips))).max() > 1e-6
  assert not any("norm" in v.path for v in plain.weights)
  assert not decoder.Decoder.from_config(plain.get_config()).normalized
  # The other options keep their layers.
  gated = decoder.Decoder(widths, skip_gating=True, normalized=False)
  gated(latent, latent, skips)
  assert len({v.path for v in gated.weights if "skip_gate" in v.path}) == 2


def test_unnormalized_shared_layer_checks(tmp_path):
  widths = [4, 8, 8]
  images = np.random.default_rng(7).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  latent, skips = encoder.Encoder(widths)(images)
  inputs = (np.asarray(latent), np.asarray(latent), [np.asarray(skip) for skip in skips], images)
  model_checks.run_layer_test(
      lambda: decoder.Decoder(widths, image_head_width=4, normalized=False), inputs, tmp_path,
      expected_shapes=[(2, 32, 32, 3)])


def test_conditions_reach_every_block_and_are_required():
  widths = [8, 16, 16]
  latent, skips = _inputs(widths)
  dec = decoder.Decoder(widths, condition_channels=2)
  zero = np.zeros((2, 2), "float32")
  removal = np.array([[-1, 0], [-1, 0]], "float32")
  base = np.asarray(dec(latent, latent, skips, conditions=zero))
  assert np.abs(np.asarray(dec(latent, latent, skips, conditions=removal)) - base).max() > 1e-4
  # Every transposed conv reads the n extra channels (its kernel's input axis).
  plain = decoder.Decoder(widths)
  plain(latent, latent, skips)
  for conditioned, unconditioned in zip(dec.upsamples, plain.upsamples):
    assert conditioned.kernel.shape[-1] == unconditioned.kernel.shape[-1] + 2
  with pytest.raises(ValueError, match="needs conditions"):
    dec(latent, latent, skips)
  with pytest.raises(ValueError, match="condition_channels=-1"):
    decoder.Decoder(widths, condition_channels=-1)
  assert decoder.Decoder.from_config(dec.get_config()).condition_channels == 2


def test_conditioned_shared_layer_checks(tmp_path):
  widths = [4, 8, 8]
  images = np.random.default_rng(8).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  latent, skips = encoder.Encoder(widths)(images)
  conditions = np.array([[-1, 0.5], [0, 1]], "float32")
  inputs = (np.asarray(latent), np.asarray(latent), [np.asarray(skip) for skip in skips], None,
            conditions)
  model_checks.run_layer_test(lambda: decoder.Decoder(widths, condition_channels=2), inputs,
                              tmp_path, expected_shapes=[(2, 32, 32, 3)])
