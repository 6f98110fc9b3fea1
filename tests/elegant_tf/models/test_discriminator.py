import numpy as np
import pytest

from elegant_tf.models import discriminator
from tests.elegant_tf import model_checks


@pytest.mark.parametrize("size", [32, 64, 96])
def test_one_score_per_image_at_any_size(size):
  d = discriminator.Discriminator([4, 8, 8, 8])
  scores = d(np.zeros((3, size, size, 3), "float32"), np.zeros((3, 5), "float32"))
  assert tuple(scores.shape) == (3,)
  # The flatten size is derived from the image size: 4 stride-2 blocks.
  assert d.score.kernel.shape[0] == (size // 16) ** 2 * 8


def test_half_resolution_discriminator_pools_first():
  d2 = discriminator.Discriminator([4, 8, 8, 8], downsample=2)
  d2(np.zeros((1, 64, 64, 3), "float32"), np.zeros((1, 2), "float32"))
  assert d2.score.kernel.shape[0] == 2 * 2 * 8


def test_labels_change_the_score():
  d = discriminator.Discriminator([4, 8, 8, 8])
  x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
  a = float(d(x, np.array([[1.0, 0.0]], "float32"))[0])
  b = float(d(x, np.array([[0.0, 1.0]], "float32"))[0])
  assert a != b


@pytest.mark.parametrize("settings, shape", [
    ({"downsample": 2}, (2,)),
    ({"patch": True, "num_classes": 2}, (2, 2, 2)),
    ({"conditioning": "projection", "num_labels": 2}, (2,)),
    ({"conditioning": "channels_projection", "num_labels": 2}, (2,)),
    ({"normalization": "none"}, (2,)),
])
def test_shared_layer_checks(tmp_path, settings, shape):
  x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  y = np.array([[1, 0], [0, 1]], "float32")
  model_checks.run_layer_test(lambda: discriminator.Discriminator([4, 8, 8, 8], **settings),
                              (x, y), tmp_path, expected_shapes=[shape])


def test_classifier_head_does_not_see_the_labels():
  d = discriminator.Discriminator([4, 8, 8, 8], num_classes=3)
  x = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  d(x, np.ones((2, 3), "float32"))
  logits = np.asarray(d.classify(x, 3))
  assert logits.shape == (2, 3)
  # The realism score depends on labels; the classifier takes only the image.
  assert np.abs(logits[0] - logits[1]).max() > 0
  np.testing.assert_allclose(np.asarray(d.classify(x, 3)), logits)


def test_patch_discriminator_scores_each_cell_of_the_last_map():
  d = discriminator.Discriminator([4, 8, 8, 8], patch=True, num_classes=2)
  x = np.random.default_rng(4).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
  scores = np.asarray(d(x, np.ones((2, 2), "float32")))
  assert scores.shape == (2, 4, 4)  # 64 px / 2**4 blocks.
  assert np.abs(scores - scores[:, :1, :1]).max() > 0  # The cells differ.
  assert np.asarray(d.classify(x, 2)).shape == (2, 2)  # The class head stays global.


def test_projection_discriminator_adds_the_signed_label_projection():
  d = discriminator.Discriminator([4, 8, 8, 8], conditioning="projection", num_labels=3)
  x = np.random.default_rng(5).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  y = np.array([[1, 0, 1], [0, 1, 1]], "float32")
  scores = np.asarray(d(x, y))
  assert scores.shape == (2,)
  # Numpy reference: score(phi) + sum_j (2 y_j - 1) <v_j, phi>.
  flat = np.asarray(d.flatten(d._features(x, y)))
  expected = (flat @ d.score.kernel.numpy() + d.score.bias.numpy())[:, 0] + np.sum(
      (2 * y - 1) * (flat @ d.projection.kernel.numpy()), axis=1)
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
  # The labels stay out of the input: the first block sees 3 channels only.
  assert d.block_0.layers[0].kernel.shape[2] == 3
  flipped = np.asarray(d(x, 1 - y))
  assert np.abs(flipped - scores).max() > 0


def test_paper_conditioning_is_the_default_and_bad_settings_are_named():
  d = discriminator.Discriminator([4, 8, 8, 8])
  assert d.conditioning == "channels" and d.projection is None
  with pytest.raises(ValueError, match="conditioning"):
    discriminator.Discriminator([4, 8, 8, 8], conditioning="embedding")
  with pytest.raises(ValueError, match="num_labels"):
    discriminator.Discriminator([4, 8, 8, 8], conditioning="projection")
  with pytest.raises(ValueError, match="patch"):
    discriminator.Discriminator([4, 8, 8, 8], conditioning="projection", num_labels=2,
                                patch=True)


def test_channels_projection_reads_labels_as_channels_and_by_projection():
  d = discriminator.Discriminator([4, 8, 8, 8], conditioning="channels_projection", num_labels=3)
  x = np.random.default_rng(6).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  y = np.array([[1, 0, 1], [0, 1, 1]], "float32")
  scores = np.asarray(d(x, y))
  # The first block sees image + 3 label channels, and the projection is added.
  assert d.block_0.layers[0].kernel.shape[2] == 6
  flat = np.asarray(d.flatten(d._features(x, y)))
  expected = (flat @ d.score.kernel.numpy() + d.score.bias.numpy())[:, 0] + np.sum(
      (2 * y - 1) * (flat @ d.projection.kernel.numpy()), axis=1)
  np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


def test_without_normalization_the_score_follows_the_amplitude():
  # Zero biases at initialization and LeakyReLU's positive homogeneity: without
  # the normalization, an image at twice the amplitude scores twice as high (no
  # labels to tile); with it, the per-pixel division cancels the factor.
  x = np.random.default_rng(7).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  y = np.zeros((2, 2), "float32")
  plain = discriminator.Discriminator([4, 8, 8, 8], normalization="none")
  np.testing.assert_allclose(np.asarray(plain(2 * x, y)), 2 * np.asarray(plain(x, y)),
                             rtol=1e-4, atol=1e-6)
  normalized = discriminator.Discriminator([4, 8, 8, 8])
  np.testing.assert_allclose(np.asarray(normalized(2 * x, y)), np.asarray(normalized(x, y)),
                             rtol=1e-3, atol=1e-6)
  assert [type(layer).__name__ for layer in plain.block_0.layers] == ["Conv2D", "LeakyReLU"]
  assert discriminator.Discriminator.from_config(plain.get_config()).normalization == "none"
  with pytest.raises(ValueError, match="normalization 'batch'"):
    discriminator.Discriminator([4, 8, 8, 8], normalization="batch")
