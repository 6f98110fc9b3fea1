import dataclasses
import os

from elegant_tf.benchmarks import training_speed
from elegant_tf.training import train_config

DEMO_FLAGS = os.path.join(os.path.dirname(train_config.__file__), "..", "configs", "demo.flags")


def test_demo_recipe_preset_is_the_step_demo_flags_trains():
  demo = train_config.TrainConfig.from_flagfile(DEMO_FLAGS)
  recipe = training_speed.PRESETS["demo_recipe"]
  timed = dataclasses.replace(train_config.TrainConfig(), **recipe)
  # Everything the step computes is demo.flags'...
  for name in ("r1_weight", "discriminator_conditioning", "dropped_fine_skips",
               *training_speed.PRESETS["demo"]):
    assert getattr(timed, name) == getattr(demo, name), name
  assert recipe["r1_weight"] > 0  # (demo.flags sets R1: the preset must carry it.)
  # ... and what only says how long and on what to train is left to the benchmark.
  assert not set(recipe) & {"train_steps", "run_dir", "export_dir", "data", "image_size",
                            "batch_size", "eval_pairs", "ema_decay"}


def test_step_settings_leave_the_precisions_to_the_benchmark(tmp_path):
  # A config that sets the precisions (as demo.flags may) must not decide a row's
  # precision behind its label.
  path = tmp_path / "custom.flags"
  path.write_text("--discriminator_precision=auto\n--precision=mixed_bfloat16\n"
                  "--r1_weight=2\n--train_steps=7\n")
  assert training_speed.step_settings(str(path)) == {"r1_weight": 2.0}


def test_precision_pair_reads_the_generator_and_the_discriminators():
  assert training_speed.precision_pair("float32") == ("float32", "same")
  assert training_speed.precision_pair("float32:mixed_bfloat16") == ("float32", "mixed_bfloat16")
  assert training_speed.precision_pair("auto:float32") == ("auto", "float32")
  for bad in ("float64", "float32:mixed_float16", "float32:", ":float32"):
    try:
      training_speed.precision_pair(bad)
    except ValueError as error:
      assert repr(bad) in str(error)
    else:
      raise AssertionError(f"{bad!r} was accepted")


def test_resolved_policies_name_the_discriminators_only_when_they_differ():
  assert training_speed.resolved_policies("float32", "same") == "float32"
  assert (training_speed.resolved_policies("float32", "mixed_bfloat16")
          == "float32:mixed_bfloat16")
