"""The typed, validated settings of one training run (built from flags by train.py)."""

import dataclasses
from typing import Optional

from elegant_tf import usage
from elegant_tf.models import discriminator as discriminator_lib
from elegant_tf.models import precision as precision_lib
from elegant_tf.training import losses

STRATEGIES = ("default", "mirrored", "multi_worker")
RESOLVED_FLAGS_FILE = "flags.txt"  # In the run directory.


# Flags a resumed run may change: how long and how to run, where outputs go, the
# learning-rate schedule. Every other flag defines the model, its objective or its
# data (order included: batch size and seed place the resumed data stream), so a
# change would silently continue different weights under a new meaning.
RESUMABLE_CHANGES = frozenset({
    "train_steps", "run_dir", "export_dir", "strategy", "cpu_replicas", "checkpoint_every",
    "sample_every", "log_every", "eval_pairs", "jit_compile", "deterministic",
    "tfds_data_dir", "learning_rate", "discriminator_lr_ratio", "lr_decay_rate",
    "lr_decay_every",
    # Checkpoints hold float32 weights whatever the compute precision, so a run
    # may resume in another precision (tests/elegant_tf/training/test_checkpointing.py).
    "precision"})


class ConfigError(usage.UsageError):
  """A setting (or the data it names) cannot work; raised before any training work.

  A UsageError, so every command reports it the same way (one line, exit 2).
  """


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Everything a run needs; `validate` names every problem before any work starts."""
  data: str = "synthetic"
  attributes: tuple = ("Eyeglasses", "Bangs", "Smiling")
  split: str = "train"
  tfds_data_dir: Optional[str] = None
  deterministic: bool = True
  image_size: int = 64
  batch_size: int = 16
  train_steps: int = 1000
  run_dir: str = "runs/demo"
  export_dir: Optional[str] = "saved_models/elegant_demo"
  strategy: str = "default"
  cpu_replicas: int = 1
  checkpoint_every: int = 500
  sample_every: int = 500
  log_every: int = 100
  seed: int = 0
  encoder_depth: int = 5
  encoder_base_width: int = 64
  encoder_max_width: int = 512
  discriminator_base_width: int = 64
  discriminator_max_width: int = 512
  gan_loss: str = "gan"
  reconstruction_weight: float = 5.0
  d2_weight: float = 0.5
  learning_rate: float = 2e-4
  discriminator_lr_ratio: float = 1.0
  lr_decay_rate: float = 0.97
  lr_decay_every: int = 3000
  weight_decay: float = 1e-5
  cycle_weight: float = 0.0
  classification_weight: float = 0.0
  r1_weight: float = 0.0
  matching_negatives_weight: float = 0.0
  patch_discriminator: bool = False
  discriminator_conditioning: str = "channels"
  skip_gating: bool = False
  ema_decay: float = 0.0
  jit_compile: bool = False
  precision: str = "float32"
  eval_pairs: int = 64

  @property
  def num_replicas(self) -> int:
    return self.cpu_replicas if self.strategy == "mirrored" else 1

  def validate(self) -> None:
    """Raise ConfigError listing every inconsistent setting (attribute names are checked
    against the data source by the caller, which knows its names)."""
    problems = []
    if not self.attributes:
      problems.append("--attributes is empty; name at least one attribute")
    if self.encoder_depth < 2:
      problems.append(f"--encoder_depth={self.encoder_depth} must be at least 2")
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
    if self.strategy not in STRATEGIES:
      problems.append(f"--strategy={self.strategy!r}; valid: {', '.join(STRATEGIES)}")
    if self.cpu_replicas < 1:
      problems.append(f"--cpu_replicas={self.cpu_replicas} must be at least 1")
    if self.cpu_replicas > 1 and self.strategy != "mirrored":
      problems.append("--cpu_replicas > 1 only makes sense with --strategy=mirrored")
    if self.batch_size < 1 or self.batch_size % self.num_replicas:
      problems.append(f"--batch_size={self.batch_size} must be positive and divisible by the "
                      f"{self.num_replicas} replicas")
    if self.precision not in precision_lib.PRECISIONS:
      problems.append(f"--precision={self.precision!r}; valid: "
                      f"{', '.join(precision_lib.PRECISIONS)}")
    if self.gan_loss not in losses.GAN_LOSSES:
      problems.append(f"--gan_loss={self.gan_loss!r}; valid: {', '.join(losses.GAN_LOSSES)}")
    for name in ("train_steps", "checkpoint_every", "sample_every", "log_every",
                 "lr_decay_every", "encoder_base_width", "encoder_max_width",
                 "discriminator_base_width", "discriminator_max_width"):
      if getattr(self, name) < 1:
        problems.append(f"--{name}={getattr(self, name)} must be at least 1")
    for name in ("cycle_weight", "classification_weight", "r1_weight",
                 "matching_negatives_weight", "weight_decay",
                 "reconstruction_weight", "d2_weight"):
      if getattr(self, name) < 0:
        problems.append(f"--{name}={getattr(self, name)} must be >= 0")
    if not 0 <= self.ema_decay < 1:
      problems.append(f"--ema_decay={self.ema_decay} must be in [0, 1) (0 = no average)")
    if self.eval_pairs < 0:
      problems.append(f"--eval_pairs={self.eval_pairs} must be >= 0")
    for name in ("learning_rate", "discriminator_lr_ratio"):
      if not getattr(self, name) > 0:
        problems.append(f"--{name}={getattr(self, name)} must be positive")
    if self.discriminator_conditioning not in discriminator_lib.CONDITIONINGS:
      problems.append(f"--discriminator_conditioning={self.discriminator_conditioning} is "
                      "not one of: " + ", ".join(discriminator_lib.CONDITIONINGS))
    elif self.discriminator_conditioning != "channels" and self.patch_discriminator:
      problems.append(f"--discriminator_conditioning={self.discriminator_conditioning} scores "
                      "whole images; it does not combine with --patch_discriminator")
    if len(set(self.attributes)) != len(self.attributes):
      problems.append(f"--attributes lists a name twice: {','.join(self.attributes)}")
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

  def to_flagfile(self) -> str:
    """Flagfile text that reproduces this config (`--flagfile=` it)."""
    lines = ["# Resolved flags of this run; `--flagfile` this file to reproduce it."]
    for field in dataclasses.fields(self):
      value = getattr(self, field.name)
      if isinstance(value, bool):
        lines.append(f"--{'' if value else 'no'}{field.name}")
      elif isinstance(value, tuple):
        lines.append(f"--{field.name}={','.join(value)}")
      else:
        lines.append(f"--{field.name}={'' if value is None else value}")
    return "\n".join(lines) + "\n"

  @classmethod
  def from_flagfile(cls, path: str) -> "TrainConfig":
    """Read a flagfile written by `to_flagfile` (a run directory's flags.txt)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    values = {}
    with open(path) as f:
      for line in f:
        line = line.strip()
        if not line or line.startswith("#"):
          continue
        if not line.startswith("--"):
          raise ConfigError(f"{path}: unknown line {line[:60]!r}")
        name, has_value, text = line[2:].partition("=")
        if not has_value:  # --flag / --noflag booleans.
          key = name[2:] if name.startswith("no") and name[2:] in fields else name
          if key not in fields or not isinstance(getattr(defaults, key), bool):
            raise ConfigError(f"{path}: unknown setting --{name}")
          values[key] = not (key != name)
          continue
        if name not in fields:
          raise ConfigError(f"{path}: unknown setting --{name}")
        default = getattr(defaults, name)
        if isinstance(default, tuple):
          values[name] = tuple(v for v in text.split(",") if v)
        elif name in ("export_dir", "tfds_data_dir"):
          values[name] = text or None
        elif isinstance(default, bool):
          values[name] = text.lower() in ("1", "true")
        else:
          try:
            values[name] = type(default)(text)
          except ValueError as error:
            raise ConfigError(f"{path}: --{name}={text!r}: expected "
                              f"{type(default).__name__}") from error
    return cls(**values)
