import keras
import numpy as np
import pytest
import tensorflow as tf

from elegant_tf.models import latent_swap
from elegant_tf.models import precision
from elegant_tf.training import checkpointing
from elegant_tf.training import gan_trainer
from elegant_tf.training import losses
from elegant_tf.training import train_lib
from tests.elegant_tf import tiny


def _trained_once(strategy, config, batch, optimizer_factory):
  """Build identical networks under `strategy`, run one fit step on `batch`."""
  with strategy.scope():
    keras.utils.set_random_seed(7)
    gan = train_lib.build_gan(config)
    gan.compile(optimizer_factory(), optimizer_factory())
    gan.build_for(config.image_size)
    before = [v.numpy().copy() for v in gan.generator.weights + gan.discriminator_variables]
  logs = gan.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=1, epochs=1,
                 verbose=0, shuffle=False).history
  after = [v.numpy() for v in gan.generator.weights + gan.discriminator_variables]
  return {k: v[-1] for k, v in logs.items()}, [a - b for a, b in zip(after, before)]


@pytest.mark.parametrize("options", [{}, dict(r1_weight=1.0, r1_every=2)])
def test_two_replicas_match_one_replica_on_the_same_global_batch(tmp_path, options):
  # SGD: its update is proportional to the gradient, so a loss scaled by the
  # wrong replica count shows (Adam would hide it: it is scale-invariant). Lazy
  # R1 reads the update count inside the replicas' step (the first is due).
  config = tiny.tiny_config(tmp_path, weight_decay=1e-3, **options)
  batch = tiny.random_pair_batch()
  sgd = lambda: keras.optimizers.SGD(learning_rate=1.0)
  logs_one, updates_one = _trained_once(tf.distribute.get_strategy(), config, batch, sgd)
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  assert mirrored.num_replicas_in_sync == 2
  logs_two, updates_two = _trained_once(mirrored, config, batch, sgd)
  assert logs_one.keys() == logs_two.keys()
  for name in logs_one:
    assert logs_two[name] == pytest.approx(logs_one[name], rel=1e-4, abs=1e-6), name
  largest = max(np.abs(u).max() for u in updates_one)
  assert largest > 1e-4  # The step did change the weights.
  for one, two in zip(updates_one, updates_two):
    np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-5 * largest)


def test_discriminator_is_updated_before_generator_sees_it(tmp_path):
  config = tiny.tiny_config(tmp_path)
  gan = train_lib.build_gan(config)
  batch = tiny.random_pair_batch()
  d_before = [v.numpy().copy() for v in gan.discriminator_variables]
  g_before = [v.numpy().copy() for v in gan.generator.trainable_variables]
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  assert any(np.abs(v.numpy() - b).max() > 0 for v, b in zip(gan.discriminator_variables, d_before))
  assert any(np.abs(v.numpy() - b).max() > 0
             for v, b in zip(gan.generator.trainable_variables, g_before))
  # The paper's weighting: loss_d = (L_D1 + 0.5 L_D2) / 4 with L_Dk = 2 (real + fake means).
  expected_d = (2 * (logs["d1_real"] + logs["d1_fake"])
                + 0.5 * 2 * (logs["d2_real"] + logs["d2_fake"])) / 4
  assert float(logs["loss_d"]) == pytest.approx(float(expected_d), rel=1e-5)
  assert float(logs["loss_g"]) == pytest.approx(
      float(5 * logs["reconstruction"] + logs["adversarial_g"]), rel=1e-5)


def test_generate_swaps_labels_of_the_exchanged_attribute(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  batch = tiny.random_pair_batch(attribute=0)
  outputs = gan.generate(batch)
  np.testing.assert_array_equal(outputs["labels_c"][:, 0], batch["labels_b"][:, 0])
  np.testing.assert_array_equal(outputs["labels_c"][:, 1], batch["labels_a"][:, 1])
  np.testing.assert_array_equal(outputs["labels_d"][:, 0], batch["labels_a"][:, 0])
  for name in ("reconstruction_a", "swapped_c", "swapped_d"):
    assert outputs[name].shape == batch["image_a"].shape
    assert np.abs(np.asarray(outputs[name])).max() <= 1.0


def test_per_attribute_trackers_only_count_their_attribute(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch(attribute=1).items()})
  assert float(gan.attribute_trackers[("loss_g", "Bangs")].count) == 1
  assert float(gan.attribute_trackers[("loss_g", "Eyeglasses")].result()) == 0


def test_step_decay_schedule_matches_paper():
  schedule = gan_trainer.step_decay_schedule(2e-4, 0.97, 3000)
  assert float(schedule(2999)) == pytest.approx(2e-4)
  assert float(schedule(3000)) == pytest.approx(2e-4 * 0.97)
  assert float(schedule(9000)) == pytest.approx(2e-4 * 0.97**3)


def test_quality_options_add_their_terms_and_train_the_classifier(tmp_path):
  config = tiny.tiny_config(tmp_path, cycle_weight=5.0, classification_weight=1.0,
                            patch_discriminator=True)
  gan = train_lib.build_gan(config)
  assert len(gan.discriminator_full(*[tf.zeros(s) for s in (
      (1, config.image_size, config.image_size, 3), (1, len(config.attributes)))]).shape) == 3
  head = gan.discriminator_full.classes.kernel
  before = head.numpy().copy()
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert {"cycle", "classification_d", "classification_g"} <= set(logs)
  assert np.abs(head.numpy() - before).max() > 0
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 5 * logs["cycle"]
      + logs["classification_g"]), rel=1e-5)


