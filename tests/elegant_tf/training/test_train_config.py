import dataclasses
import os
import re

import pytest
from absl import flags

from elegant_tf.models import discriminator
from elegant_tf.models import precision
from elegant_tf.training import losses
from elegant_tf.training import train_config


def test_defaults_are_valid_and_paper_widths():
  config = train_config.TrainConfig(image_size=256)
  config.validate()
  assert config.encoder_widths == [64, 128, 256, 512, 512]
  assert config.discriminator_widths == [64, 128, 256, 512]


@pytest.mark.parametrize("changes, message", [
    ({"image_size": 100}, "multiple of 2**encoder_depth"),
    ({"image_size": 16, "encoder_depth": 3}, "at least 32"),
    ({"strategy": "tpu"}, "valid: default, mirrored"),
    ({"cpu_replicas": 2}, "only makes sense with --strategy=mirrored"),
    ({"strategy": "mirrored", "cpu_replicas": 3, "batch_size": 16}, "divisible by the 3"),
    ({"attributes": ()}, "at least one attribute"),
    ({"encoder_max_width": 2, "attributes": ("a", "b", "c")}, "fewer than the 3 attributes"),
    ({"train_steps": 0}, "--train_steps=0"),
    ({"discriminator_lr_ratio": 0.0}, "--discriminator_lr_ratio=0.0 must be positive"),
    ({"cycle_fraction": 0.0}, "--cycle_fraction=0.0 must be positive"),
    ({"cycle_fraction": 1.5}, "--cycle_fraction=1.5 must be at most 1"),
    ({"kept_attributes": ("Blond_Hair", "Blond_Hair")}, "--kept_attributes lists a name twice"),
    ({"attributes": ("Bangs", "Blond_Hair"), "kept_attributes": ("Blond_Hair",)},
     "--kept_attributes and --attributes both name Blond_Hair"),
])
def test_each_bad_setting_is_named(changes, message):
  config = dataclasses.replace(train_config.TrainConfig(image_size=64, encoder_depth=3), **changes)
  with pytest.raises(train_config.ConfigError, match=re.escape(message)):
    config.validate()


def test_all_problems_reported_at_once():
  config = train_config.TrainConfig(image_size=100, gan_loss="wgan", train_steps=0)
  with pytest.raises(train_config.ConfigError) as error:
    config.validate()
  assert "--image_size=100" in str(error.value) and "wgan" in str(error.value)
  assert "--train_steps=0" in str(error.value)


def test_more_dropped_skips_than_the_decoder_has_are_a_settings_problem():
  config = train_config.TrainConfig(encoder_depth=3, dropped_fine_skips=3)
  with pytest.raises(train_config.ConfigError, match="--dropped_fine_skips=3 exceeds the "
                     "decoder's 2 skips"):
    config.validate()


TRAINING_CONFIGS = ("demo", "paper64", "smoke", "celeba256", "synthetic64_quality")


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_shipped_training_configs_are_valid(name):
  path = os.path.join(os.path.dirname(os.path.dirname(train_config.__file__)), "configs", f"{name}.flags")
  config = train_config.TrainConfig.from_flagfile(path)
  config.validate()
  if name in ("paper64", "celeba256"):  # The paper-faithful configs use no quality option.
    assert (config.cycle_weight, config.classification_weight, config.r1_weight,
            config.patch_discriminator, config.discriminator_lr_ratio,
            config.matching_negatives_weight, config.discriminator_conditioning,
            config.skip_gating, config.dropped_fine_skips, config.masked_output,
            config.latent_adversary_weight, config.absent_slab_weight,
            config.removal_adversarial_weight, config.image_head_width,
            config.discriminator_normalization, config.encoder_normalization,
            config.decoder_normalization, config.readout_conditioning_weight,
            config.local_discriminator_weight, config.output_gain,
            config.output_gain_start_step) == (
                0, 0, 0, False, 1, 0, "channels", False, 0, False, 0, 0, 1, 0, "pixel", "pixel",
                "pixel", 0, 0, False, 0)


def test_precision_is_validated_and_written_to_the_flagfile(tmp_path):
  config = train_config.TrainConfig(image_size=64, encoder_depth=3)
  assert config.precision == "float32"  # The default stays float32.
  with pytest.raises(train_config.ConfigError, match=re.escape("--precision='bf16'; valid: ")):
    dataclasses.replace(config, precision="bf16").validate()
  for name in ("mixed_bfloat16", "mixed_float16", "auto"):
    chosen = dataclasses.replace(config, precision=name)
    chosen.validate()
    path = tmp_path / f"{name}.txt"
    path.write_text(chosen.to_flagfile())
    assert f"--precision={name}\n" in path.read_text()
    assert train_config.TrainConfig.from_flagfile(str(path)).precision == name


