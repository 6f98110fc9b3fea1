"""Training throughput of one replica at 64, 128 and 256 px.

Usage: python -m elegant_tf.benchmarks.training_speed [--preset=paper|demo|demo_recipe]
       [--steps=10]
       [--sizes=64,128,256] [--batch_size=16] [--jit_compile]
       [--precision=float32,float32:mixed_bfloat16,mixed_bfloat16] [--rounds=3]
       [--skip_renderer]

A --precision value is the generator's --precision, optionally followed by
":" and the discriminators' --discriminator_precision (float32:mixed_bfloat16
times the generator in float32 and D1 and D2 in bfloat16). With several
values, each size builds one model per value and times them in alternating
rounds of --steps steps (A B A B ...), all in this process: on a shared
machine, load that comes and goes then hits every precision alike, and the
ratio stays fair. The table gives the median round.

Times ElegantGAN.train_step (D step then G step) on a fixed in-memory pair
batch, so the input pipeline is not measured here (see pipelines/benchmarks).
One step consumes 2 x batch_size real images (A and B) and decodes 4 x batch_size.
Also prints the synthetic renderer's images/s for comparison.
"""

import dataclasses
import os
import statistics
import time

from absl import flags

from pipelines import markdown
from pipelines import pairs
from pipelines import usage
from pipelines.benchmarks import synthetic_speed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from elegant_tf.models import precision  # noqa: E402
from elegant_tf.training import train_config  # noqa: E402
from elegant_tf.training import train_lib  # noqa: E402

# Settings of a config file that say what is trained on and for how long, not
# what one step computes. (--ema_decay's update is a callback after the step.)
_RUN_SETTINGS = frozenset({
    "data", "attributes", "image_size", "batch_size", "train_steps", "checkpoint_every",
    "sample_every", "log_every", "lr_decay_every", "eval_pairs", "run_dir", "export_dir",
    "ema_decay"})
# Settings this benchmark chooses itself, per row (--precision, --jit_compile): a
# config file's value would otherwise decide them behind the table's labels.
_BENCHMARK_SETTINGS = frozenset({"precision", "discriminator_precision", "jit_compile"})


def step_settings(path: str) -> dict:
  """The settings of the flagfile at `path` that change the train step (every one that
  differs from the default, except _RUN_SETTINGS and the precisions and XLA, which the
  benchmark sets per row)."""
  config, default = train_config.TrainConfig.from_flagfile(path), train_config.TrainConfig()
  return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
          if field.name not in _RUN_SETTINGS | _BENCHMARK_SETTINGS
          and getattr(config, field.name) != getattr(default, field.name)}


def step_settings_of(config_name: str) -> dict:
  """step_settings of elegant_tf/configs/NAME.flags, read from the file itself."""
  return step_settings(os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs",
                                    f"{config_name}.flags"))


PRESETS = {
    # The paper's networks (encoder 64..512, depth 5; discriminators 64..512).
    "paper": dict(encoder_depth=5, encoder_base_width=64, encoder_max_width=512,
                  discriminator_base_width=64, discriminator_max_width=512),
    # paper64.flags' widths (the demo's generator, discriminators 32..256; demo.flags
    # had them too until 2026-12-04, when its discriminators got the paper's widths).
    "demo": dict(encoder_depth=3, encoder_base_width=64, encoder_max_width=256,
                 discriminator_base_width=32, discriminator_max_width=256),
    # The step README line 1 trains: demo.flags' widths and every option it sets
    # that the step computes (the projection, R1, the dropped skip...).
    "demo_recipe": step_settings_of("demo"),
}


def precision_pair(value: str) -> tuple[str, str]:
  """(--precision, --discriminator_precision) of a --precision value of this benchmark:
  "G" (the discriminators follow it) or "G:D". Raises ValueError naming the value."""
  generator, separator, discriminators = value.partition(":")
  discriminators = discriminators if separator else "same"
  if (generator not in precision.PRECISIONS
      or discriminators not in train_config.DISCRIMINATOR_PRECISIONS):
    raise ValueError(f"{value!r} is not PRECISION[:DISCRIMINATOR_PRECISION] with PRECISION "
                     f"one of {', '.join(precision.PRECISIONS)} and DISCRIMINATOR_PRECISION "
                     f"one of {', '.join(train_config.DISCRIMINATOR_PRECISIONS)}")
  return generator, discriminators


def resolved_policies(generator: str, discriminators: str) -> str:
  """The Keras policies a precision pair gives on this machine: "G", or "G:D" when the
  discriminators have their own."""
  policy = precision.resolve(generator)[0]
  if discriminators != "same":
    policy += ":" + precision.resolve(discriminators)[0]
  return policy


