import dataclasses
import os
import re

import pytest

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


TRAINING_CONFIGS = ("demo", "paper64", "smoke", "celeba256", "synthetic64_quality")


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_shipped_training_configs_are_valid(name):
  path = os.path.join(os.path.dirname(os.path.dirname(train_config.__file__)), "configs", f"{name}.flags")
  config = train_config.TrainConfig.from_flagfile(path)
  config.validate()
  if name in ("paper64", "celeba256"):  # The paper-faithful configs use no quality option.
    assert (config.cycle_weight, config.classification_weight, config.r1_weight,
            config.patch_discriminator, config.discriminator_lr_ratio,
            config.matching_negatives_weight, config.discriminator_conditioning) == (
                0, 0, 0, False, 1, 0, "channels")


def test_precision_is_validated_and_written_to_the_flagfile(tmp_path):
  config = train_config.TrainConfig(image_size=64, encoder_depth=3)
  assert config.precision == "float32"  # The default stays float32.
  with pytest.raises(train_config.ConfigError, match=re.escape("--precision='bf16'; valid: ")):
    dataclasses.replace(config, precision="bf16").validate()
  for precision in ("mixed_bfloat16", "mixed_float16", "auto"):
    chosen = dataclasses.replace(config, precision=precision)
    chosen.validate()
    path = tmp_path / f"{precision}.txt"
    path.write_text(chosen.to_flagfile())
    assert f"--precision={precision}\n" in path.read_text()
    assert train_config.TrainConfig.from_flagfile(str(path)).precision == precision


@pytest.mark.parametrize("line, message", [
    ("--no_such_switch", "unknown setting --no_such_switch"),
    ("--nono_such_switch", "unknown setting --nono_such_switch"),
    ("--image_size", "unknown setting --image_size"),
    ("stray text", "unknown line 'stray text'"),
    ("--image_size=big", "--image_size='big': expected int"),
])
def test_flagfile_with_an_unknown_line_is_a_config_error(tmp_path, line, message):
  path = tmp_path / "flags.txt"
  path.write_text(f"# Resolved flags\n--batch_size=4\n{line}\n")
  with pytest.raises(train_config.ConfigError, match=re.escape(f"{path}: {message}")):
    train_config.TrainConfig.from_flagfile(str(path))
