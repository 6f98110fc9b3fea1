"""ELEGANT's adversarial training: a Keras model whose `train_step` is one attribute update.

One step takes a pair batch for attribute i (A has it, B lacks it), exchanges
slab i between their latents, and updates first both discriminators (fakes
stopped), then the generator against the freshly updated discriminators, as the
reference does. Everything is written to run under tf.distribute strategies:
each replica computes its local means, and every loss is divided by the number
of replicas before differentiation, so summed gradients equal the global mean.
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from elegant_tf.models import latent_adversary as latent_adversary_lib
from elegant_tf.models import latent_swap
from elegant_tf.training import losses
from elegant_tf.models import precision

# Loss terms logged per step; D1's accuracy on real (A, B) and fake (C, D)
# images tells whether the discriminator is learning at all (0.5 = chance).
ACCURACY_NAMES = ("d1_accuracy_real", "d1_accuracy_fake")
# The latent consistency term's image gradient is computed at this scale and
# divided back (float16 would flush most of its per-pixel values to zero).
_PIXEL_GRADIENT_SCALE = 1024.0

LOSS_NAMES = ("loss_d", "loss_g", "reconstruction", "adversarial_g",
              "d1_real", "d1_fake", "d2_real", "d2_fake") + ACCURACY_NAMES


@dataclasses.dataclass(frozen=True)
class LossWeights:
  """Weights of the paper: recon 5, D2 0.5; D loss divided by 4."""
  gan_loss: str = "gan"
  reconstruction: float = 5.0
  d2: float = 0.5
  weight_decay: float = 1e-5  # Coupled L2 (added to gradients), as PyTorch's Adam does.
  # Not in the paper (0 = off), see BUILD_NOTES.md "Quality options":
  cycle: float = 0.0  # Re-encode C and D, swap the slab back, L1 to A and B.
  cycle_fraction: float = 1.0  # The cycle on this fraction of the pairs (the first ones).
  classification: float = 0.0  # D1 classifies attributes; G wants C, D's edit classified.
  r1: float = 0.0  # Gradient penalty on D1's score of real images.
  # R1 on every k-th step only, weighted k times (StyleGAN2's lazy regularization).
  r1_every: int = 1
  # Real A, B paired with the exchanged attribute's label flipped count as fake
  # for D1 and D2 (matching-aware negatives), with this weight relative to C, D.
  matching_negatives: float = 0.0
  matching_negatives_claims: str = "both"  # One of losses.MATCHING_CLAIMS.
  # G's adversarial term on C (the removal) relative to D (the adding); 1 in the paper.
  removal_adversarial: float = 1.0
  # Re-encode C and D: the exchanged slab must come back as the one they were
  # decoded from (encoder weights left out of this term's gradient).
  latent_consistency: float = 0.0
  # Each attribute's slab, averaged over space, must predict that attribute on
  # real faces (a linear readout trained with the generator).
  slab_classification: float = 0.0
  # A latent adversary learns to read attribute i from the channels outside slab i
  # (trained with the discriminators); the encoder is asked to leave it at chance.
  latent_adversary: float = 0.0
  # The slab of every attribute a real face lacks is pulled toward zero (L1).
  absent_slab: float = 0.0
  # The generator's slab readout (readout_conditioned) learns real faces' labels
  # with this weight; the decoder is conditioned on its change.
  readout_classification: float = 0.0
  # A third discriminator that sees only the exchanged attribute's window of the
  # face (attribute_windows.py), with this weight in both the D and the G loss.
  local_discriminator: float = 0.0
  # With the decoder's gain: its layer's gradient is zeroed before this step.
  gain_start_step: int = 0

  @property
  def loss_names(self) -> tuple:
    extra = (("cycle",) if self.cycle else ()) + (
        ("classification_d", "classification_g") if self.classification else ()) + (
        ("r1",) if self.r1 else ()) + (
        ("d1_mismatch", "d2_mismatch") if self.matching_negatives else ()) + (
        ("latent_consistency",) if self.latent_consistency else ()) + (
        ("slab_classification",) if self.slab_classification else ()) + (
        ("latent_adversary_d", "latent_adversary_g") if self.latent_adversary else ()) + (
        ("absent_slab",) if self.absent_slab else ()) + (
        ("readout_classification",) if self.readout_classification else ()) + (
        ("d3_real", "d3_fake") if self.local_discriminator else ())
    return LOSS_NAMES + extra


def paper_adam(learning_rate) -> keras.optimizers.Adam:
  """Adam with the reference's betas (0.5, 0.999) and PyTorch's epsilon."""
  return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.5, beta_2=0.999,
                               epsilon=1e-8)


def step_decay_schedule(learning_rate: float, decay_rate: float, decay_every: int):
  """lr * decay_rate ** floor(step / decay_every) (paper: 2e-4, 0.97, every 3000)."""
  return keras.optimizers.schedules.ExponentialDecay(
      learning_rate, decay_steps=decay_every, decay_rate=decay_rate, staircase=True)


def warmed_up_decay(decay, steps):
  """min(decay, (1 + t) / (10 + t)) after t steps, as tf.train.ExponentialMovingAverage's
  num_updates: early averages forget the random initial weights within tens of steps
  instead of thousands (0.999 alone would keep 7% of them after 2,700 steps)."""
  return ops.minimum(decay, (1.0 + steps) / (10.0 + steps))


def moving_average(average, value, decay):
  """One exponential-moving-average update: decay * average + (1 - decay) * value."""
  return decay * average + (1.0 - decay) * value


class ElegantGAN(keras.Model):
  """Trainer wrapping the generator and the two discriminators (D1 full, D2 half size)."""

  def __init__(self, generator, discriminator_full, discriminator_half,
               attribute_names, loss_weights: LossWeights = LossWeights(),
               averaged_generator=None, average_decay: float = 0.0,
               discriminator_local=None, attribute_windows=None, kept_attribute_names=(),
               **kwargs):
    """averaged_generator: a twin of `generator` (same architecture) that holds an
    exponential moving average of its weights with `average_decay` (see
    update_average); None = no average.

    discriminator_local: D3, which scores only the exchanged attribute's window of
    each face; attribute_windows: int [n, 3], each attribute's (top, left, size).
    Both are given exactly when loss_weights.local_discriminator is positive.

    kept_attribute_names: attributes the discriminators are told after the exchanged
    ones (their labels come as the batch's kept_a, kept_b) and that no edit changes:
    C claims A's, D claims B's."""
    super().__init__(**kwargs)
    if (averaged_generator is None) != (not average_decay):
      raise ValueError("averaged_generator and a positive average_decay go together")
    if not ((discriminator_local is None) == (attribute_windows is None)
            == (not loss_weights.local_discriminator)):
      raise ValueError("discriminator_local, attribute_windows and a positive "
                       "local_discriminator weight go together")
    self.discriminator_local = discriminator_local
    self.attribute_windows = (None if attribute_windows is None
                              else np.asarray(attribute_windows, np.int32))
    self.generator = generator
    self.averaged_generator = averaged_generator
    self.average_decay = float(average_decay)
    self.discriminator_full = discriminator_full
    self.discriminator_half = discriminator_half
    self.attribute_names = tuple(attribute_names)
    self.kept_attribute_names = tuple(kept_attribute_names)
    self.loss_weights = loss_weights
    self._loss_scalers = {}  # id(optimizer) -> its LossScaleOptimizer; see build_for.
    # Logits [b, n, n] of every slab for every attribute; slab_logits keeps the
    # diagonal, so attribute i is read from slab i alone. Trained with the generator.
    self.slab_classifier = (keras.layers.Dense(len(self.attribute_names), name="slab_classifier")
                            if loss_weights.slab_classification else None)
    self.latent_adversary = (
        latent_adversary_lib.LatentAdversary(len(self.attribute_names), name="latent_adversary")
        if loss_weights.latent_adversary else None)
    self.loss_trackers = {name: keras.metrics.Mean(name=name)
                          for name in loss_weights.loss_names}
    # Per-attribute means, written to TensorBoard by a callback; not in `metrics`
    # so the progress bar stays readable.
    self.attribute_trackers = {
        (name, attribute): keras.metrics.Mean(name=f"{name}/{attribute}")
        for name in ("loss_d", "loss_g", "reconstruction", "adversarial_g") + ACCURACY_NAMES
        for attribute in self.attribute_names}

  @property
  def metrics(self):
    return list(self.loss_trackers.values())

  def compile(self, generator_optimizer, discriminator_optimizer, jit_compile=False):
    # optimizer=None: no unused default optimizer is created (see BUILD_NOTES.md).
    super().compile(optimizer=None, jit_compile=jit_compile)
    self.generator_optimizer = generator_optimizer
    self.discriminator_optimizer = discriminator_optimizer

  def build_for(self, image_size: int):
    """Create every variable (networks, optimizers); call inside strategy.scope()."""
    n = len(self.attribute_names)
    images = ops.zeros((1, image_size, image_size, 3))
    labels = ops.zeros((1, n))
    claims = ops.zeros((1, self.num_claims))
    self.generator({"image": images, "exemplar": images, "attributes": labels})
    if self.averaged_generator is not None:
      self.averaged_generator({"image": images, "exemplar": images, "attributes": labels})
      # The average starts from the initial weights (a resume overwrites both).
      self.averaged_generator.set_weights(self.generator.get_weights())
    self.discriminator_full(images, claims)
    self.discriminator_half(images, claims)
    if self.discriminator_local is not None:
      self.discriminator_local(self.local_windows(images, ops.zeros((1,), "int32")), claims)
    if self.loss_weights.classification:
      self.discriminator_full.classify(images, self.num_claims)
    if self.auxiliary_networks:
      latents = self.generator.encode(images)[0]
      if self.slab_classifier is not None:
        self.slab_logits(latents)
      if self.latent_adversary is not None:
        self.latent_adversary(latents)
    # float16 gradients underflow without loss scaling. The scalers wrap the
    # optimizers rather than replace them, so checkpoints (which hold the inner
    # optimizers) are the same in every precision; the loss scale itself is not
    # checkpointed and re-adapts within a few steps after a resume.
    self._loss_scalers = {}
    if precision.compute_dtype(self.generator) == "float16":
      for optimizer in (self.generator_optimizer, self.discriminator_optimizer):
        self._loss_scalers[id(optimizer)] = keras.optimizers.LossScaleOptimizer(optimizer)
    # Optimizers owned by train_step must exist before fit under MirroredStrategy.
    for optimizer, variables in ((self.generator_optimizer, self.generator_variables),
                                 (self.discriminator_optimizer, self.discriminator_variables)):
      self._loss_scalers.get(id(optimizer), optimizer).build(variables)
    self.built = True

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Skip Keras' symbolic build: build_for() already created every variable.

    Keras 3.15 pulls one batch from the distributed iterator and all-reduces it
    to build the model; under MultiWorkerMirroredStrategy that fails for dict
    batches, and under MirroredStrategy it silently drops the first batch.
    """
    if not self.built:
      raise RuntimeError("call build_for(image_size) inside the strategy scope before fit")

  @property
  def trained_steps(self) -> int:
    """Steps done so far: the generator optimizer's update count (also what checkpoints hold)."""
    return int(self.generator_optimizer.iterations.numpy())

  @property
  def inference_generator(self):
    """The generator that samples, exports and evaluations use: the average if kept."""
    return self.averaged_generator if self.averaged_generator is not None else self.generator

  def update_average(self):
    """Move the averaged generator toward the live one (after each step; see
    training_callbacks.GeneratorAverage). Runs in cross-replica context: every
    replica holds the same weights, so one assignment per variable suffices."""
    if self.averaged_generator is None:
      raise RuntimeError("this trainer keeps no averaged generator")
    if not hasattr(self, "_update_average"):
      self._update_average = tf.function(self._average_step)
    self._update_average()

  def _average_step(self):
    steps = ops.cast(self.generator_optimizer.iterations, "float32")
    decay = warmed_up_decay(self.average_decay, steps)
    for average, live in zip(self.averaged_generator.weights, self.generator.weights):
      average.assign(moving_average(average, live, decay))

  @property
  def auxiliary_networks(self) -> dict:
    """name -> network, for the networks a quality option adds (the slab readout, the
    latent adversary, the local discriminator) and this run has; checkpoints hold
    them under these names."""
    networks = {"slab_classifier": self.slab_classifier,
                "latent_adversary": self.latent_adversary,
                "discriminator_local": self.discriminator_local}
    return {name: network for name, network in networks.items() if network is not None}

  @property
  def generator_variables(self):
    """What the generator optimizer updates: the generator, and the slab readout if any."""
    extra = self.slab_classifier.trainable_variables if self.slab_classifier is not None else []
    return self.generator.trainable_variables + extra

  def slab_logits(self, latents):
    """[b, n] float32 logits of attribute i from slab i of `latents`, averaged over space."""
    channels, n = latents.shape[-1], len(self.attribute_names)
    membership = ops.convert_to_tensor(latent_swap.slab_membership(channels, n))
    pooled = ops.cast(ops.mean(latents, axis=(1, 2)), "float32")
    per_slab = pooled[:, None, :] * membership[None]  # [b, n, C]: slab j's channels only
    logits = ops.cast(self.slab_classifier(per_slab), "float32")  # [b, slab j, attribute i]
    return ops.sum(logits * ops.eye(n)[None], axis=-1)

  @property
  def discriminator_variables(self):
    """What the discriminator optimizer updates: D1, D2, and D3 and the latent adversary
    if any."""
    extra = [variable for network in (self.latent_adversary, self.discriminator_local)
             if network is not None for variable in network.trainable_variables]
    return (self.discriminator_full.trainable_variables
            + self.discriminator_half.trainable_variables + extra)

  def local_windows(self, images, attribute):
    """The window of `images` ([b, S, S, 3]) where attribute position `attribute` (an
    int vector whose entries are all equal, as the pair batch's) lives: [b, k, k, 3]."""
    top, left, size = ops.unstack(ops.take(ops.convert_to_tensor(self.attribute_windows),
                                           attribute[0], axis=0))
    return tf.slice(images, ops.stack([0, top, left, 0]), ops.stack([-1, size, size, -1]))

  def exchanged(self, batch):
    """[b, n] one-hot of the attribute whose slab a pair batch exchanges."""
    return ops.one_hot(batch["attribute"], len(self.attribute_names))

  def exchanged_for_both(self, batch):
    """[2b, n]: `exchanged` for A and B stacked on the batch axis, as [real] and [fake] are."""
    edited = self.exchanged(batch)
    return ops.concatenate([edited, edited], axis=0)

  def call(self, batch):
    """A transfer on a pair batch (Keras needs `call` to trace the model)."""
    weights = self.exchanged(batch)
    return self.generator({"image": batch["image_a"], "exemplar": batch["image_b"],
                           "attributes": weights})

  def generate(self, batch, generator=None):
    """Forward pass of one step: reconstructions A', B' and swapped C, D, with fake labels.

    generator: which to run (samples pass `inference_generator`); default the live one.
    """
    generator = generator or self.generator
    image_a, image_b = batch["image_a"], batch["image_b"]
    labels_a, labels_b = batch["labels_a"], batch["labels_b"]
    weights = self.exchanged(batch)
    size = ops.shape(image_a)[0]
    images = ops.concatenate([image_a, image_b], axis=0)
    latents, skips = generator.encode(images)
    edited_latents = generator.exchange_pairs(latents, weights)
    # All four decodes in one decoder call: A', B', C (A's skips), D (B's skips).
    decoded = generator.edit(
        ops.concatenate([images, images], axis=0),
        ops.concatenate([latents, edited_latents], axis=0),
        ops.concatenate([latents, latents], axis=0),
        [ops.concatenate([skip, skip], axis=0) for skip in skips])
    return {
        "reconstruction_a": decoded[:size],
        "reconstruction_b": decoded[size:2 * size],
        "swapped_c": decoded[2 * size:3 * size],
        "swapped_d": decoded[3 * size:],
        "latents": latents,
        "latent_c": edited_latents[:size],
        "latent_d": edited_latents[size:],
        "labels_c": labels_a + weights * (labels_b - labels_a),
        "labels_d": labels_b + weights * (labels_a - labels_b),
    }

  def swap_back(self, fake, batch, count=None):
    """Re-encode [C; D], exchange the slab back, decode: should give [A; B] again.

    count: only the first `count` pairs (default all); the result is then
    [A'[:count]; B'[:count]], against [A[:count]; B[:count]].
    """
    size = ops.shape(batch["image_a"])[0]
    count = size if count is None else count
    weights = self.exchanged(batch)[:count]
    fake = ops.concatenate([fake[:count], fake[size:size + count]], axis=0)
    latents, skips = self.generator.encode(fake)
    latent_c, latent_d = latents[:count], latents[count:]
    back = ops.concatenate([latent_swap.swap_latent_slabs(latent_c, latent_d, weights),
                            latent_swap.swap_latent_slabs(latent_d, latent_c, weights)], axis=0)
    return self.generator.edit(fake, back, latents, skips)

  def cycle_pairs(self, size):
    """How many of a replica's `size` pairs the cycle covers: `cycle_fraction` of
    them rounded up, at least one."""
    fraction = self.loss_weights.cycle_fraction
    if isinstance(size, int):
      return max(1, math.ceil(fraction * size))
    return ops.maximum(1, ops.cast(ops.ceil(fraction * ops.cast(size, "float32")), "int32"))

  @property
  def num_claims(self) -> int:
    """How many labels the discriminators read: the exchanged attributes and the kept."""
    return len(self.attribute_names) + len(self.kept_attribute_names)

  def claims(self, labels, kept):
    """What the discriminators read: `labels` ([b, n], the exchanged attributes) followed
    by `kept` ([b, k], the kept attributes' labels; None when there are none)."""
    if not self.kept_attribute_names:
      return labels
    return ops.concatenate([labels, ops.cast(kept, labels.dtype)], axis=-1)

  def _discriminator_terms(self, discriminator, real, real_labels, fake, fake_labels,
                           mismatched=None):
    """Mean losses of one discriminator: "real" over A,B, "fake" over C,D and, with
    `mismatched` (real images, wrong labels), "mismatch" over those images claimed
    with those labels; "logits" of the real and fake images for the accuracy
    logs. One call scores them all."""
    size = ops.shape(real)[0]
    images, labels = [real, fake], [real_labels, fake_labels]
    if mismatched is not None:
      images.append(mismatched[0])
      labels.append(mismatched[1])
    logits = discriminator(ops.concatenate(images, axis=0), ops.concatenate(labels, axis=0))
    kind = self.loss_weights.gan_loss
    terms = {"real": losses.discriminator_real_loss(kind, logits[:size]),
             "fake": losses.discriminator_fake_loss(kind, logits[size:2 * size]),
             "real_logits": logits[:size], "fake_logits": logits[size:2 * size]}
    if mismatched is not None:
      terms["mismatch"] = losses.discriminator_fake_loss(kind, logits[2 * size:])
    return terms

  def _latent_consistency(self, fake, latent_targets, batch):
    """(value, pixel gradient) of the latent consistency loss of [C; D].

    The gradient is taken with respect to the images only: the caller adds
    sum(gradient * fake) to the generator loss, which sends the term through the
    decoder (and the encoder's pass over A and B) but never into the encoder's
    weights as they read C and D; those could otherwise learn not to see what
    is left of a removed attribute, and the term would reward nothing.
    """
    mask = latent_swap.channel_weights(self.exchanged_for_both(batch), latent_targets.shape[-1])
    images = ops.stop_gradient(fake)
    with tf.GradientTape() as tape:
      tape.watch(images)
      reencoded, _ = self.generator.encode(images)
      value = losses.latent_consistency_loss(reencoded, ops.stop_gradient(latent_targets), mask)
      # Scaled while backpropagating so the small per-pixel values survive float16.
      scaled = value * _PIXEL_GRADIENT_SCALE
    return value, tape.gradient(scaled, images) / _PIXEL_GRADIENT_SCALE

  def _mismatched_claims(self, batch, real, real_labels, kept=None):
    """(real images, their labels with the exchanged attribute flipped, then `kept`) for
    the matching-aware negatives, restricted to the claims the weights ask for."""
    flipped = self.claims(
        losses.flip_exchanged_labels(real_labels, self.exchanged_for_both(batch)), kept)
    size = ops.shape(batch["image_a"])[0]
    claims = self.loss_weights.matching_negatives_claims
    if claims == "removal":  # A has the attribute: flipped, it claims it removed.
      return real[:size], flipped[:size]
    if claims == "adding":  # B lacks it: flipped, it claims it added.
      return real[size:], flipped[size:]
    return real, flipped

  def _generator_adversarial(self, discriminator, fake, fake_labels):
    """G's adversarial loss on [C; D] from one discriminator: the paper's two BCE terms,
    the mean over C plus the mean over D, with C's weighted by `removal_adversarial`."""
    kind = self.loss_weights.gan_loss
    logits = discriminator(fake, fake_labels)
    if self.loss_weights.removal_adversarial == 1.0:
      return 2 * losses.generator_adversarial_loss(kind, logits)  # Both halves alike.
    size = ops.shape(logits)[0] // 2
    return (self.loss_weights.removal_adversarial
            * losses.generator_adversarial_loss(kind, logits[:size])
            + losses.generator_adversarial_loss(kind, logits[size:]))

  def _r1_penalty(self, real, real_labels):
    with tf.GradientTape() as tape:
      tape.watch(real)
      scores = ops.sum(self.discriminator_full(real, real_labels))
    return losses.r1_penalty(tape.gradient(scores, real))

  def _r1_term(self, real, real_labels):
    """This step's R1 term: the penalty itself, or with `r1_every` = k > 1, k times
    the penalty on every k-th discriminator update and 0 on the others. The
    penalty changes slowly, so its average over k steps is about the same, at
    1/k of its cost (a second backward pass through D1)."""
    every = self.loss_weights.r1_every
    if every == 1:
      return self._r1_penalty(real, real_labels)
    due = ops.equal(self.discriminator_optimizer.iterations % every, 0)
    return tf.cond(due, lambda: every * self._r1_penalty(real, real_labels),
                   lambda: tf.zeros((), "float32"))

  def _gain_gate(self, gradients, variables):
    """The gradients with the decoder gain layer's zeroed before `gain_start_step`
    (generator updates so far): the gain stays exactly 1 until then."""
    start = self.loss_weights.gain_start_step
    gain_layer = getattr(self.generator.decoder, "gain", None)
    if not start or gain_layer is None:
      return gradients
    gated = {id(variable) for variable in gain_layer.trainable_variables}
    opened = self.generator_optimizer.iterations >= start
    return [g * ops.cast(opened, g.dtype) if id(v) in gated else g
            for g, v in zip(gradients, variables)]

  def _apply(self, optimizer, scaled_loss, tape, variables, replicas):
    scaler = self._loss_scalers.get(id(optimizer))
    if scaler is None:
      loss_scale = 1.0
      gradients = tape.gradient(scaled_loss, variables)
    else:
      # Loss scaling (float16): seeding backprop with the scale differentiates
      # scale * loss; the scaler divides the gradients by it again, and skips
      # the update (halving the scale) if any gradient overflowed.
      loss_scale = ops.convert_to_tensor(scaler.dynamic_scale)
      gradients = tape.gradient(scaled_loss, variables, output_gradients=loss_scale)
    if optimizer is self.generator_optimizer:
      gradients = self._gain_gate(gradients, variables)
    decay = self.loss_weights.weight_decay
    if decay:
      # Gradients are summed over replicas, so each adds its share of the L2 term
      # (times the loss scale, which the scaler divides out with the rest).
      gradients = [g + (decay / replicas * loss_scale) * v for g, v in zip(gradients, variables)]
    (scaler or optimizer).apply_gradients(zip(gradients, variables))

  def train_step(self, batch):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    weights = self.loss_weights
    kind = weights.gan_loss
    real = ops.concatenate([batch["image_a"], batch["image_b"]], axis=0)
    real_labels = ops.concatenate([batch["labels_a"], batch["labels_b"]], axis=0)
    # The discriminators also read the kept attributes: A's for A and C, B's for B and D.
    kept = (ops.concatenate([batch["kept_a"], batch["kept_b"]], axis=0)
            if self.kept_attribute_names else None)
    real_claims = self.claims(real_labels, kept)
    with tf.GradientTape() as generator_tape:
      outputs = self.generate(batch)
      fake = ops.concatenate([outputs["swapped_c"], outputs["swapped_d"]], axis=0)
      fake_labels = ops.concatenate([outputs["labels_c"], outputs["labels_d"]], axis=0)
      fake_claims = self.claims(fake_labels, kept)

      with generator_tape.stop_recording():
        with tf.GradientTape() as discriminator_tape:
          stopped = ops.stop_gradient(fake)
          mismatched = None
          if weights.matching_negatives:
            mismatched = self._mismatched_claims(batch, real, real_labels, kept)
          d1 = self._discriminator_terms(self.discriminator_full, real, real_claims, stopped,
                                         fake_claims, mismatched)
          d2 = self._discriminator_terms(self.discriminator_half, real, real_claims, stopped,
                                         fake_claims, mismatched)
          d1_real, d1_fake, d2_real, d2_fake = d1["real"], d1["fake"], d2["real"], d2["fake"]
          # Each mean covers two of the paper's four BCE terms, hence the 2s.
          loss_d = (2 * (d1_real + d1_fake) + weights.d2 * 2 * (d2_real + d2_fake)) / 4
          extra = {
              "d1_accuracy_real": losses.discriminator_accuracy(kind, d1["real_logits"], True),
              "d1_accuracy_fake": losses.discriminator_accuracy(kind, d1["fake_logits"], False),
          }
          if weights.local_discriminator:
            attribute = batch["attribute"]
            d3 = self._discriminator_terms(
                self.discriminator_local, self.local_windows(real, attribute), real_claims,
                self.local_windows(stopped, attribute), fake_claims)
            extra["d3_real"], extra["d3_fake"] = d3["real"], d3["fake"]
            loss_d = loss_d + weights.local_discriminator * 2 * (d3["real"] + d3["fake"]) / 4
          if weights.matching_negatives:
            extra["d1_mismatch"], extra["d2_mismatch"] = d1["mismatch"], d2["mismatch"]
            loss_d = loss_d + weights.matching_negatives * (
                2 * d1["mismatch"] + weights.d2 * 2 * d2["mismatch"]) / 4
          if weights.classification:
            extra["classification_d"] = losses.attribute_classification_loss(
                self.discriminator_full.classify(real, self.num_claims), real_labels)
            loss_d = loss_d + weights.classification * extra["classification_d"]
          if weights.r1:
            extra["r1"] = self._r1_term(real, real_claims)
            loss_d = loss_d + weights.r1 * extra["r1"]
          if weights.latent_adversary:
            # The adversary learns at full strength; the weight is the encoder's side.
            extra["latent_adversary_d"] = losses.attribute_classification_loss(
                self.latent_adversary(ops.stop_gradient(outputs["latents"])), real_labels)
            loss_d = loss_d + extra["latent_adversary_d"]
          scaled_loss_d = loss_d / replicas
        self._apply(self.discriminator_optimizer, scaled_loss_d, discriminator_tape,
                    self.discriminator_variables, replicas)

      # Fresh outputs of the just-updated discriminators.
      adversarial_g = (
          self._generator_adversarial(self.discriminator_full, fake, fake_claims)
          + weights.d2 * self._generator_adversarial(self.discriminator_half, fake, fake_claims))
      if weights.local_discriminator:
        adversarial_g = adversarial_g + weights.local_discriminator * self._generator_adversarial(
            self.discriminator_local, self.local_windows(fake, batch["attribute"]), fake_claims)
      reconstruction = (losses.reconstruction_loss(batch["image_a"], outputs["reconstruction_a"])
                        + losses.reconstruction_loss(batch["image_b"], outputs["reconstruction_b"]))
      loss_g = weights.reconstruction * reconstruction + adversarial_g
      if weights.cycle:
        size = batch["image_a"].shape[0] or ops.shape(batch["image_a"])[0]
        count = self.cycle_pairs(size)
        originals = ops.concatenate([batch["image_a"][:count], batch["image_b"][:count]], axis=0)
        extra["cycle"] = 2 * losses.swap_back_loss(originals, self.swap_back(fake, batch, count))
        loss_g = loss_g + weights.cycle * extra["cycle"]
      if weights.classification:
        # Only the exchanged attribute: the all-label mean would dilute the edit
        # by 1/n and reward copying for the n - 1 attributes that stay.
        extra["classification_g"] = losses.edited_attribute_classification_loss(
            self.discriminator_full.classify(fake, self.num_claims), fake_labels,
            self.exchanged_for_both(batch))
        loss_g = loss_g + weights.classification * extra["classification_g"]
      if weights.latent_consistency:
        with generator_tape.stop_recording():
          value, pixel_gradient = self._latent_consistency(
              fake, ops.concatenate([outputs["latent_c"], outputs["latent_d"]], axis=0), batch)
        extra["latent_consistency"] = value
        # Its value is the loss; its gradient, through `fake` only (see above).
        through_images = ops.sum(ops.cast(ops.stop_gradient(pixel_gradient), "float32")
                                 * ops.cast(fake, "float32"))
        loss_g = loss_g + weights.latent_consistency * (
            value + through_images - ops.stop_gradient(through_images))
      if weights.slab_classification:
        extra["slab_classification"] = losses.attribute_classification_loss(
            self.slab_logits(outputs["latents"]), real_labels)
        loss_g = loss_g + weights.slab_classification * extra["slab_classification"]
      if weights.readout_classification:
        extra["readout_classification"] = losses.attribute_classification_loss(
            self.generator.readout(outputs["latents"]), real_labels)
        loss_g = loss_g + weights.readout_classification * extra["readout_classification"]
      if weights.latent_adversary:
        extra["latent_adversary_g"] = losses.confusion_loss(
            self.latent_adversary(outputs["latents"]))
        loss_g = loss_g + weights.latent_adversary * extra["latent_adversary_g"]
      if weights.absent_slab:
        absent = latent_swap.channel_weights(1.0 - ops.cast(real_labels, "float32"),
                                             outputs["latents"].shape[-1])
        extra["absent_slab"] = losses.absent_slab_loss(outputs["latents"], absent)
        loss_g = loss_g + weights.absent_slab * extra["absent_slab"]
      scaled_loss_g = loss_g / replicas
    self._apply(self.generator_optimizer, scaled_loss_g, generator_tape,
                self.generator_variables, replicas)

    values = {"loss_d": loss_d, "loss_g": loss_g, "reconstruction": reconstruction,
              "adversarial_g": adversarial_g, "d1_real": d1_real, "d1_fake": d1_fake,
              "d2_real": d2_real, "d2_fake": d2_fake, **extra}
    for name, tracker in self.loss_trackers.items():
      tracker.update_state(values[name])
    attribute = batch["attribute"][0]
    for (name, attribute_name), tracker in self.attribute_trackers.items():
      is_current = ops.cast(attribute == self.attribute_names.index(attribute_name), "float32")
      tracker.update_state(values[name], sample_weight=is_current)
    logs = {name: tracker.result() for name, tracker in self.loss_trackers.items()}
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
      # Keras 3.15 reduces logs across workers with reduce(MEAN, axis=0), which
      # needs an axis: give it [1] vectors; the mean over them is the scalar.
      logs = {name: ops.reshape(value, [1]) for name, value in logs.items()}
    return logs