def test_cycle_fraction_swaps_back_the_first_pairs_only(tmp_path):
  # A learning rate of 1e-12 keeps the networks as they are during train_step.
  config = tiny.tiny_config(tmp_path, cycle_weight=1.0, cycle_fraction=0.25,
                            learning_rate=1e-12)
  gan = train_lib.build_gan(config)
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch(batch_size=8).items()}
  assert gan.cycle_pairs(8) == 2 and gan.cycle_pairs(3) == 1
  assert int(gan.cycle_pairs(tf.constant(8))) == 2
  outputs = gan.generate(batch)
  fake = tf.concat([outputs["swapped_c"], outputs["swapped_d"]], axis=0)
  everything = gan.swap_back(fake, batch).numpy()
  first = gan.swap_back(fake, batch, 2).numpy()
  # The first two rows of A' and of B', computed from those pairs alone.
  np.testing.assert_allclose(first, np.concatenate([everything[:2], everything[8:10]]),
                             atol=1e-5)
  expected = 2 * np.abs(np.concatenate([batch["image_a"][:2], batch["image_b"][:2]]) - first).mean()
  logs = gan.train_step(batch)
  assert float(logs["cycle"]) == pytest.approx(float(expected), rel=1e-3)
  assert float(logs["cycle"]) != pytest.approx(
      float(2 * np.abs(tf.concat([batch["image_a"], batch["image_b"]], 0) - everything).mean()),
      rel=1e-3)


def test_generator_classification_term_covers_the_exchanged_attribute_only(tmp_path):
  # A learning rate of 1e-12 keeps the networks as they are during train_step.
  config = tiny.tiny_config(tmp_path, classification_weight=1.0, learning_rate=1e-12)
  gan = train_lib.build_gan(config)
  # Distinct biases per attribute, so the edited entry and the all-label mean differ.
  classes = gan.discriminator_full.classes.bias
  classes.assign(np.linspace(-2.0, 2.0, classes.shape[0]).astype("float32"))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  outputs = gan.generate(batch)
  fake = tf.concat([outputs["swapped_c"], outputs["swapped_d"]], axis=0)
  fake_labels = tf.concat([outputs["labels_c"], outputs["labels_d"]], axis=0)
  logits = gan.discriminator_full.classify(fake, len(config.attributes))
  edited = tf.one_hot(tf.concat([batch["attribute"]] * 2, axis=0), len(config.attributes))
  expected = losses.edited_attribute_classification_loss(logits, fake_labels, edited)
  everything = losses.attribute_classification_loss(logits, fake_labels)
  logs = gan.train_step(batch)
  assert float(expected) != pytest.approx(float(everything), rel=1e-3)
  assert float(logs["classification_g"]) == pytest.approx(float(expected), rel=1e-4)


def test_lazy_r1_is_k_times_the_penalty_every_kth_update_and_zero_between(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, r1_weight=10.0, r1_every=4))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  real = tf.concat([batch["image_a"], batch["image_b"]], axis=0)
  labels = tf.concat([batch["labels_a"], batch["labels_b"]], axis=0)
  penalty = float(gan._r1_penalty(real, labels))
  assert penalty > 0
  term = tf.function(gan._r1_term)  # Compiled, as train_step runs it.
  for update, expected in ((0, 4 * penalty), (1, 0.0), (3, 0.0), (4, 4 * penalty)):
    gan.discriminator_optimizer.iterations.assign(update)
    assert float(term(real, labels)) == pytest.approx(expected, rel=1e-5), update
  # The discriminator's gradient goes through the condition: 4x the penalty's on a due update.
  gan.discriminator_optimizer.iterations.assign(8)
  variables = gan.discriminator_full.trainable_variables
  with tf.GradientTape(persistent=True) as tape:
    lazy, plain = gan._r1_term(real, labels), gan._r1_penalty(real, labels)
  compared = 0
  for got, want in zip(tape.gradient(lazy, variables), tape.gradient(plain, variables)):
    if want is None:  # The score's own bias does not move its input gradient.
      assert got is None or not np.any(got)
      continue
    np.testing.assert_allclose(got, 4 * np.asarray(want), rtol=1e-4, atol=1e-9)
    compared += 1
  assert compared > len(variables) // 2
  # And the whole step compiles, and logs the term it added (update 8 is due).
  before = float(gan._r1_penalty(real, labels))
  logs = tf.function(gan.train_step)(batch)
  assert float(logs["r1"]) == pytest.approx(4 * before, rel=1e-4)


def test_r1_penalty_is_logged_and_added_to_the_discriminator_loss(tmp_path):
  config = tiny.tiny_config(tmp_path, r1_weight=10.0)
  gan = train_lib.build_gan(config)
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  real = tf.concat([batch["image_a"], batch["image_b"]], axis=0)
  labels = tf.concat([batch["labels_a"], batch["labels_b"]], axis=0)
  expected = float(gan._r1_penalty(real, labels))
  logs = gan.train_step(batch)
  assert float(logs["r1"]) == pytest.approx(expected, rel=1e-4) and expected > 0
  assert float(logs["loss_d"]) == pytest.approx(float(
      (2 * (logs["d1_real"] + logs["d1_fake"]) + 0.5 * 2 * (logs["d2_real"] + logs["d2_fake"]))
      / 4 + 10.0 * logs["r1"]), rel=1e-5)


