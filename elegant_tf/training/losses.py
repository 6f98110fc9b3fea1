"""Loss terms of ELEGANT as small pure functions over logits, picked by name.

Every function returns the mean over its batch (a per-replica mean under a
distribution strategy); the train step scales totals for the replica count.
"""

from keras import ops

GAN_LOSSES = ("gan", "lsgan", "hinge")


def _check(kind):
  if kind not in GAN_LOSSES:
    raise ValueError(f"unknown GAN loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")


def _bce_per_entry(logits, target):
  # log(1 + exp(-|x|)) form of binary cross-entropy, stable for large logits.
  return ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits)))


def _bce_with_logits(logits, target):
  return ops.mean(_bce_per_entry(logits, target))


def discriminator_real_loss(kind: str, logits):
  """How wrong the discriminator is on real images (the paper: BCE against 1)."""
  _check(kind)
  if kind == "gan":
    return _bce_with_logits(logits, 1.0)
  if kind == "lsgan":
    return ops.mean(ops.square(logits - 1.0))
  return ops.mean(ops.relu(1.0 - logits))


def discriminator_fake_loss(kind: str, logits):
  """How wrong the discriminator is on generated images (the paper: BCE against 0)."""
  _check(kind)
  if kind == "gan":
    return _bce_with_logits(logits, 0.0)
  if kind == "lsgan":
    return ops.mean(ops.square(logits))
  return ops.mean(ops.relu(1.0 + logits))


def generator_adversarial_loss(kind: str, logits):
  """The generator's wish that fakes look real (the paper: BCE against 1)."""
  _check(kind)
  if kind == "gan":
    return _bce_with_logits(logits, 1.0)
  if kind == "lsgan":
    return ops.mean(ops.square(logits - 1.0))
  return -ops.mean(logits)


def discriminator_accuracy(kind: str, logits, real: bool):
  """Fraction of scores on the correct side of the decision boundary.

  Real images should score above it, fakes below. The boundary is 0 for the
  logit-based losses (gan, hinge) and 0.5 for lsgan, whose targets are 1 and 0.
  A discriminator that learns nothing sits near 0.5 on both.
  """
  _check(kind)
  boundary = 0.5 if kind == "lsgan" else 0.0
  above = ops.cast(logits > boundary, "float32")
  return ops.mean(above if real else 1.0 - above)


# Which real faces matching-aware negatives use: A and B ("both"), A only
# ("removal": A has the exchanged attribute, so its flipped label claims it
# removed) or B only ("adding").
MATCHING_CLAIMS = ("both", "removal", "adding")


def flip_exchanged_labels(labels, exchanged):
  """Labels with the exchanged attribute negated: a real image's wrong claim.

  Matching-aware negatives (Reed et al. 2016, GAN-CLS): the discriminator must
  call a real face paired with the wrong value of the edited attribute fake,
  which it can only do by reading the label.
  """
  return labels + exchanged * (1.0 - 2.0 * labels)


def reconstruction_loss(images, reconstructions):
  """Mean squared error between an image and its unedited reconstruction."""
  return ops.mean(ops.square(images - reconstructions))


def attribute_classification_loss(logits, labels):
  """Multi-label BCE of attribute logits [b, n] against 0/1 labels, mean over b and n."""
  return _bce_with_logits(logits, ops.cast(labels, logits.dtype))


def edited_attribute_classification_loss(logits, labels, edited):
  """BCE of attribute logits [b, n] against 0/1 labels on the edited entries only.

  `edited` is [b, n] with 1 where the attribute was exchanged. Sum over n, mean
  over b: a batch with one exchanged attribute gets the full BCE of that entry,
  not 1/n of it as the all-label mean would give.
  """
  logits = ops.convert_to_tensor(logits)
  per_entry = _bce_per_entry(logits, ops.cast(labels, logits.dtype))
  return ops.mean(ops.sum(per_entry * ops.cast(edited, logits.dtype), axis=-1))


def swap_back_loss(images, restored):
  """Mean absolute error between the inputs and their swapped-then-swapped-back versions."""
  return ops.mean(ops.abs(images - restored))


def latent_consistency_loss(reencoded, target, channel_mask):
  """Mean absolute difference between an edit's re-encoded latent and the latent it
  was decoded from, over the channels `channel_mask` ([b, C], 1 = counted) selects.

  reencoded, target: [b, h, w, C]. The mean is over the counted entries only, so
  the value does not shrink with the number of attributes.
  """
  return _masked_mean_abs(ops.cast(reencoded, "float32") - ops.cast(target, "float32"),
                          channel_mask)


def absent_slab_loss(latents, absent_mask):
  """Mean |latent| over the slabs of the attributes each face lacks, relative to the
  mean |latent| over every channel: absent_mask [b, C] has 1 on slab j's channels where
  face b's label j is 0 (DNA-GAN's annihilated codes, as a soft pull toward zero).
  Removing an attribute then means exchanging in a near-zero slab, the same for every
  face, rather than the negative's own slab with whatever else of the negative it holds.

  Relative, because the decoder's first normalization makes it blind to the latent's
  scale: an absolute L1 would only teach the encoder to shrink the whole latent."""
  latents = ops.cast(latents, "float32")
  return _masked_mean_abs(latents, absent_mask) / (ops.mean(ops.abs(latents)) + 1e-8)


def _masked_mean_abs(values, channel_mask):
  """Mean |values| ([b, h, w, C]) over the channels channel_mask ([b, C]) selects."""
  mask = ops.cast(channel_mask, "float32")[:, None, None, :]
  spatial = ops.cast(ops.shape(values)[1] * ops.shape(values)[2], "float32")
  return ops.sum(ops.abs(values) * mask) / ops.maximum(ops.sum(mask) * spatial, 1.0)


def r1_penalty(real_gradients):
  """R1 (Mescheder et al. 2018): half the mean over the batch of the squared norm of
  the discriminator's gradient with respect to real images."""
  squared = ops.square(real_gradients)
  return 0.5 * ops.mean(ops.sum(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=-1))


def confusion_loss(logits):
  """BCE of logits [b, n] against 1/2, mean over b and n: lowest (log 2) when every
  logit is 0, i.e. when the classifier that gave them cannot tell (Fader's latent
  adversary, with a chance target instead of flipped labels, which would overshoot)."""
  logits = ops.convert_to_tensor(logits)
  return _bce_with_logits(logits, ops.full_like(logits, 0.5))
