"""Where a train step's time goes, per TensorFlow op type, for each precision.

Usage: python -m elegant_tf.benchmarks.step_profile [--preset=paper|demo] [--size=64]
       [--batch_size=16] [--precision=float32,mixed_bfloat16] [--steps=2] [--top=15]

Traces --steps train steps per precision with the TensorFlow profiler (the
precisions alternate, one step at a time, so load from other jobs hits them
alike) and prints the self time of each op type per step: the convolutions
(forward, input gradient, filter gradient), the casts that mixed precision
adds, elementwise work and reductions. Self times are the wall time of each
kernel: kernels running side by side (TensorFlow's inter-op threads) and
preemption by other jobs both inflate them, so the total exceeds the step time;
compare shares and the ratio between precisions, not the total with the step.
"""

import collections
import dataclasses
import glob
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.profiler.internal import _pywrap_profiler_plugin  # noqa: E402

from elegant_tf.training import train_config  # noqa: E402
from elegant_tf.benchmarks import training_speed  # noqa: E402
from pipelines import markdown  # noqa: E402
from pipelines import usage  # noqa: E402


def define_flags():
  flags.DEFINE_enum("preset", "paper", sorted(training_speed.PRESETS), "Network widths.")
  flags.DEFINE_integer("size", 64, "Image size, in pixels.")
  flags.DEFINE_integer("batch_size", 16, "Pairs per train step.")
  flags.DEFINE_list("precision", ["float32", "mixed_bfloat16"],
                    "--precision values to profile, side by side.")
  flags.DEFINE_integer("steps", 2, "Profiled train steps per precision.")
  flags.DEFINE_integer("top", 15, "Op types shown; the rest are summed as (other).")


FLAGS = flags.FLAGS


def op_self_times(run, steps: int) -> dict:
  """{op type: self time in ms per step} of `steps` calls of `run`, from a profiler trace."""
  logdir = tempfile.mkdtemp(prefix="step_profile-")
  tf.profiler.experimental.start(logdir)
  for _ in range(steps):
    float(run()["loss_g"])
  tf.profiler.experimental.stop()
  paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
  data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
  if not ok:
    raise RuntimeError(f"the profiler could not read {paths}")
  table = json.loads(data)[0]
  columns = [c["id"] for c in table["cols"]]
  kind, self_time = columns.index("type"), columns.index("total_self_time")
  times = collections.Counter()
  for row in table["rows"]:
    values = [cell["v"] for cell in row["c"]]
    if values[kind] != "IDLE":
      times[values[kind]] += values[self_time] / 1000 / steps  # us -> ms per step.
  return dict(times)


def main(argv):
  usage.check_no_arguments(argv)
  names = FLAGS.precision
  runs = {}
  for name in names:
    config = dataclasses.replace(
        train_config.TrainConfig(), image_size=FLAGS.size, batch_size=FLAGS.batch_size,
        attributes=("Eyeglasses", "Bangs", "Smiling", "Mustache"), precision=name,
        **training_speed.PRESETS[FLAGS.preset])
    config.validate()
    runs[name] = training_speed.compiled_step(config)
  times = {name: collections.Counter() for name in names}
  for _ in range(FLAGS.steps):  # Alternate precisions step by step.
    for name, run in runs.items():
      times[name].update(op_self_times(run, 1))
  times = {name: {k: v / FLAGS.steps for k, v in counts.items()} for name, counts in times.items()}
  totals = {name: sum(t.values()) for name, t in times.items()}
  print(f"preset={FLAGS.preset} size={FLAGS.size} batch={FLAGS.batch_size} steps={FLAGS.steps} "
        f"load average={' '.join(f'{x:.1f}' for x in os.getloadavg())}")
  print("self time per step, ms (share of the step)")
  print(markdown.header(["op type"] + names, align="l" + "r" * len(names)))
  kinds = sorted(set().union(*times.values()),
                 key=lambda k: -max(t.get(k, 0) for t in times.values()))
  for kind in kinds[:FLAGS.top]:
    cells = [f"{times[n].get(kind, 0):.0f} ({100 * times[n].get(kind, 0) / totals[n]:.0f}%)"
             for n in names]
    print(markdown.row([kind] + cells))
  rest = [sum(t for k, t in times[n].items() if k not in kinds[:FLAGS.top]) for n in names]
  print(markdown.row(["(other)"] + [f"{r:.0f}" for r in rest]))
  print(markdown.row(["**total**"] + [f"{totals[n]:.0f}" for n in names]))


if __name__ == "__main__":
  define_flags()
  usage.run("step_profile", main)
