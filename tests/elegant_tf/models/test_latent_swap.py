import numpy as np
import pytest

from elegant_tf.models import latent_swap


def test_slab_boundaries_use_rint_of_c_i_over_n():
  assert latent_swap.slab_boundaries(512, 3) == [(0, 171), (171, 341), (341, 512)]
  # rint rounds halves to even: 10*1/4 = 2.5 -> 2, 10*3/4 = 7.5 -> 8.
  assert latent_swap.slab_boundaries(10, 4) == [(0, 2), (2, 5), (5, 8), (8, 10)]
  assert latent_swap.slab_boundaries(8, 1) == [(0, 8)]


def test_slabs_cover_every_channel_once():
  for channels, n in [(512, 7), (256, 6), (17, 5)]:
    membership = latent_swap.slab_membership(channels, n)
    np.testing.assert_array_equal(membership.sum(axis=0), 1)


def test_too_many_attributes_for_channels_is_an_error():
  with pytest.raises(ValueError, match="at least one channel per attribute"):
    latent_swap.slab_boundaries(3, 4)


def test_swap_exchanges_exactly_the_chosen_slab():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(2, 3, 3, 10)).astype("float32")
  b = rng.normal(size=(2, 3, 3, 10)).astype("float32")
  c = np.asarray(latent_swap.swap_latent_slabs(a, b, np.array([[0, 1, 0, 0]] * 2, "float32")))
  np.testing.assert_array_equal(c[..., 2:5], b[..., 2:5])
  np.testing.assert_array_equal(c[..., :2], a[..., :2])
  np.testing.assert_array_equal(c[..., 5:], a[..., 5:])


def test_several_slabs_and_per_example_choices_and_interpolation():
  a = np.zeros((2, 1, 1, 4), "float32")
  b = np.ones((2, 1, 1, 4), "float32")
  weights = np.array([[1, 0, 1, 0], [0, 0.5, 0, 0]], "float32")
  c = np.asarray(latent_swap.swap_latent_slabs(a, b, weights))[:, 0, 0]
  np.testing.assert_allclose(c, [[1, 0, 1, 0], [0, 0.5, 0, 0]])
  # A single [n] weight vector applies to the whole batch.
  d = np.asarray(latent_swap.swap_latent_slabs(a, b, np.array([0, 0, 0, 1], "float32")))
  np.testing.assert_allclose(d[:, 0, 0], [[0, 0, 0, 1]] * 2)


def test_channel_weights_spread_each_attribute_weight_over_its_slab():
  weights = np.array([[1.0, 0.0], [0.25, 1.0]], np.float32)
  channels = np.asarray(latent_swap.channel_weights(weights, 5))  # Slabs [0, 2) and [2, 5).
  np.testing.assert_array_equal(channels, [[1, 1, 0, 0, 0], [0.25, 0.25, 1, 1, 1]])
  assert channels.dtype == np.float32
