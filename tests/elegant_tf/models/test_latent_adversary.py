"""The latent adversary: shared checks, and logit i blind to slab i."""

import numpy as np

from elegant_tf.models import latent_adversary
from tests.elegant_tf import model_checks


def _latents(seed=0):
  return np.random.default_rng(seed).normal(size=(3, 4, 4, 8)).astype("float32")  # 2 slabs of 4


def test_shared_layer_checks(tmp_path):
  model_checks.run_layer_test(lambda: latent_adversary.LatentAdversary(2, width=4),
                              (_latents(),), tmp_path, expected_shapes=[(3, 2)])


def test_each_logit_sees_every_channel_but_its_own_slab():
  model = latent_adversary.LatentAdversary(2, width=4)
  latents = _latents()
  before = np.asarray(model(latents))
  slab_0_changed = latents.copy()
  slab_0_changed[..., :4] = _latents(1)[..., :4]
  after = np.asarray(model(slab_0_changed))
  np.testing.assert_array_equal(after[:, 0], before[:, 0])  # Blind to its own slab.
  assert np.abs(after[:, 1] - before[:, 1]).min() > 1e-6  # Attribute 1 reads slab 0.