def test_latent_consistency_is_logged_and_added_to_the_generator_loss(tmp_path):
  config = tiny.tiny_config(tmp_path, latent_consistency_weight=2.0)
  gan = train_lib.build_gan(config)
  assert "latent_consistency" not in train_lib.build_gan(tiny.tiny_config(tmp_path)).loss_trackers
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert float(logs["latent_consistency"]) > 0
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 2 * logs["latent_consistency"]),
      rel=1e-5)


def test_latent_consistency_reaches_the_decoder_but_not_the_encoder_reading_the_edits(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, latent_consistency_weight=1.0))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  decoder = gan.generator.decoder.trainable_variables
  encoder = gan.generator.encoder.trainable_variables
  with tf.GradientTape(persistent=True) as tape:
    outputs = gan.generate(batch)
    fake = tf.concat([outputs["swapped_c"], outputs["swapped_d"]], axis=0)
    targets = tf.concat([outputs["latent_c"], outputs["latent_d"]], axis=0)
    value, pixel_gradient = gan._latent_consistency(fake, targets, batch)
    through_images = tf.reduce_sum(tf.stop_gradient(pixel_gradient) * fake)
    # The plain loss, differentiated everywhere (the encoder also reading C and D).
    edited = gan.exchanged(batch)
    mask = tf.matmul(tf.concat([edited, edited], 0), latent_swap.slab_membership(
        targets.shape[-1], len(gan.attribute_names)))
    plain = losses.latent_consistency_loss(gan.generator.encode(fake)[0],
                                           tf.stop_gradient(targets), mask)
  assert float(value) == pytest.approx(float(plain), rel=1e-5)
  for ours, full in zip(tape.gradient(through_images, decoder), tape.gradient(plain, decoder)):
    np.testing.assert_allclose(ours.numpy(), full.numpy(), rtol=1e-3, atol=1e-6)
  # The encoder still gets the term through A and B's latents, but less than the
  # plain loss gives it: the part from reading C and D is left out.
  ours = tape.gradient(through_images, encoder)
  full = tape.gradient(plain, encoder)
  assert any(np.abs(g.numpy()).max() > 0 for g in ours)
  assert max(np.abs(a.numpy() - b.numpy()).max() for a, b in zip(ours, full)) > 1e-4


def test_slab_classification_trains_a_readout_with_the_generator_and_is_checkpointed(tmp_path):
  config = tiny.tiny_config(tmp_path, slab_classification_weight=3.0)
  gan = train_lib.build_gan(config)
  assert train_lib.build_gan(tiny.tiny_config(tmp_path)).slab_classifier is None
  kernel = gan.slab_classifier.kernel
  before = kernel.numpy().copy()
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert float(logs["slab_classification"]) > 0
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 3 * logs["slab_classification"]),
      rel=1e-5)
  assert np.abs(kernel.numpy() - before).max() > 0
  assert checkpointing.training_checkpoint(gan).slab_classifier is gan.slab_classifier


def test_slab_logits_read_each_attribute_from_its_own_slab(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, slab_classification_weight=1.0))
  rng = np.random.default_rng(0)
  latents = rng.normal(size=(3, 4, 4, 16)).astype(np.float32)  # 2 slabs of 8 channels
  logits = np.asarray(gan.slab_logits(latents))
  assert logits.shape == (3, 2)
  changed = latents.copy()
  changed[..., 8:] += 5.0  # slab 1 only
  moved = np.asarray(gan.slab_logits(changed))
  np.testing.assert_allclose(moved[:, 0], logits[:, 0], atol=1e-5)
  assert np.abs(moved[:, 1] - logits[:, 1]).min() > 1e-3


def test_discriminator_learning_rate_follows_the_ratio(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, learning_rate=1e-4,
                                             discriminator_lr_ratio=3.0))
  assert float(gan.discriminator_optimizer.learning_rate) == pytest.approx(3e-4)
  assert float(gan.generator_optimizer.learning_rate) == pytest.approx(1e-4)


