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
