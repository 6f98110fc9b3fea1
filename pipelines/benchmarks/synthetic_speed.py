"""Measure how fast the synthetic faces render on one core.

Usage: python -m pipelines.benchmarks.synthetic_speed [--batch=256] [--seconds=2]

Prints images/s at 32, 64, 128 and 256 px, with and without masks (training
batches skip the masks). Throughput is measured in process CPU time: numpy
runs single-threaded here, so this is per core and stays meaningful when other
jobs share the machine.
"""

import argparse
import time

import numpy as np

from pipelines import synthetic

SIZES = (32, 64, 128, 256)


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


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--seconds", type=float, default=2.0)
  args = parser.parse_args()
  print(f"{'size':>6} {'images/s':>10} {'+masks':>10}   (batch {args.batch}, "
        "sampling included)")
  for size in SIZES:
    plain = images_per_second(size, args.batch, args.seconds, False)
    masked = images_per_second(size, args.batch, args.seconds, True)
    print(f"{size:>6} {plain:>10.0f} {masked:>10.0f}")


if __name__ == "__main__":
  main()