def test_paper_default_has_no_extra_terms(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  assert set(gan.loss_trackers) == set(gan_trainer.LOSS_NAMES)
  assert gan.discriminator_full.classes is None


def test_swap_back_with_an_identity_generator_restores_the_inputs(tmp_path):
  # With a zero residual, C = A and D = B, and swapping back must give A and B.
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  gan.generator.decoder.upsample_2.kernel.assign(
      np.zeros_like(gan.generator.decoder.upsample_2.kernel.numpy()))
  gan.generator.decoder.upsample_2.bias.assign(np.zeros(3, np.float32))
  batch = tiny.random_pair_batch()
  fake = np.concatenate([batch["image_a"], batch["image_b"]])
  np.testing.assert_allclose(np.asarray(gan.swap_back(fake, batch)), fake, atol=1e-6)


def test_matching_negatives_are_off_by_default_and_added_to_the_discriminator_loss(tmp_path):
  assert gan_trainer.LossWeights().matching_negatives == 0
  assert "d1_mismatch" not in train_lib.build_gan(tiny.tiny_config(tmp_path)).loss_trackers
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, matching_negatives_weight=2.0))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  real = tf.concat([batch["image_a"], batch["image_b"]], axis=0)
  labels = tf.concat([batch["labels_a"], batch["labels_b"]], axis=0)
  # Reference before the step: D1 scores real faces claimed with the edited
  # attribute (column 1) flipped; BCE against "fake".
  wrong = labels.numpy().copy()
  wrong[:, 1] = 1 - wrong[:, 1]
  logits = gan.discriminator_full(real, wrong).numpy().astype(np.float64)
  expected_d1 = np.mean(np.log1p(np.exp(logits)))
  logs = gan.train_step(batch)
  assert float(logs["d1_mismatch"]) == pytest.approx(expected_d1, rel=1e-4)
  assert float(logs["loss_d"]) == pytest.approx(float(
      (2 * (logs["d1_real"] + logs["d1_fake"]) + 0.5 * 2 * (logs["d2_real"] + logs["d2_fake"]))
      / 4 + 2.0 * (2 * logs["d1_mismatch"] + 0.5 * 2 * logs["d2_mismatch"]) / 4), rel=1e-5)


@pytest.mark.parametrize("claims,half", [("removal", 0), ("adding", 1)])
def test_matching_negatives_can_show_only_one_claim(tmp_path, claims, half):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, matching_negatives_weight=1.0,
                                             matching_negatives_claims=claims))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  # Only A (removal: it has the attribute and claims it gone) or only B (adding).
  image = batch["image_a" if half == 0 else "image_b"]
  wrong = batch["labels_a" if half == 0 else "labels_b"].numpy().copy()
  wrong[:, 1] = 1 - wrong[:, 1]
  logits = gan.discriminator_full(image, wrong).numpy().astype(np.float64)
  logs = gan.train_step(batch)
  assert float(logs["d1_mismatch"]) == pytest.approx(np.mean(np.log1p(np.exp(logits))), rel=1e-4)


def test_discriminator_accuracy_is_logged_overall_and_per_attribute(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch(attribute=1).items()}
  real = tf.concat([batch["image_a"], batch["image_b"]], axis=0)
  labels = tf.concat([batch["labels_a"], batch["labels_b"]], axis=0)
  expected_real = np.mean(gan.discriminator_full(real, labels).numpy() > 0)
  logs = gan.train_step(batch)
  assert float(logs["d1_accuracy_real"]) == pytest.approx(expected_real)
  assert 0.0 <= float(logs["d1_accuracy_fake"]) <= 1.0
  per_attribute = gan.attribute_trackers[("d1_accuracy_real", "Bangs")]
  assert float(per_attribute.result()) == pytest.approx(expected_real)
  assert float(gan.attribute_trackers[("d1_accuracy_real", "Eyeglasses")].count) == 0


def test_projection_discriminators_train_one_step(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, discriminator_conditioning="projection"))
  assert gan.discriminator_full.projection is not None
  assert gan.discriminator_half.projection is not None
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert np.isfinite(float(logs["loss_d"])) and np.isfinite(float(logs["loss_g"]))


def test_half_discriminator_can_keep_the_papers_label_channels(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(
      tmp_path, discriminator_conditioning="projection",
      half_discriminator_conditioning="channels"))
  assert gan.discriminator_full.conditioning == "projection"
  assert gan.discriminator_half.conditioning == "channels"
  assert gan.discriminator_half.projection is None
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert np.isfinite(float(logs["loss_d"])) and np.isfinite(float(logs["loss_g"]))


def _sgd_step(tmp_path, precision, batch, **options):
  """One train_step with SGD(lr=1) from the same seed: the weight change is minus the
  gradient (plus weight decay), so it shows gradient errors that Adam would hide."""
  keras.utils.set_random_seed(7)
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, precision=precision, weight_decay=1e-3,
                                             **options))
  sgd = lambda: keras.optimizers.SGD(learning_rate=1.0)
  gan.compile(sgd(), sgd())
  gan.build_for(32)
  networks = {"g": gan.generator.trainable_variables, "d": gan.discriminator_variables}
  before = {k: [v.numpy().copy() for v in vs] for k, vs in networks.items()}
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  updates = {k: np.concatenate([(v.numpy() - b).ravel() for v, b in zip(vs, before[k])])
             for k, vs in networks.items()}
  return gan, {k: float(v) for k, v in logs.items()}, updates, before


