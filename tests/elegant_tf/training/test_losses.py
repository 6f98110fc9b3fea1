import numpy as np
import pytest

from elegant_tf.training import losses


def _bce(p, target):
  return -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_gan_loss_is_bce_of_the_sigmoid():
  logits = np.array([-3.0, -0.5, 0.0, 2.0, 40.0], "float32")
  p = 1 / (1 + np.exp(-logits.astype("float64")))
  p = np.clip(p, 1e-12, 1 - 1e-12)
  np.testing.assert_allclose(float(losses.discriminator_real_loss("gan", logits)),
                             _bce(p, 1), rtol=1e-5)
  np.testing.assert_allclose(float(losses.discriminator_fake_loss("gan", logits[:4])),
                             _bce(p[:4], 0), rtol=1e-5)
  np.testing.assert_allclose(float(losses.generator_adversarial_loss("gan", logits)),
                             _bce(p, 1), rtol=1e-5)


def test_large_logits_stay_finite():
  assert np.isfinite(float(losses.discriminator_fake_loss("gan", np.array([1e4], "float32"))))


def test_lsgan_and_hinge():
  x = np.array([-2.0, 0.5, 3.0], "float32")
  assert float(losses.discriminator_real_loss("lsgan", x)) == pytest.approx(np.mean((x - 1) ** 2))
  assert float(losses.discriminator_fake_loss("lsgan", x)) == pytest.approx(np.mean(x ** 2))
  assert float(losses.discriminator_real_loss("hinge", x)) == pytest.approx(
      np.mean(np.maximum(0, 1 - x)))
  assert float(losses.discriminator_fake_loss("hinge", x)) == pytest.approx(
      np.mean(np.maximum(0, 1 + x)))
  assert float(losses.generator_adversarial_loss("hinge", x)) == pytest.approx(-np.mean(x))


def test_reconstruction_is_mse():
  a = np.zeros((2, 2, 2, 3), "float32")
  b = np.full((2, 2, 2, 3), 0.5, "float32")
  assert float(losses.reconstruction_loss(a, b)) == pytest.approx(0.25)


def test_unknown_loss_names_valid_choices():
  with pytest.raises(ValueError, match="gan, lsgan, hinge"):
    losses.generator_adversarial_loss("wgan", np.zeros(1, "float32"))


def test_attribute_classification_is_mean_multilabel_bce():
  logits = np.array([[2.0, -1.0], [0.0, 3.0]], "float32")
  labels = np.array([[1, 0], [0, 1]], "float32")
  p = 1 / (1 + np.exp(-logits.astype("float64")))
  expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
  assert float(losses.attribute_classification_loss(logits, labels)) == pytest.approx(expected,
                                                                                      rel=1e-5)


def test_edited_attribute_classification_counts_only_edited_entries():
  logits = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], "float32")
  labels = np.array([[1, 1, 0], [0, 1, 1]], "float32")
  edited = np.array([[0, 1, 0], [0, 0, 1]], "float32")
  p = 1 / (1 + np.exp(-logits.astype("float64")))
  bce = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
  expected = np.mean(np.sum(bce * edited, axis=-1))  # (bce[0,1] + bce[1,2]) / 2
  assert float(losses.edited_attribute_classification_loss(logits, labels, edited)) == (
      pytest.approx(expected, rel=1e-5))
  # Entries that were not edited do not move the loss, however wrong they are.
  wrong_elsewhere = logits.copy()
  wrong_elsewhere[0, 0] = -20.0
  assert float(losses.edited_attribute_classification_loss(wrong_elsewhere, labels, edited)) == (
      pytest.approx(expected, rel=1e-5))


def test_swap_back_loss_is_mean_absolute_error():
  a = np.zeros((1, 2, 2, 3), "float32")
  assert float(losses.swap_back_loss(a, a + 0.25)) == pytest.approx(0.25)


def test_latent_consistency_loss_averages_the_counted_channels_only():
  target = np.zeros((2, 2, 2, 4), "float32")
  reencoded = target.copy()
  reencoded[0, :, :, 1] = 0.5  # counted for the first face
  reencoded[1, :, :, 3] = -1.0  # counted for the second face
  reencoded[:, :, :, 0] = 9.0  # never counted
  mask = np.array([[0, 1, 1, 0], [0, 0, 0, 1]], "float32")
  # 4 cells x (0.5 + 0 + 1.0) over 4 cells x 3 counted channels.
  assert float(losses.latent_consistency_loss(reencoded, target, mask)) == pytest.approx(0.5)


def test_r1_penalty_is_half_the_mean_squared_gradient_norm():
  gradients = np.zeros((2, 2, 2, 3), "float32")
  gradients[0, 0, 0, 0] = 3.0
  gradients[0, 1, 1, 2] = 4.0  # |g_0|^2 = 25
  gradients[1] = 1.0  # |g_1|^2 = 12
  assert float(losses.r1_penalty(gradients)) == pytest.approx(0.5 * (25 + 12) / 2)


@pytest.mark.parametrize("kind, boundary", [("gan", 0.0), ("hinge", 0.0), ("lsgan", 0.5)])
def test_discriminator_accuracy_counts_the_correct_side_of_the_boundary(kind, boundary):
  logits = np.array([-2.0, -0.1, 0.2, 0.4, 0.7, 3.0], np.float32)
  real = float(losses.discriminator_accuracy(kind, logits, True))
  fake = float(losses.discriminator_accuracy(kind, logits, False))
  assert real == pytest.approx(np.mean(logits > boundary))
  assert fake == pytest.approx(np.mean(logits <= boundary))
  assert real + fake == pytest.approx(1.0)


def test_flip_exchanged_labels_negates_only_the_exchanged_attribute():
  labels = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
  exchanged = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
  np.testing.assert_array_equal(np.asarray(losses.flip_exchanged_labels(labels, exchanged)),
                                [[0, 0, 1], [0, 0, 0]])


def test_confusion_loss_is_lowest_at_chance_and_symmetric():
  assert float(losses.confusion_loss(np.zeros((2, 3), np.float32))) == pytest.approx(np.log(2))
  sure = float(losses.confusion_loss(np.full((2, 3), 4.0, np.float32)))
  assert sure > np.log(2) + 1
  assert float(losses.confusion_loss(np.full((2, 3), -4.0, np.float32))) == pytest.approx(sure)


def test_absent_slab_loss_is_the_absent_slabs_mean_magnitude_relative_to_the_whole_latent():
  latents = np.zeros((2, 2, 2, 4), np.float32)
  latents[0, ..., :2] = -3.0  # Face 0's slab 0, which it lacks.
  latents[0, ..., 2:] = 7.0  # Face 0's slab 1, which it has: not counted.
  latents[1, ..., 2:] = 1.0  # Face 1's slab 1, which it lacks.
  absent = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], np.float32)
  overall = np.abs(latents).mean()  # (2*3 + 2*7 + 2*1) * 4 pixels / 32 entries = 2.75
  assert float(losses.absent_slab_loss(latents, absent)) == pytest.approx((3.0 + 1.0) / 2 / overall)
  assert float(losses.absent_slab_loss(latents, np.zeros_like(absent))) == 0.0
  # Blind to the latent's scale, as the decoder is.
  assert float(losses.absent_slab_loss(10 * latents, absent)) == pytest.approx(
      float(losses.absent_slab_loss(latents, absent)))
