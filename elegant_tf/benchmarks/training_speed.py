"""Training throughput of one replica at 64, 128 and 256 px.

Usage: python -m elegant_tf.benchmarks.training_speed [--preset=paper|demo] [--steps=10]
       [--sizes=64,128,256] [--batch_size=16] [--jit_compile]

Times ElegantGAN.train_step (D step then G step) on a fixed in-memory pair
batch, so the input pipeline is not measured here (see pipelines/benchmarks).
One step consumes 2 x batch_size real images (A and B) and decodes 4 x batch_size.
Also prints the synthetic renderer's images/s for comparison.
"""

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from elegant_tf import train_config  # noqa: E402
from elegant_tf import train_lib  # noqa: E402

PRESETS = {
    # The paper's networks (encoder 64..512, depth 5; discriminators 64..512).
    "paper": dict(encoder_depth=5, encoder_base_width=64, encoder_max_width=512,
                  discriminator_base_width=64, discriminator_max_width=512),
    # elegant_tf/configs/demo.flags.
    "demo": dict(encoder_depth=3, encoder_base_width=64, encoder_max_width=256,
                 discriminator_base_width=32, discriminator_max_width=256),
}


def steps_per_second(config: train_config.TrainConfig, steps: int) -> float:
  gan = train_lib.build_gan(config)
  rng = np.random.default_rng(0)
  n, size, batch = len(config.attributes), config.image_size, config.batch_size
  pair = {
      "image_a": rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32),
      "image_b": rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32),
      "labels_a": np.ones((batch, n), np.float32),
      "labels_b": np.zeros((batch, n), np.float32),
      "attribute": np.zeros((batch,), np.int32),
  }
  pair = {k: tf.constant(v) for k, v in pair.items()}
  step = tf.function(gan.train_step, jit_compile=config.jit_compile)
  for _ in range(2):  # Trace and warm up.
    step(pair)
  start = time.perf_counter()
  for _ in range(steps):
    logs = step(pair)
  float(logs["loss_g"])  # Wait for the last step.
  return steps / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--preset", choices=sorted(PRESETS), default="paper")
  parser.add_argument("--sizes", default="64,128,256")
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--jit_compile", action="store_true")
  parser.add_argument("--skip_renderer", action="store_true")
  args = parser.parse_args()
  print(f"preset={args.preset} batch={args.batch_size} jit_compile={args.jit_compile} "
        f"threads={os.cpu_count()}")
  print(f"| {'size':>5} | {'steps/s':>8} | {'images/s':>9} | {'s/step':>7} |")
  print("|------:|---------:|----------:|--------:|")
  for size in (int(s) for s in args.sizes.split(",")):
    config = dataclasses.replace(
        train_config.TrainConfig(), image_size=size, batch_size=args.batch_size,
        attributes=("Eyeglasses", "Bangs", "Smiling", "Mustache"),
        jit_compile=args.jit_compile, **PRESETS[args.preset])
    config.validate()
    rate = steps_per_second(config, args.steps)
    print(f"| {size:>5} | {rate:>8.2f} | {rate * 2 * args.batch_size:>9.1f} | "
          f"{1 / rate:>7.2f} |", flush=True)
  if not args.skip_renderer:
    from pipelines.benchmarks import synthetic_speed
    print("\nsynthetic renderer, one core (images/s):")
    for size in (int(s) for s in args.sizes.split(",")):
      print(f"  {size:>4} px: {synthetic_speed.images_per_second(size, 256, 2.0, False):.0f}")


if __name__ == "__main__":
  main()