@pytest.mark.parametrize("precision, loss_rtol, max_relative_error, min_cosine", [
    # bfloat16 keeps 8 significant bits (unit roundoff 2^-9 = 0.2%). Forward, the
    # losses pass ~10 rounded layers: measured 0.1%, allowed 1%. Backward, bias
    # and scale/shift gradients are sums over batch x pixels of terms that mostly
    # cancel (the per-pixel L2 norm removes the radial component; D's real and
    # fake terms nearly cancel while fakes are close to the reals at init), so
    # the rounding is amplified: measured 21% (G) and 11% (D) relative L2 error of
    # the whole update, cosine 0.98 / 0.99, on this seed. The error tracks the
    # format's roundoff: float16 (3 more bits) measures 1.1% / 0.4%. A real bug
    # (a missing loss-scale division, an update applied twice, a wrong sign)
    # gives a relative error of 50% or more, which these bounds reject.
    ("mixed_bfloat16", 1e-2, 0.4, 0.95),
    ("mixed_float16", 1e-3, 0.1, 0.99),
])
def test_one_mixed_precision_step_matches_the_float32_step(
    tmp_path, precision, loss_rtol, max_relative_error, min_cosine):
  batch = tiny.random_pair_batch()
  _, logs32, updates32, before32 = _sgd_step(tmp_path / "float32", "float32", batch)
  gan, logs, updates, before = _sgd_step(tmp_path / precision, precision, batch)
  compute = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[precision]
  assert gan.generator.encoder.block_0.layers[0].compute_dtype == compute
  assert all(v.dtype == "float32" for v in gan.generator.weights + gan.discriminator_variables)
  for k in before:  # Same initial weights: the difference is the precision alone.
    for a, b in zip(before[k], before32[k]):
      np.testing.assert_array_equal(a, b)
  assert logs.keys() == logs32.keys()
  for name in logs32:
    if name in gan_trainer.ACCURACY_NAMES:
      # Fractions of 8 images: a logit within rounding of 0 may flip one or two.
      assert abs(logs[name] - logs32[name]) <= 0.25, name
    else:
      assert logs[name] == pytest.approx(logs32[name], rel=loss_rtol), name
  for k in ("g", "d"):
    update, reference = updates[k], updates32[k]
    relative_error = np.linalg.norm(update - reference) / np.linalg.norm(reference)
    cosine = update @ reference / (np.linalg.norm(update) * np.linalg.norm(reference))
    assert relative_error < max_relative_error, (k, relative_error)
    assert cosine > min_cosine, (k, cosine)
    # And it did compute in 16 bits: a float32 step in disguise would be exact.
    assert relative_error > 1e-4, (k, relative_error)
  assert gan.trained_steps == 1


def test_bfloat16_discriminators_beside_a_float32_generator(tmp_path):
  # --discriminator_precision=mixed_bfloat16: D1 and D2 (R1 included) compute in
  # bfloat16, the generator and its average in float32, and one step stays within
  # bfloat16's rounding of the float32 step (the bounds of the test above).
  batch = tiny.random_pair_batch()
  options = dict(r1_weight=1.0, discriminator_conditioning="projection", ema_decay=0.9)
  _, logs32, updates32, _ = _sgd_step(tmp_path / "float32", "float32", batch, **options)
  gan, logs, updates, _ = _sgd_step(tmp_path / "d_bf16", "float32", batch,
                                    discriminator_precision="mixed_bfloat16", **options)
  for discriminator in (gan.discriminator_full, gan.discriminator_half):
    assert precision.compute_dtype(discriminator) == "bfloat16"
  for generator in (gan.generator, gan.averaged_generator):
    assert precision.compute_dtype(generator) == "float32"
  assert all(v.dtype == "float32" for v in gan.discriminator_variables)
  assert all(np.isfinite(v) for v in logs.values()) and "r1" in logs
  for name in ("loss_d", "loss_g", "reconstruction"):
    assert logs[name] == pytest.approx(logs32[name], rel=1e-2), name
  for k in ("g", "d"):
    update, reference = updates[k], updates32[k]
    relative_error = np.linalg.norm(update - reference) / np.linalg.norm(reference)
    assert 1e-4 < relative_error < 0.4, (k, relative_error)


@pytest.mark.parametrize("hardware, policy", [
    (dict(cpu_flags=["avx512_bf16"]), "mixed_bfloat16"),
    (dict(cpu_flags=[]), "float32"),
])
def test_auto_discriminator_precision_follows_the_hardware(tmp_path, monkeypatch, hardware,
                                                           policy):
  monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: hardware["cpu_flags"])
  monkeypatch.setattr(precision, "gpu_bf16_names", lambda: [])
  auto = tiny.tiny_config(tmp_path, discriminator_precision="auto")
  assert train_lib.discriminator_policy(auto) == policy
  # The run's first line says what the discriminators compute in.
  line = train_lib.run_line(tf.distribute.get_strategy(), auto)
  assert line.endswith(f"discriminator_precision={policy} (--discriminator_precision=auto)")
  # 'same' follows --precision, whatever the hardware.
  same = tiny.tiny_config(tmp_path, precision="mixed_bfloat16")
  assert train_lib.discriminator_policy(same) == "mixed_bfloat16"
  assert train_lib.discriminator_policy(tiny.tiny_config(tmp_path)) == "float32"


def test_float16_overflow_skips_the_update_and_halves_the_loss_scale(tmp_path):
  batch = tiny.random_pair_batch()
  keras.utils.set_random_seed(7)
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, precision="mixed_float16"))
  scaler = gan._loss_scalers[id(gan.generator_optimizer)]
  scaler.dynamic_scale.assign(2.0**40)  # Any gradient times 2^40 overflows float16.
  before = [v.numpy().copy() for v in gan.generator.trainable_variables]
  gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  for v, b in zip(gan.generator.trainable_variables, before):
    np.testing.assert_array_equal(v.numpy(), b)
  assert float(scaler.dynamic_scale) == 2.0**39
  assert gan.trained_steps == 0
  # The discriminator's own scaler started at the default 2^15 and did update.
  assert int(gan.discriminator_optimizer.iterations) == 1


