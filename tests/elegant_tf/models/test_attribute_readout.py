"""The slab readout: shared checks, logit i reads slab i alone, scale-free."""

import numpy as np

from elegant_tf.models import attribute_readout
from tests.elegant_tf import model_checks


def _latents(seed=0, scale=1.0):
  # Two slabs of 4 channels.
  return (scale * np.random.default_rng(seed).normal(size=(3, 4, 4, 8))).astype("float32")


def _readout_with_random_weights(seed=0):
  readout = attribute_readout.SlabReadout(2)
  readout(_latents())
  rng = np.random.default_rng(seed)
  readout.kernel.assign(rng.normal(size=(8,)).astype("float32"))
  readout.bias.assign(rng.normal(size=(2,)).astype("float32"))
  return readout


def test_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(lambda: attribute_readout.SlabReadout(2), (_latents(),), tmp_path,
                              expected_shapes=[(3, 2)])


def test_starts_undecided():
  # A zero kernel: every logit is the (zero) bias, so a conditioned decoder
  # starts as the unconditioned one.
  np.testing.assert_array_equal(np.asarray(attribute_readout.SlabReadout(2)(_latents())), 0)


def test_each_logit_reads_its_own_slab_only():
  readout = _readout_with_random_weights()
  latents = _latents()
  before = np.asarray(readout(latents))
  slab_0_changed = latents.copy()
  slab_0_changed[..., :4] = _latents(1)[..., :4]
  after = np.asarray(readout(slab_0_changed))
  np.testing.assert_array_equal(after[:, 1], before[:, 1])
  assert np.abs(after[:, 0] - before[:, 0]).min() > 1e-4


def test_logits_ignore_each_slabs_scale_and_offset():
  # Standardized per slab: a latent at 1/50 of the amplitude (as the encoder's
  # pixel norm makes them) reads the same as one at full amplitude.
  readout = _readout_with_random_weights()
  latents = _latents()
  shifted = latents / 50.0
  shifted[..., 4:] += 3.0
  np.testing.assert_allclose(np.asarray(readout(shifted)), np.asarray(readout(latents)),
                             rtol=1e-3, atol=1e-3)
  # And it is linear in the standardized features: a mean slab 0 flipped flips logit 0's
  # kernel part.
  bias = readout.bias.numpy()
  flipped = np.asarray(readout(-latents))
  np.testing.assert_allclose(flipped[:, 0] - bias[0], -(np.asarray(readout(latents))[:, 0]
                                                      - bias[0]), rtol=1e-4, atol=1e-4)
