"""Measure how fast the synthetic faces render on one core.

Usage: python -m pipelines.benchmarks.synthetic_speed [--batch=256] [--seconds=2]

Prints images/s at 32, 64, 128 and 256 px, with and without masks (training
batches skip the masks). Throughput is measured in process CPU time: numpy
runs single-threaded here, so this is per core and stays meaningful when other
jobs share the machine.
"""

import time

from absl import flags
import numpy as np

from pipelines import synthetic
from pipelines import usage

SIZES = (32, 64, 128, 256)


def define_flags():
  flags.DEFINE_integer("batch", 256, "Faces rendered per call.")
  flags.DEFINE_float("seconds", 2.0, "CPU seconds of rendering per measurement.")


FLAGS = flags.FLAGS


def images_per_second(size: int, batch: int, seconds: float,
                      with_masks: bool) -> float:
  """Render distinct batches for about `seconds` of CPU; return images/s."""
  # Warm up once so that first-call allocation costs are not measured.
  synthetic.render_batch(synthetic.sample_faces(0, np.arange(batch)), size,
                         with_masks)
  done, start, k = 0, time.process_time(), 1
  while True:
    params = synthetic.sample_faces(0, np.arange(k * batch, (k + 1) * batch))
    synthetic.render_batch(params, size, with_masks)
    done += batch
    k += 1
    elapsed = time.process_time() - start
    if elapsed >= seconds:
      return done / elapsed


def main(argv):
  usage.check_no_arguments(argv)
  print(f"{'size':>6} {'images/s':>10} {'+masks':>10}   (batch {FLAGS.batch}, "
        "sampling included)")
  for size in SIZES:
    plain = images_per_second(size, FLAGS.batch, FLAGS.seconds, False)
    masked = images_per_second(size, FLAGS.batch, FLAGS.seconds, True)
    print(f"{size:>6} {plain:>10.0f} {masked:>10.0f}")


if __name__ == "__main__":
  define_flags()
  usage.run("synthetic_speed", main)