def test_float32_and_bfloat16_have_no_loss_scaler(tmp_path):
  for precision in ("float32", "mixed_bfloat16"):
    assert not train_lib.build_gan(tiny.tiny_config(tmp_path, precision=precision))._loss_scalers


@pytest.mark.parametrize("options", [
    dict(cycle_weight=5.0, classification_weight=1.0, r1_weight=1.0, patch_discriminator=True),
    dict(matching_negatives_weight=1.0, discriminator_conditioning="projection",
         latent_consistency_weight=1.0, slab_classification_weight=1.0),
])
def test_quality_options_train_in_mixed_bfloat16(tmp_path, options):
  # The options' code paths (classifier head, R1, cycle, patch scores, projection,
  # mismatched labels) must also keep activations and losses apart: one step,
  # every log finite and float32.
  config = tiny.tiny_config(tmp_path, precision="mixed_bfloat16", **options)
  gan = train_lib.build_gan(config)
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert set(gan.loss_weights.loss_names) <= set(logs)
  assert all(np.isfinite(float(v)) for v in logs.values())
  assert all(logs[name].dtype == "float32" for name in logs)


def test_mixed_bfloat16_under_mirrored_strategy_matches_one_replica(tmp_path):
  # The policy scope sits inside the strategy scope; both replicas compute in
  # bfloat16, so the comparison has bfloat16's tolerance (see above), not 1e-3.
  config = tiny.tiny_config(tmp_path, precision="mixed_bfloat16", weight_decay=1e-3)
  batch = tiny.random_pair_batch()
  sgd = lambda: keras.optimizers.SGD(learning_rate=1.0)
  logs_one, updates_one = _trained_once(tf.distribute.get_strategy(), config, batch, sgd)
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  logs_two, updates_two = _trained_once(mirrored, config, batch, sgd)
  for name in logs_one:
    if name not in gan_trainer.ACCURACY_NAMES:
      assert logs_two[name] == pytest.approx(logs_one[name], rel=1e-2), name
  one = np.concatenate([u.ravel() for u in updates_one])
  two = np.concatenate([u.ravel() for u in updates_two])
  assert np.linalg.norm(two - one) / np.linalg.norm(one) < 0.4
  assert two @ one / (np.linalg.norm(one) * np.linalg.norm(two)) > 0.95


def test_warmed_up_decay_forgets_the_initial_weights_early_and_caps_at_the_decay():
  decay = lambda t: float(gan_trainer.warmed_up_decay(0.999, float(t)))
  assert decay(0) == pytest.approx(0.1)
  assert decay(90) == pytest.approx(0.91)
  assert decay(10 ** 6) == pytest.approx(0.999)


def test_update_average_moves_every_weight_toward_the_live_generator(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, ema_decay=0.5))
  assert gan.inference_generator is gan.averaged_generator
  live, averaged = gan.generator.weights, gan.averaged_generator.weights
  assert len(live) == len(averaged)
  # It starts as a copy of the initial weights.
  for a, w in zip(averaged, live):
    np.testing.assert_array_equal(a.numpy(), w.numpy())
  gan.generator.set_weights([np.ones(w.shape, "float32") for w in live])
  gan.averaged_generator.set_weights([np.zeros(w.shape, "float32") for w in live])
  gan.update_average()  # Step 0: the warm-up decay 0.1 is below 0.5.
  for a in averaged:
    np.testing.assert_allclose(a.numpy(), 0.9, rtol=1e-6)
  gan.generator_optimizer.iterations.assign(1000)  # Past the warm-up: 0.5.
  gan.update_average()
  for a in averaged:
    np.testing.assert_allclose(a.numpy(), 0.95, rtol=1e-6)


def test_without_an_average_samples_use_the_live_generator(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  assert gan.averaged_generator is None and gan.inference_generator is gan.generator
  with pytest.raises(RuntimeError, match="no averaged generator"):
    gan.update_average()


def test_the_average_is_kept_on_every_replica(tmp_path):
  # One update outside the replica function reaches both replicas' copies.
  from elegant_tf.training import training_callbacks
  config = tiny.tiny_config(tmp_path, ema_decay=0.9)
  mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with mirrored.scope():
    gan = train_lib.build_gan(config)
  initial = [v.numpy().copy() for v in gan.generator.weights]
  gan.fit(tf.data.Dataset.from_tensors(tiny.random_pair_batch()).repeat(), steps_per_epoch=1,
          epochs=1, verbose=0, shuffle=False, callbacks=[training_callbacks.GeneratorAverage()])
  decay = 2 / 11  # After one step the warm-up decay is (1 + 1) / (10 + 1).
  changed = 0
  for average, live, before in zip(gan.averaged_generator.weights, gan.generator.weights,
                                   initial):
    expected = decay * before + (1 - decay) * live.numpy()
    copies = mirrored.experimental_local_results(average.value)
    assert len(copies) == 2
    for copy in copies:
      np.testing.assert_allclose(copy.numpy(), expected, rtol=1e-5, atol=1e-7)
    changed += not np.array_equal(before, live.numpy())
  assert changed  # The step moved the live weights, so the check above had teeth.


def test_generate_decodes_the_edits_as_the_generators_transfer_does(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path))
  batch = tiny.random_pair_batch(attribute=0)
  outputs = gan.generate(batch)
  transfer = gan.generator({"image": batch["image_a"], "exemplar": batch["image_b"],
                            "attributes": np.asarray(gan.exchanged(batch))})
  np.testing.assert_allclose(np.asarray(outputs["swapped_c"]), np.asarray(transfer["edited"]),
                             atol=1e-5)
  np.testing.assert_allclose(np.asarray(outputs["swapped_d"]),
                             np.asarray(transfer["exemplar_edited"]), atol=1e-5)