def test_output_gain_and_masked_output_are_refused_together():
  config = train_config.TrainConfig()
  dataclasses.replace(config, output_gain=True).validate()
  with pytest.raises(train_config.ConfigError, match="--output_gain and --masked_output"):
    dataclasses.replace(config, output_gain=True, masked_output=True).validate()


def test_a_gain_start_step_needs_the_gain():
  config = train_config.TrainConfig()
  dataclasses.replace(config, output_gain=True, output_gain_start_step=100).validate()
  with pytest.raises(train_config.ConfigError, match="--output_gain_start_step needs --output_gain"):
    dataclasses.replace(config, output_gain_start_step=100).validate()


def test_discriminator_precision_is_validated_against_the_precision():
  config = train_config.TrainConfig(image_size=64, encoder_depth=3)
  assert config.discriminator_precision == "same"
  dataclasses.replace(config, discriminator_precision="mixed_bfloat16").validate()
  dataclasses.replace(config, precision="mixed_float16").validate()  # 'same' is fine.
  with pytest.raises(train_config.ConfigError,
                     match="--discriminator_precision=mixed_bfloat16 does not combine with "
                           "--precision=mixed_float16"):
    dataclasses.replace(config, precision="mixed_float16",
                        discriminator_precision="mixed_bfloat16").validate()
  with pytest.raises(train_config.ConfigError, match="--discriminator_precision='mixed_float16'"):
    dataclasses.replace(config, discriminator_precision="mixed_float16").validate()


def _fresh_flags():
  flag_values = flags.FlagValues()
  train_config.TrainConfig.define_flags(flag_values)
  return flag_values


def test_the_flags_are_the_fields_with_their_defaults_and_help():
  flag_values = _fresh_flags()
  fields = dataclasses.fields(train_config.TrainConfig)
  assert sorted(flag_values) == sorted(field.name for field in fields)
  for field in fields:
    flag = flag_values[field.name]
    default = list(field.default) if isinstance(field.default, tuple) else field.default
    assert flag.default == default, field.name
    assert flag.help.endswith(field.metadata["help"]) and len(field.metadata["help"]) > 10, (
        field.name)  # absl puts an enum's choices in front.
  assert isinstance(flag_values["deterministic"], flags.BooleanFlag)
  flag_values(["train"])  # No flags given: the dataclass's defaults come back.
  assert train_config.TrainConfig.from_flag_values(flag_values) == train_config.TrainConfig()


def test_the_choice_flags_take_their_choices_from_the_code_that_uses_them():
  flag_values = _fresh_flags()
  assert flag_values["gan_loss"].parser.enum_values == list(losses.GAN_LOSSES)
  assert flag_values["precision"].parser.enum_values == list(precision.PRECISIONS)
  assert flag_values["discriminator_conditioning"].parser.enum_values == list(
      discriminator.CONDITIONINGS)
  assert flag_values["strategy"].parser.enum_values == list(train_config.STRATEGIES)


def test_the_resume_allow_list_comes_from_the_declaration():
  # The rule (BUILD_NOTES, "Resume rules"): how long and how to run, where outputs go,
  # the learning-rate schedule, the precisions. A field marked resumable by mistake
  # would let a resume continue weights under another meaning.
  assert train_config.RESUMABLE_CHANGES == {
      "train_steps", "run_dir", "export_dir", "strategy", "cpu_replicas",
      "checkpoint_every", "sample_every", "log_every", "eval_pairs", "jit_compile",
      "deterministic", "tfds_data_dir", "learning_rate", "discriminator_lr_ratio",
      "lr_decay_rate", "lr_decay_every", "precision", "discriminator_precision"}
  assert "ema_decay" not in train_config.RESUMABLE_CHANGES


