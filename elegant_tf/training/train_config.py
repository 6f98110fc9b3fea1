"""The typed, validated settings of one training run, each declared once (with its flag's
help, choices, bounds and whether a resume may change it); train.py derives its flags
from them."""

import dataclasses
from typing import Optional

from elegant_tf import dataclass_flags
from elegant_tf.models import discriminator as discriminator_lib
from elegant_tf.models import normalization
from elegant_tf.models import precision as precision_lib
from elegant_tf.training import losses
from pipelines import atomic_files
from pipelines import data_spec

STRATEGIES = ("default", "mirrored", "multi_worker")
# float16 needs loss scaling, which follows --precision; the discriminators alone get
# bfloat16 or float32.
DISCRIMINATOR_PRECISIONS = ("same",) + tuple(
    name for name in precision_lib.PRECISIONS if name != "mixed_float16")
RESOLVED_FLAGS_FILE = "flags.txt"  # In the run directory.

setting = dataclass_flags.setting

ConfigError = dataclass_flags.ConfigError  # What every problem with the settings raises.
SettingError = dataclass_flags.SettingError  # One setting's value, from train_lib.


@dataclasses.dataclass(frozen=True)
class TrainConfig(dataclass_flags.FlagSettings):
  """Everything a run needs, each setting declared once: train.py's flags, a run's
  flags.txt and the resume rules all come from these fields. `validate` names every
  problem before any work starts."""
  data: str = setting(
      "synthetic",
      "Training faces: 'synthetic' (embedded procedural faces with exact ground truth, aligned "
      "like CelebA's aligned crops), 'synthetic:wild' (the same faces unaligned), "
      "'celeba:DIR', 'tfrecord:DIR', 'folder:DIR[,landmarks=auto]' or 'tfds:celeb_a'.")
  attributes: tuple[str, ...] = setting(
      ("Eyeglasses", "Bangs", "Smiling"),
      "Attributes to disentangle, comma separated, as the data names them (synthetic: "
      "Eyeglasses, Bangs, Smiling, Mustache, Blond_Hair, Wearing_Hat). Each gets one slab of "
      "the latent channels, in this order.")
  kept_attributes: tuple[str, ...] = setting(
      (), "Not in the paper (empty = off): attributes, as the data names them, that D1 and D2 "
      "are told as more labels but that no slab holds and no edit exchanges, so an edit must "
      "keep them: e.g. Blond_Hair, so that exchanging Bangs cannot recolour the hair (a "
      "failure that stronger discriminators set off).")
  split: str = setting("train", "Split to train on: train, val or test.")
  tfds_data_dir: Optional[str] = setting(None, "data_dir for --data=tfds:celeb_a.",
                                         resumable=True)
  deterministic: bool = setting(
      True, "Keep tf.data element order deterministic (slower with parallel decoding).",
      resumable=True)
  image_size: int = setting(
      data_spec.DEFAULT_IMAGE_SIZE, "Square image size in pixels; a multiple of "
      "2**encoder_depth, at least 32 (paper: 256).")
  batch_size: int = setting(
      16, "Global batch of pairs per attribute update, split across replicas (paper: 16).")
  train_steps: int = setting(
      1000, "Training steps; one step updates D then G on one attribute's pair batch, "
      "attributes taking turns (paper: 200k rounds x number of attributes).",
      at_least=1, resumable=True)
  run_dir: str = setting(
      "runs/demo", "Run directory: resolved flags, checkpoints, TensorBoard logs, sample "
      "grids. An existing run resumes from its last checkpoint; "
      f"{atomic_files.MISSING_FOLDERS_HELP}.", resumable=True)
  export_dir: Optional[str] = setting(
      "saved_models/elegant_demo", "Model folder for the SavedModel exported at the end; "
      "numeric version folders are created inside (TF Serving layout). Empty: no export.",
      resumable=True)
  strategy: str = setting(
      "default", "'default' (one device), 'mirrored' (tf.distribute.MirroredStrategy over all "
      "GPUs, or over --cpu_replicas logical CPUs) or 'multi_worker' "
      "(MultiWorkerMirroredStrategy over the machines in the TF_CONFIG environment variable; "
      "run the same command on every worker).", choices=STRATEGIES, resumable=True)
  cpu_replicas: int = setting(
      1, "Split the CPU into N logical devices for --strategy=mirrored (to try multi-replica "
      "training without GPUs; slower, not faster).", at_least=1, resumable=True)
  checkpoint_every: int = setting(500, "Checkpoint every N steps.", at_least=1, resumable=True)
  sample_every: int = setting(500, "Write sample grids (PNG and TensorBoard) every N steps.",
                              at_least=1, resumable=True)
  log_every: int = setting(100, "Write TensorBoard scalars every N steps (paper: 100).",
                           at_least=1, resumable=True)
  seed: int = setting(0, "Seed of weights, data order and synthetic faces.")
  encoder_depth: int = setting(5, "Encoder blocks (paper: 5, latent 8x8 at 256 px).",
                               at_least=2)
  encoder_base_width: int = setting(
      64, "Channels of the first encoder block, doubling per block (paper: 64).", at_least=1)
  encoder_max_width: int = setting(
      512, "Channel cap of encoder blocks, i.e. latent channels C (paper: 512).", at_least=1)
  discriminator_base_width: int = setting(
      64, "Channels of the first discriminator block (paper: 64).", at_least=1)
  discriminator_max_width: int = setting(
      512, "Channel cap of discriminator blocks (paper: 512).", at_least=1)
  # loss_weights_field: the gan_trainer.LossWeights field a setting fills (train_lib).
  gan_loss: str = setting(
      "gan", "Adversarial loss: 'gan' (the paper's BCE), 'lsgan' or 'hinge'.",
      choices=losses.GAN_LOSSES, loss_weights_field="gan_loss")
  reconstruction_weight: float = setting(
      5.0, "Weight of the reconstruction MSE in the G loss (paper: 5).", at_least=0,
      loss_weights_field="reconstruction")
  d2_weight: float = setting(
      0.5, "Weight of the half-resolution discriminator D2 (paper: 0.5).", at_least=0,
      loss_weights_field="d2")
  learning_rate: float = setting(2e-4, "Adam learning rate (paper: 2e-4).", positive=True,
                                 resumable=True)
  discriminator_lr_ratio: float = setting(
      1.0, "Discriminator learning rate / generator learning rate (paper: 1; TTUR-style runs "
      "use 2 to 4).", positive=True, resumable=True)
  lr_decay_rate: float = setting(0.97, "Learning rate factor per decay period (paper: 0.97).",
                                 resumable=True)
  lr_decay_every: int = setting(
      3000, "Steps per learning-rate decay (paper: every 3000 rounds over all attributes, i.e. "
      "3000 x number of attributes steps here).", at_least=1, resumable=True)
  weight_decay: float = setting(
      1e-5, "Coupled L2 weight decay added to gradients, as PyTorch's Adam (paper: 1e-5).",
      at_least=0, loss_weights_field="weight_decay")
  cycle_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of a swap-back cycle loss (re-encode C and D, "
      "exchange the slab back, L1 to A and B).", at_least=0, loss_weights_field="cycle")
  cycle_fraction: float = setting(
      1.0, "Not in the paper: compute --cycle_weight's loss on this fraction of each "
      "replica's pairs (the first ones, at least one), for about that fraction of its cost "
      "(a second encode and decode: +31% a demo.flags step at 1, +7% at 0.25, with the same "
      "gains). 1 = all pairs.",
      positive=True, loss_weights_field="cycle_fraction")
  classification_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of an attribute classifier on D1; D learns real "
      "labels, G wants the exchanged attribute of C and D classified as swapped.", at_least=0,
      loss_weights_field="classification")
  r1_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of an R1 gradient penalty on D1's score of real "
      "images (gamma/2 * E|grad|^2; this flag is gamma).", at_least=0, loss_weights_field="r1")
  r1_every: int = setting(
      1, "Not in the paper: compute --r1_weight's penalty only on every this-many-th "
      "discriminator update, weighted this many times (StyleGAN2's lazy regularization): "
      "about the same penalty on average at a fraction of its cost. 1 = every step.",
      at_least=1, loss_weights_field="r1_every")
  matching_negatives_weight: float = setting(
      0.0, "Not in the paper (0 = off): D1 and D2 also learn that a real face paired with the "
      "exchanged attribute's label flipped is fake (matching-aware negatives), with this weight "
      "relative to the C, D fake term.", at_least=0, loss_weights_field="matching_negatives")
  matching_negatives_claims: str = setting(
      "both", "Which wrong claims --matching_negatives_weight shows the discriminators: "
      "'both', 'removal' (only a face with the attribute claimed without it, the claim a "
      "half-removed attribute makes) or 'adding' (only a face without it claimed with it).",
      choices=losses.MATCHING_CLAIMS, loss_weights_field="matching_negatives_claims")
  removal_adversarial_weight: float = setting(
      1.0, "Not in the paper (1 = the paper): weight of the generator's adversarial term on C, "
      "the face that loses its attribute, against 1 on D, the face that gains it; above 1 the "
      "generator is pushed harder to leave nothing of a removed attribute.", positive=True,
      loss_weights_field="removal_adversarial")
  latent_consistency_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of a latent consistency loss: C and D are "
      "encoded again and the exchanged slab must match the one they were decoded from (L1), "
      "so what is left of a removed attribute costs the decoder; the encoder's weights get no "
      "gradient from it.", at_least=0, loss_weights_field="latent_consistency")
  slab_classification_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of a linear readout that must predict each "
      "attribute of real A and B from that attribute's latent slab alone (averaged over "
      "space), trained with the generator; pushes the encoder to put the attribute in its slab "
      "(see benchmarks/slab_probe).", at_least=0, loss_weights_field="slab_classification")
  latent_adversary_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of a latent adversary (Fader Networks' latent "
      "discriminator, per slab): a small network, trained with the discriminators, reads each "
      "attribute of real A and B from the latent channels outside that attribute's slab, and "
      "the encoder is asked to leave it at chance, so an attribute lives in its slab alone.",
      at_least=0, loss_weights_field="latent_adversary")
  absent_slab_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of an L1 pull toward zero (relative to the whole "
      "latent's magnitude, which the decoder does not see) on the latent slab of "
      "every attribute a real A or B lacks (DNA-GAN's annihilated codes, soft), so removing an "
      "attribute exchanges in a near-zero slab rather than the negative face's own.",
      at_least=0, loss_weights_field="absent_slab")
  readout_conditioning_weight: float = setting(
      0.0, "Not in the paper (0 = off): the generator gets a linear readout of each attribute "
      "from its own latent slab (averaged over space, standardized), trained on real A and B "
      "with this weight, and the decoder reads at every block how much the readout's "
      "probability of each attribute moves between the unedited and the edited latent (0 for "
      "a reconstruction, about -1 for a removal); exports need no labels.", at_least=0,
      loss_weights_field="readout_classification")
  local_discriminator_weight: float = setting(
      0.0, "Not in the paper (0 = off): weight of a third discriminator, D3, that sees only "
      "the exchanged attribute's window of each face (half the image's side, placed where the "
      "mean difference between the training pairs' A and B is largest, estimated at the start "
      "of the run), in the discriminator and the generator loss alike; it reads the labels as "
      "D1 does.", at_least=0, loss_weights_field="local_discriminator")
  patch_discriminator: bool = setting(
      False, "Not in the paper: D1 and D2 score every cell of their last feature map (a patch of "
      "about 31 input pixels for D1) instead of one global score.")
  discriminator_conditioning: str = setting(
      "channels", "How D1 and D2 read the labels: 'channels' (the paper: tiled as input "
      "channels), 'projection' (not in the paper: a projection discriminator, score + sum_j "
      "s_j <v_j, features>, s_j = +-1 for present / absent) or 'channels_projection' (both).",
      choices=discriminator_lib.CONDITIONINGS)
  half_discriminator_conditioning: str = setting(
      "same", "Not in the paper: how D2 (the half-size discriminator) reads the labels, if "
      "not as D1 does ('same'): one of --discriminator_conditioning's values, so that D2 can "
      "keep the paper's label channels while D1 uses the projection.",
      choices=("same",) + tuple(discriminator_lib.CONDITIONINGS))
  discriminator_normalization: str = setting(
      "pixel", "What follows each convolution of D1 and D2: 'pixel' (the paper: each pixel's "
      "feature vector divided by its length) or 'none' (not in the paper: no normalization, so "
      "the score can follow the amplitude of a faint structure such as a half-removed frame).",
      choices=normalization.NORMALIZATIONS)
  encoder_normalization: str = setting(
      "pixel", "What follows each convolution of the encoder: 'pixel' (the paper: each pixel's "
      "feature vector divided by its length, the latent's too) or 'none' (not in the paper).",
      choices=normalization.NORMALIZATIONS)
  decoder_normalization: str = setting(
      "pixel", "What follows each transposed convolution of the decoder but the last: 'pixel' "
      "(the paper) or 'none' (not in the paper: the features can say how much of an "
      "attribute to draw or cancel by their length, not only by their direction).",
      choices=normalization.NORMALIZATIONS)
  skip_gating: bool = setting(
      False, "Not in the paper: the decoder scales each encoder skip by a gate computed from "
      "the latent difference (edited - unedited), so an exchanged slab can silence the edited "
      "face's own attribute in the skips; a reconstruction (no difference) keeps them whole.")
  dropped_fine_skips: int = setting(
      0, "Not in the paper: the decoder leaves out this many of its finest encoder skips (1 = "
      "none at half resolution), so the edited face's own fine detail (thin glasses frames) "
      "does not reach the residual past the exchanged slab. 0 keeps every skip.", at_least=0)
  image_head_width: int = setting(
      0, "Not in the paper (0 = off): the decoder's last transposed convolution gives this "
      "many channels at full resolution, and a 3x3 convolution reads them together with the "
      "input image to make the residual, so an edit can follow the image's exact pixels.",
      at_least=0)
  masked_output: bool = setting(
      False, "Not in the paper: the decoder gives a colour image and a mask instead of a "
      "residual, and the edit is input + mask * (colour - input) (GANimation's attention), so "
      "removing an attribute means painting over it rather than subtracting its exact colours.")
  output_gain: bool = setting(
      False, "Not in the paper: the decoder also gives a per-pixel gain in (0, 2) and the "
      "edit is input * gain + residual, so a glasses frame can be painted over (gain near 0, "
      "the skin as residual) without following its edges to the pixel, and a tinted lens "
      "undone by scaling the face's own pixels; the gain starts at exactly 1.")
  output_gain_start_step: int = setting(
      0, "With --output_gain: the gain's layer learns only from this step on; before it its "
      "gradient is zero, so the gain stays exactly 1 and the decoder trains as without the "
      "gain. 0 = from the start.", at_least=0, loss_weights_field="gain_start_step")
  jit_compile: bool = setting(False, "Compile the train step with XLA.", resumable=True)
  precision: str = setting(
      "float32", "Compute precision of training (Keras mixed-precision policy): 'float32', "
      "'mixed_bfloat16' or 'mixed_float16' (16-bit compute, float32 variables, optimizer state "
      "and losses; float16 adds dynamic loss scaling), or 'auto' (mixed_bfloat16 if the CPU has "
      "amx_bf16/avx512_bf16 or a GPU has bfloat16, else float32). Exports are float32 whatever "
      "the training precision.", choices=precision_lib.PRECISIONS, resumable=True)
  discriminator_precision: str = setting(
      "same", "Not in the paper: compute precision of the discriminators alone. 'same' (the "
      "default) follows --precision; 'mixed_bfloat16' runs D1 and D2 in bfloat16 while the "
      "generator keeps --precision, so its outputs stay float32-exact; 'auto' is "
      "mixed_bfloat16 where --precision=auto would pick it and float32 elsewhere. The "
      "discriminators are most of the step at the paper's widths, and what they give the "
      "generator is a gradient: the images it makes keep --precision's rounding.",
      choices=DISCRIMINATOR_PRECISIONS, resumable=True)
  eval_pairs: int = setting(
      64, "Held-out synthetic pairs per attribute in the end-of-run ground-truth evaluation "
      "(0: skip).", at_least=0, resumable=True)
  ema_decay: float = setting(
      0.0, "Not in the paper (0 = off): keep an exponential moving average of the generator's "
      "weights with this decay (e.g. 0.999, warmed up as min(decay, (1+t)/(10+t)) at step t); "
      "sample grids, the export, the end-of-run evaluation and --model=RUN_DIR use the "
      "average.", at_least=0)

  @property
  def num_replicas(self) -> int:
    return self.cpu_replicas if self.strategy == "mirrored" else 1

  def validate(self) -> None:
    """Raise ConfigError listing every inconsistent setting (attribute names are checked
    against the data source by the caller, which knows its names)."""
    # Choices and bounds come from the declaration; what follows relates settings.
    problems = self.value_problems()
    if not self.attributes:
      problems.append("--attributes is empty; name at least one attribute")
    granule = 2 ** max(self.encoder_depth, 5)
    if self.image_size < 32 or self.image_size % (2 ** self.encoder_depth):
      problems.append(
          f"--image_size={self.image_size} must be at least 32 (the discriminators downsample "
          f"the half-size image 16x) and a multiple of 2**encoder_depth = "
          f"{2 ** self.encoder_depth}; e.g. {max(granule, 64)}")
    latent_channels = min(self.encoder_base_width * 2 ** (self.encoder_depth - 1),
                          self.encoder_max_width)
    if latent_channels < len(self.attributes):
      problems.append(f"the latent has {latent_channels} channels, fewer than the "
                      f"{len(self.attributes)} attributes; raise --encoder_max_width")
    if self.cpu_replicas > 1 and self.strategy != "mirrored":
      problems.append("--cpu_replicas > 1 only makes sense with --strategy=mirrored")
    if self.batch_size < 1 or self.batch_size % self.num_replicas:
      problems.append(f"--batch_size={self.batch_size} must be positive and divisible by the "
                      f"{self.num_replicas} replicas")
    if self.dropped_fine_skips > self.encoder_depth - 1:
      problems.append(f"--dropped_fine_skips={self.dropped_fine_skips} exceeds the decoder's "
                      f"{self.encoder_depth - 1} skips (--encoder_depth - 1)")
    if self.cycle_fraction > 1:
      problems.append(f"--cycle_fraction={self.cycle_fraction} must be at most 1 (all pairs)")
    if self.ema_decay >= 1:
      problems.append(f"--ema_decay={self.ema_decay} must be below 1 (0 = no average)")
    if (self.patch_discriminator and {self.discriminator_conditioning,
                                      self.half_discriminator_conditioning}
        & (set(discriminator_lib.CONDITIONINGS) - {"channels"})):
      problems.append(f"--discriminator_conditioning={self.discriminator_conditioning} scores "
                      "whole images; it does not combine with --patch_discriminator")
    if self.output_gain_start_step and not self.output_gain:
      problems.append("--output_gain_start_step needs --output_gain")
    if self.output_gain and self.masked_output:
      problems.append("--output_gain and --masked_output are two ways to combine the "
                      "decoder's output with the input; set one")
    if self.discriminator_precision != "same" and self.precision == "mixed_float16":
      problems.append(f"--discriminator_precision={self.discriminator_precision} does not "
                      "combine with --precision=mixed_float16 (float16's loss scaling covers "
                      "every network); leave it at 'same'")
    if len(set(self.attributes)) != len(self.attributes):
      problems.append(f"--attributes lists a name twice: {','.join(self.attributes)}")
    if len(set(self.kept_attributes)) != len(self.kept_attributes):
      problems.append(f"--kept_attributes lists a name twice: {','.join(self.kept_attributes)}")
    both = [name for name in self.kept_attributes if name in self.attributes]
    if both:
      problems.append(f"--kept_attributes and --attributes both name {','.join(both)}: an "
                      "attribute is either exchanged or kept")
    if problems:
      raise ConfigError("invalid settings:\n  " + "\n  ".join(problems))

  @property
  def encoder_widths(self) -> list:
    return [min(self.encoder_base_width * 2**k, self.encoder_max_width)
            for k in range(self.encoder_depth)]

  @property
  def discriminator_widths(self) -> list:
    return [min(self.discriminator_base_width * 2**k, self.discriminator_max_width)
            for k in range(4)]

  def differences(self, other: "TrainConfig") -> list[str]:
    """Names of the settings whose values differ between self and `other`."""
    return [field.name for field in dataclasses.fields(self)
            if getattr(self, field.name) != getattr(other, field.name)]


# The settings declared `resumable` may change when a run resumes: how long and how to
# run, where outputs go, the learning-rate schedule. Every other setting defines the
# model, its objective or its data (order included: batch size and seed place the
# resumed data stream), so a change would silently continue different weights under
# a new meaning. `precision` is resumable because checkpoints hold float32 weights
# whatever the compute precision (tests/elegant_tf/training/test_checkpointing.py).
RESUMABLE_CHANGES = TrainConfig.resumable_fields()