def test_latent_adversary_learns_with_the_discriminators_and_the_encoder_confuses_it(tmp_path):
  config = tiny.tiny_config(tmp_path, latent_adversary_weight=2.0)
  gan = train_lib.build_gan(config)
  assert train_lib.build_gan(tiny.tiny_config(tmp_path)).latent_adversary is None
  kernel = gan.latent_adversary.logits.kernel
  assert any(v is kernel for v in gan.discriminator_variables)
  assert not any(v is kernel for v in gan.generator_variables)
  before = kernel.numpy().copy()
  logs = gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  assert float(logs["latent_adversary_d"]) > 0
  assert float(logs["latent_adversary_g"]) >= np.log(2) - 1e-5
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 2 * logs["latent_adversary_g"]),
      rel=1e-5)
  assert np.abs(kernel.numpy() - before).max() > 0
  assert checkpointing.training_checkpoint(gan).latent_adversary is gan.latent_adversary


def test_absent_slab_term_is_logged_and_added_to_the_generator_loss(tmp_path):
  config = tiny.tiny_config(tmp_path, absent_slab_weight=4.0)
  gan = train_lib.build_gan(config)
  batch = tiny.random_pair_batch()
  latents = np.asarray(gan.generator.encode(np.concatenate([batch["image_a"],
                                                            batch["image_b"]]))[0])
  labels = np.concatenate([batch["labels_a"], batch["labels_b"]])
  absent = (1 - labels) @ latent_swap.slab_membership(latents.shape[-1], 2)
  expected = float(losses.absent_slab_loss(latents, absent))
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  assert float(logs["absent_slab"]) == pytest.approx(expected, rel=1e-4)
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 4 * logs["absent_slab"]), rel=1e-5)


@pytest.mark.parametrize("weight", [1.0, 3.0])
def test_removal_adversarial_weight_scales_the_generators_term_on_c(tmp_path, weight):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, removal_adversarial_weight=weight))
  batch = tiny.random_pair_batch()
  outputs = gan.generate(batch)
  fake = np.concatenate([outputs["swapped_c"], outputs["swapped_d"]])
  labels = np.concatenate([outputs["labels_c"], outputs["labels_d"]])
  logits = gan.discriminator_full(fake, labels).numpy().astype(np.float64)
  size = len(batch["image_a"])
  wish = np.log1p(np.exp(-logits))  # BCE against "real".
  expected = weight * wish[:size].mean() + wish[size:].mean()
  got = float(gan._generator_adversarial(gan.discriminator_full, fake, labels))
  assert got == pytest.approx(expected, rel=1e-4)


def test_readout_learns_real_labels_with_the_generator(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, readout_conditioning_weight=3.0))
  assert not hasattr(train_lib.build_gan(tiny.tiny_config(tmp_path)).generator, "readout")
  kernel = gan.generator.readout.kernel
  assert any(v is kernel for v in gan.generator_variables)
  assert gan.averaged_generator is None or gan.averaged_generator.readout_conditioned
  batch = tiny.random_pair_batch()
  latents = gan.generator.encode(np.concatenate([batch["image_a"], batch["image_b"]]))[0]
  labels = np.concatenate([batch["labels_a"], batch["labels_b"]])
  expected = float(losses.attribute_classification_loss(gan.generator.readout(latents), labels))
  before = kernel.numpy().copy()
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  assert float(logs["readout_classification"]) == pytest.approx(expected, rel=1e-4)
  assert float(logs["loss_g"]) == pytest.approx(float(
      5 * logs["reconstruction"] + logs["adversarial_g"] + 3 * logs["readout_classification"]),
      rel=1e-5)
  assert np.abs(kernel.numpy() - before).max() > 0


def _local_config(tmp_path, weight=2.0):
  return tiny.tiny_config(tmp_path, local_discriminator_weight=weight)


_WINDOWS = np.array([[0, 16, 16], [8, 4, 16]], np.int32)  # Attribute 1: rows 8-23, cols 4-19.


def test_local_discriminator_needs_its_windows(tmp_path):
  with pytest.raises(ValueError, match="go together"):
    train_lib.build_gan(_local_config(tmp_path))
  with pytest.raises(ValueError, match="go together"):
    train_lib.build_gan(tiny.tiny_config(tmp_path), _WINDOWS)


def test_local_windows_crop_the_exchanged_attributes_square(tmp_path):
  gan = train_lib.build_gan(_local_config(tmp_path), _WINDOWS)
  images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
  np.testing.assert_array_equal(np.asarray(gan.local_windows(images, np.full((3,), 1))),
                                images[:, 8:24, 4:20])
  np.testing.assert_array_equal(np.asarray(gan.local_windows(images, np.zeros((3,), int))),
                                images[:, 0:16, 16:32])