def test_flagfile_round_trip_through_absl(tmp_path):
  config = train_config.TrainConfig(
      data="folder:/faces with space", attributes=("Bangs",), tfds_data_dir=None,
      export_dir=None, deterministic=False, patch_discriminator=True, learning_rate=1e-05,
      gan_loss="lsgan", precision="auto", ema_decay=0.999)
  path = tmp_path / "flags.txt"
  path.write_text(config.to_flagfile())
  assert train_config.TrainConfig.from_flagfile(str(path)) == config
  # The same text is a flagfile for the command's own flags.
  flag_values = _fresh_flags()
  flag_values(["train", f"--flagfile={path}"])
  assert train_config.TrainConfig.from_flag_values(flag_values) == config


OLD_FLAGS = os.path.join(os.path.dirname(__file__), "testdata",
                         "flags_written_before_the_declaration.txt")


def test_a_flags_txt_written_by_the_old_hand_writer_still_loads():
  # Written by TrainConfig.to_flagfile before the settings were declared once (the
  # fields then existing, a resume note); runs trained then must resume and load.
  config = train_config.TrainConfig.from_flagfile(OLD_FLAGS)
  assert config == train_config.TrainConfig(
      data="synthetic:wild", attributes=("Bangs", "Smiling"), deterministic=False,
      image_size=32, batch_size=4, train_steps=8, run_dir="runs/old", export_dir=None,
      encoder_depth=3, encoder_base_width=8, encoder_max_width=32,
      discriminator_base_width=8, discriminator_max_width=32, gan_loss="hinge",
      learning_rate=1e-05, weight_decay=0.0, r1_weight=0.5, patch_discriminator=True,
      precision="mixed_bfloat16", eval_pairs=0)
  # And the writer still writes every line the old one did, in the same spelling.
  old_lines = [line for line in open(OLD_FLAGS).read().splitlines()
               if not line.startswith("# resumed")]
  new_lines = config.to_flagfile().splitlines()
  assert [line for line in new_lines if line in old_lines] == old_lines
  assert set(new_lines) - set(old_lines) == {"--ema_decay=0.0", "--dropped_fine_skips=0",
                                             "--latent_consistency_weight=0.0",
                                             "--half_discriminator_conditioning=same",
                                             "--slab_classification_weight=0.0",
                                             "--nomasked_output",
                                             "--latent_adversary_weight=0.0",
                                             "--absent_slab_weight=0.0",
                                             "--matching_negatives_claims=both",
                                             "--removal_adversarial_weight=1.0",
                                             "--image_head_width=0",
                                             "--discriminator_normalization=pixel",
                                             "--encoder_normalization=pixel",
                                             "--decoder_normalization=pixel",
                                             "--readout_conditioning_weight=0.0",
                                             "--local_discriminator_weight=0.0",
                                             "--r1_every=1",
                                             "--discriminator_precision=same",
                                             "--nooutput_gain",
                                             "--output_gain_start_step=0",
                                             "--cycle_fraction=1.0",
                                             "--kept_attributes="}


@pytest.mark.parametrize("line, message", [
    ("--no_such_switch", "Unknown command line flag 'no_such_switch'"),
    ("--image_size", "Missing value for flag --image_size"),
    ("--image_size=big", "flag --image_size=big: invalid literal for int()"),
    ("--gan_loss=wgan", "flag --gan_loss=wgan: value should be one of <gan|lsgan|hinge>"),
    ("--deterministic=maybe", "flag --deterministic=maybe"),
    ("stray text", "not a flag: 'stray text'"),
])
def test_a_bad_line_in_a_flagfile_is_a_one_line_config_error_naming_the_file(
    tmp_path, line, message):
  path = tmp_path / "flags.txt"
  path.write_text(f"# Resolved flags\n--batch_size=4\n{line}\n")
  with pytest.raises(train_config.ConfigError) as raised:
    train_config.TrainConfig.from_flagfile(str(path))
  assert str(raised.value).startswith(f"{path}: ")
  assert message in str(raised.value) and "\n" not in str(raised.value)


def test_an_unreadable_flagfile_is_a_config_error(tmp_path):
  missing = tmp_path / "gone" / "flags.txt"
  with pytest.raises(train_config.ConfigError,
                     match=re.escape(f"{missing}: cannot read it (No such file or directory)")):
    train_config.TrainConfig.from_flagfile(str(missing))


def test_choices_are_checked_for_a_config_built_in_python():
  # absl refuses a bad choice on the command line; Python callers get the same rule.
  with pytest.raises(train_config.ConfigError,
                     match=re.escape("--gan_loss='wgan'; valid: gan, lsgan, hinge")):
    train_config.TrainConfig(gan_loss="wgan").validate()