def define_flags():
  flags.DEFINE_enum("preset", "paper", sorted(PRESETS), "Network widths.")
  flags.DEFINE_list("sizes", ["64", "128", "256"], "Image sizes, in pixels.")
  flags.DEFINE_integer("steps", 10, "Timed train steps per round.")
  flags.DEFINE_integer("batch_size", 16, "Pairs per train step.")
  flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")
  flags.DEFINE_list("precision", ["float32"],
                    "--precision values (float32, mixed_bfloat16, mixed_float16, auto), each "
                    "optionally with ':' and a --discriminator_precision for D1 and D2 "
                    "(float32:mixed_bfloat16); the first is the baseline of the speed-up column.")
  flags.DEFINE_integer("rounds", 1,
                       "Alternating timing rounds per precision (median reported).")
  flags.DEFINE_bool("skip_renderer", False, "Do not time the synthetic renderer.")


FLAGS = flags.FLAGS


def compiled_step(config: train_config.TrainConfig):
  """A traced, warmed-up train step of a fresh model on a fixed batch: run() -> logs."""
  gan = train_lib.build_gan(config)
  pair = pairs.fake_pair_batch(config.image_size, len(config.attributes), config.batch_size,
                              num_kept=len(config.kept_attributes))
  step = tf.function(gan.train_step, jit_compile=config.jit_compile)
  for _ in range(2):  # Trace and warm up.
    step(pair)
  return lambda: step(pair)


def seconds_per_step(run, steps: int) -> float:
  start = time.perf_counter()
  for _ in range(steps):
    logs = run()
  float(logs["loss_g"])  # Wait for the last step.
  return (time.perf_counter() - start) / steps


def steps_per_second(config: train_config.TrainConfig, steps: int) -> float:
  return 1 / seconds_per_step(compiled_step(config), steps)


def interleaved_seconds_per_step(configs: dict, steps: int, rounds: int) -> dict:
  """{name: [s/step of each round]} for {name: config}, timed in alternating rounds."""
  runs = {name: compiled_step(config) for name, config in configs.items()}
  times = {name: [] for name in configs}
  for _ in range(rounds):
    for name, run in runs.items():
      times[name].append(seconds_per_step(run, steps))
  return times


def main(argv):
  usage.check_no_arguments(argv)
  names = FLAGS.precision
  try:
    pairs_of = {name: precision_pair(name) for name in names}
  except ValueError as error:
    raise usage.UsageError(f"--precision: {error}")
  policies = {name: resolved_policies(*pairs_of[name]) for name in names}
  print(f"preset={FLAGS.preset} batch={FLAGS.batch_size} jit_compile={FLAGS.jit_compile} "
        f"threads={os.cpu_count()} steps/round={FLAGS.steps} rounds={FLAGS.rounds} "
        f"cpu bf16 flags={','.join(precision.cpu_bf16_flags()) or 'none'} "
        f"load average at start={' '.join(f'{x:.1f}' for x in os.getloadavg())}")
  # Speed-ups three ways: of the median rounds, of the best rounds (the ones
  # other jobs disturbed least) and the median of per-round ratios (round i of
  # the baseline ran just before round i of the others, under similar load).
  # Cells padded to their column's width, so the table also reads in a terminal.
  print(markdown.header([f"{'size':>5}", f"{'precision':>24}", f"{'s/step':>7}", f"{'best':>6}",
                         f"{'images/s':>9}", f"{'speed-up':>8}", f"{'best':>6}", f"{'paired':>6}",
                         "rounds (s/step)"], align="rrrrrrrrl"))
  for size in (int(s) for s in FLAGS.sizes):
    configs = {}
    for name in names:
      configs[name] = dataclasses.replace(
          train_config.TrainConfig(), image_size=size, batch_size=FLAGS.batch_size,
          attributes=("Eyeglasses", "Bangs", "Smiling", "Mustache"),
          jit_compile=FLAGS.jit_compile, precision=pairs_of[name][0],
          discriminator_precision=pairs_of[name][1], **PRESETS[FLAGS.preset])
      configs[name].validate()
    times = interleaved_seconds_per_step(configs, FLAGS.steps, FLAGS.rounds)
    baseline = statistics.median(times[names[0]])
    baseline_best = min(times[names[0]])
    for name in names:
      seconds, best = statistics.median(times[name]), min(times[name])
      label = name if policies[name] == name else f"{name}={policies[name]}"
      paired = statistics.median(b / t for b, t in zip(times[names[0]], times[name]))
      print(markdown.row([f"{size:>5}", f"{label:>24}", f"{seconds:>7.2f}", f"{best:>6.2f}",
                          f"{2 * FLAGS.batch_size / seconds:>9.1f}", f"{baseline / seconds:>7.2f}x",
                          f"{baseline_best / best:>5.2f}x", f"{paired:>5.2f}x",
                          " ".join(f"{t:.2f}" for t in times[name])]), flush=True)
  print(f"load average at end={' '.join(f'{x:.1f}' for x in os.getloadavg())}")
  if not FLAGS.skip_renderer:
    print("\nsynthetic renderer, one core (images/s):")
    for size in (int(s) for s in FLAGS.sizes):
      print(f"  {size:>4} px: {synthetic_speed.images_per_second(size, 256, 2.0, False):.0f}")


if __name__ == "__main__":
  define_flags()
  usage.run("training_speed", main)