def test_local_discriminator_learns_with_the_others_and_weighs_in_both_losses(tmp_path):
  gan = train_lib.build_gan(_local_config(tmp_path), _WINDOWS)
  assert train_lib.build_gan(tiny.tiny_config(tmp_path)).discriminator_local is None
  kernel = gan.discriminator_local.score.kernel
  assert any(v is kernel for v in gan.discriminator_variables)
  assert not any(v is kernel for v in gan.generator_variables)
  assert checkpointing.training_checkpoint(gan).discriminator_local is gan.discriminator_local
  batch = tiny.random_pair_batch()
  # The step's fakes: the generator only changes at the step's very end.
  outputs = gan.generate(batch)
  fake = np.concatenate([outputs["swapped_c"], outputs["swapped_d"]])
  labels = np.concatenate([outputs["labels_c"], outputs["labels_d"]])
  before = kernel.numpy().copy()
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  assert np.abs(kernel.numpy() - before).max() > 0
  expected_d = (2 * (logs["d1_real"] + logs["d1_fake"])
                + 0.5 * 2 * (logs["d2_real"] + logs["d2_fake"])
                + 2.0 * 2 * (logs["d3_real"] + logs["d3_fake"])) / 4
  assert float(logs["loss_d"]) == pytest.approx(float(expected_d), rel=1e-5)
  # G's term reads the freshly updated D1, D2 and D3, which the step left as they are now;
  # D3 sees attribute 1's window only.
  expected_g = (gan._generator_adversarial(gan.discriminator_full, fake, labels)
                + 0.5 * gan._generator_adversarial(gan.discriminator_half, fake, labels)
                + 2.0 * gan._generator_adversarial(gan.discriminator_local,
                                                   fake[:, 8:24, 4:20], labels))
  assert float(logs["adversarial_g"]) == pytest.approx(float(expected_g), rel=1e-4)


def test_output_gain_is_built_from_the_config_and_trained_off_one(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, output_gain=True))
  gain = gan.generator.decoder.gain
  assert all(not np.any(w) for w in gain.get_weights())  # Starts at gain 1 exactly.
  gan.train_step({k: tf.constant(v) for k, v in tiny.random_pair_batch().items()})
  # The adversarial and reconstruction losses reach the gain: it leaves 1 after one step.
  assert any(np.any(w) for w in gain.get_weights())


def test_the_gain_stays_one_until_its_start_step_and_learns_from_then(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, output_gain=True,
                                             output_gain_start_step=2))
  gain = gan.generator.decoder.gain
  encoder_before = [w.copy() for w in gan.generator.encoder.get_weights()]
  batch = {k: tf.constant(v) for k, v in tiny.random_pair_batch().items()}
  for _ in range(2):  # Updates 0 and 1: gated.
    gan.train_step(batch)
  assert all(not np.any(w) for w in gain.get_weights())
  # The rest of the generator trains meanwhile.
  assert any(np.any(a != b) for a, b in zip(encoder_before, gan.generator.encoder.get_weights()))
  gan.train_step(batch)  # Update 2: the gain's first.
  assert any(np.any(w) for w in gain.get_weights())


def test_kept_attributes_are_read_by_the_discriminators_and_claimed_unchanged(
    tmp_path, monkeypatch):
  gan = train_lib.build_gan(tiny.tiny_config(
      tmp_path, kept_attributes=("Smiling",), discriminator_conditioning="projection"))
  assert gan.discriminator_full.projection.kernel.shape[-1] == 3  # 2 exchanged + 1 kept.
  batch = tiny.random_pair_batch()
  batch["kept_a"] = np.ones((4, 1), np.float32)  # A smiles, B does not.
  batch["kept_b"] = np.zeros((4, 1), np.float32)
  seen = []
  scoring = gan.discriminator_half.call

  def recording(images, labels):
    seen.append(np.asarray(labels))
    return scoring(images, labels)

  monkeypatch.setattr(gan.discriminator_half, "call", recording)
  logs = gan.train_step({k: tf.constant(v) for k, v in batch.items()})
  assert np.isfinite(float(logs["loss_d"]))
  # D's update scores [A; B; C; D] at once, then G's term scores [C; D]: C claims A's
  # kept label and D claims B's, whatever was exchanged.
  expected = np.array([1] * 4 + [0] * 4, np.float32)
  np.testing.assert_array_equal(seen[0][:, 2], np.concatenate([expected, expected]))
  np.testing.assert_array_equal(seen[-1][:, 2], expected)
  # The exchanged attribute (1) is claimed swapped; the kept one is not.
  np.testing.assert_array_equal(seen[-1][:4, 1], batch["labels_b"][:, 1])


def test_without_kept_attributes_the_discriminators_read_the_exchanged_labels_only(tmp_path):
  gan = train_lib.build_gan(tiny.tiny_config(tmp_path, discriminator_conditioning="projection"))
  assert gan.discriminator_full.projection.kernel.shape[-1] == 2
  labels = tf.constant(tiny.random_pair_batch()["labels_a"])
  assert gan.claims(labels, None) is labels
