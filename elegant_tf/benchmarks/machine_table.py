"""One table for this machine: training speed next to what the hardware can do.

  python -m elegant_tf.benchmarks.machine_table [--preset=paper,demo_recipe] \
      [--sizes=64,128,256] [--steps=3] [--jit=off,on] [--data_sizes=128] \
      [--precision=float32,float32:mixed_bfloat16,mixed_bfloat16] \
      [--latency_sizes=64,128,256]

Rows, each measured in its own fresh process (so "peak RSS" is that
measurement's own peak resident memory, TensorFlow runtime included):

* dense matmul: GFLOP/s of a 2048x2048 tf.linalg.matmul in float32 and in
  bfloat16, the ceilings the convolutions can hope to approach on this CPU
  (bfloat16 is fast only where the CPU has AMX or AVX512-BF16);
* train: images/s of ElegantGAN.train_step (D step then G step) on a fixed
  batch, per --precision, FLOPs per step counted by TensorFlow's profiler on
  the traced step (convolutions, their gradients, matmuls; multiply-add = 2
  FLOPs), hence achieved GFLOP/s and its share of the ceiling of the precision
  it computes in (float32 rows: the float32 matmul; bfloat16 rows: the bfloat16
  matmul; a row with the discriminators in another precision than the
  generator, "G:D" as in training_speed, has no single ceiling and shows "-"),
  and the speed-up over the float32 row of the same size; XLA (jit_compile)
  off and on;
* tf.data: pairs/s of `pairs.attribute_pairs` per source (synthetic renders;
  celeba/folder decode and align generated JPEGs; tfrecord reads prepared
  records), from elegant_tf.benchmarks.data_speed;
* transfer: batch-1 latency of the SavedModel and the float TFLite file, from
  elegant_tf.benchmarks.transfer_latency (skipped if that module is absent).

Times are wall-clock: TensorFlow runs on all cores. The machine may be shared;
the 1-minute load average is printed with the table, so compare rows of one run.
"""

import multiprocessing
import os
import resource
import sys
import tempfile
import time

from absl import flags

from pipelines import markdown
from pipelines import usage

ATTRIBUTES = ("Eyeglasses", "Bangs", "Smiling", "Mustache")


def _peak_rss_mib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux.


def matmul_gflops(size: int = 2048, seconds: float = 2.0, dtype: str = "float32") -> dict:
  """Dense matmul rate of TensorFlow on this machine in `dtype` (float32 or bfloat16)."""
  # Deferred: each measurement runs in a fresh spawned process and reports its peak
  # memory, so it imports only what it measures (see run_isolated).
  import tensorflow as tf
  a = tf.cast(tf.random.normal([size, size]), dtype)
  b = tf.cast(tf.random.normal([size, size]), dtype)
  matmul = tf.function(lambda x, y: tf.linalg.matmul(x, y))
  matmul(a, b).numpy()
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    result = matmul(a, b)
    count += 1
  result.numpy()  # Wait for the last one.
  rate = count * 2.0 * size ** 3 / (time.perf_counter() - start) / 1e9
  return {"measure": "dense matmul", "setting": f"{dtype} {size}x{size}", "value": rate,
          "unit": "GFLOP/s", "gflop_per_item": None, "achieved_gflops": rate,
          "compute_dtype": dtype}


def step_flops(function, *args) -> float:
  """FLOPs of one call of a tf.function, counted with the TF profiler's per-op rules on
  the part of its graph that runs.

  The traced graph also holds ops whose results nothing uses (a convolution's
  gradient builds both the input and the filter gradient, and the generator's
  update needs only the first through the discriminators); TensorFlow prunes them
  before running, so they are pruned here too: the graph's outputs and its stateful
  ops (variable updates) are kept, with everything they read. Counting the whole
  graph overstated the train step's FLOPs by 7-8% (2026-12-04). Branches of a
  tf.cond are functions of their own and are not counted (R1 with --r1_every > 1:
  the count is of the steps without it).
  """
  # Deferred: each measurement runs in a fresh spawned process and reports its peak
  # memory, so it imports only what it measures (see run_isolated).
  import tensorflow as tf
  from tensorflow.python.framework import ops as tf_ops  # The profiler's own FLOP registry.
  graph = function.get_concrete_function(*args).graph
  roots = {tensor.op.name for tensor in graph.outputs}
  roots.update(op.name for op in graph.get_operations() if op.op_def.is_stateful or not op.outputs)
  # TensorFlow's own pruning walk (data and control inputs); the FLOPs are then read on
  # the traced graph, which keeps the static shapes the rules need.
  kept = {node.name for node in tf.compat.v1.graph_util.extract_sub_graph(
      graph.as_graph_def(), sorted(roots)).node}
  total = 0
  for op in graph.get_operations():
    if op.name in kept:
      try:
        total += tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
      except ValueError:  # Shapes unknown at trace time: the profiler skips these too.
        pass
  return float(total)


def training_speed(size: int, preset: str, batch_size: int, steps: int, jit: bool,
                   precision_name: str = "float32") -> dict:
  """Images/s and FLOPs of the real train step on a fixed in-memory batch."""
  # Deferred: each measurement runs in a fresh spawned process and reports its peak
  # memory, so it imports only what it measures (see run_isolated).
  import dataclasses
  import tensorflow as tf
  from elegant_tf.models import precision
  from elegant_tf.training import train_config
  from elegant_tf.training import train_lib
  from elegant_tf.benchmarks import training_speed as presets
  from pipelines import pairs
  generator_precision, discriminator_precision = presets.precision_pair(precision_name)
  config = dataclasses.replace(train_config.TrainConfig(), image_size=size,
                               batch_size=batch_size, attributes=ATTRIBUTES,
                               precision=generator_precision,
                               discriminator_precision=discriminator_precision,
                               **presets.PRESETS[preset])
  config.validate()
  gan = train_lib.build_gan(config)
  batch = pairs.fake_pair_batch(size, len(ATTRIBUTES), batch_size)
  # Counted on the plain graph: XLA fuses ops but does the same arithmetic.
  flops = step_flops(tf.function(gan.train_step), batch)
  step = tf.function(gan.train_step, jit_compile=jit)
  for _ in range(2):  # Trace (and compile) and warm up.
    step(batch)
  start = time.perf_counter()
  for _ in range(steps):
    logs = step(batch)
  float(logs["loss_g"])
  seconds = (time.perf_counter() - start) / steps
  # One step reads A and B: 2 x batch real images.
  images = 2 * batch_size
  compute_dtype = precision.compute_dtype(gan.generator)
  if precision.compute_dtype(gan.discriminator_full) != compute_dtype:
    compute_dtype = "mixed"  # No one matmul ceiling applies.
  return {"measure": "train step", "setting": f"{size} px, {preset} widths, batch "
          f"{batch_size}, XLA {'on' if jit else 'off'}, {precision_name}",
          "value": images / seconds, "unit": "images/s", "gflop_per_item": flops / images / 1e9,
          "achieved_gflops": flops / seconds / 1e9,
          "compute_dtype": compute_dtype,
          "group": (preset, size, jit), "precision": precision_name}


def data_speed(size: int, images: int, batch_size: int, steps: int) -> list:
  """Pairs/s of attribute_pairs for synthetic, celeba:, folder: and tfrecord: at `size`."""
  # Deferred: each measurement runs in a fresh spawned process and reports its peak
  # memory, so it imports only what it measures (see run_isolated).
  from pipelines import synthetic
  from elegant_tf.benchmarks import data_speed as data_bench
  sources = {"synthetic": synthetic.SyntheticFaces(size)}
  try:
    from pipelines import celeba
    from pipelines import folder
    from pipelines import prepare
    from pipelines import tfrecord
    root = tempfile.mkdtemp(prefix="machine_table_data_")
    data_bench.make_data(root, images)
    out = os.path.join(root, "tfrecord")
    prepare.prepare(celeba.open_source(os.path.join(root, "celeba"), size), "celeba", out,
                    verbose=False)
    sources["celeba:DIR (decode+align)"] = celeba.open_source(os.path.join(root, "celeba"),
                                                              size)
    sources["folder:DIR (decode+align)"] = folder.open_source(os.path.join(root, "folder"),
                                                              size)
    sources["tfrecord:DIR (prepared)"] = tfrecord.open_source(out, size)
  except ImportError as error:  # Test fixtures or real-data sources missing.
    print(f"real-data sources skipped: {error}", file=sys.stderr)
  return [{"measure": "tf.data pairs", "setting": f"{name}, {size} px, batch {batch_size}",
           "value": data_bench.pairs_per_second(source, batch_size, steps), "unit": "pairs/s",
           "gflop_per_item": None, "achieved_gflops": None}
          for name, source in sources.items()]


def transfer_latency(size: int, max_width: int, repeats: int) -> list:
  """Batch-1 latency of SavedModel and float TFLite (elegant_tf.benchmarks.transfer_latency)."""
  # Deferred: each measurement runs in a fresh spawned process and reports its peak
  # memory, so it imports only what it measures (see run_isolated).
  import shutil
  from elegant_tf.benchmarks import transfer_latency as latency_bench
  workdir = tempfile.mkdtemp(prefix="machine_table_latency_")
  try:
    rows = latency_bench.benchmark_size(size, ["none"], max_width, 4, repeats, workdir)
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  return [{"measure": "transfer latency", "setting": f"{size} px, {row['model']}, batch 1",
           "value": row["latency_ms"], "unit": "ms", "gflop_per_item": None,
           "achieved_gflops": None} for row in rows]


def _run_and_measure(task):
  function, args = task
  result = function(*args)
  rows = result if isinstance(result, list) else [result]
  peak = _peak_rss_mib()
  for row in rows:
    row["peak_rss_mib"] = peak
  return rows


def run_isolated(function, *args) -> list:
  """Run a measurement in a fresh process; its rows get that process's peak RSS."""
  context = multiprocessing.get_context("spawn")
  with context.Pool(1) as pool:
    return pool.apply(_run_and_measure, ((function, args),))


def _cell(value, digits=1) -> str:
  return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: list, ceilings: dict) -> str:
  """Markdown table; `ceilings` maps a compute dtype to its measured matmul GFLOP/s."""
  float32_rate = {row["group"]: row["value"] for row in rows
                  if row.get("precision") == "float32" and "group" in row}
  lines = []
  for row in rows:
    achieved = row["achieved_gflops"]
    ceiling = ceilings.get(row.get("compute_dtype"))
    share = None if achieved is None or not ceiling else 100.0 * achieved / ceiling
    baseline = float32_rate.get(row.get("group"))
    ratio = f"{row['value'] / baseline:.2f}x" if baseline else "-"
    lines.append([row["measure"], row["setting"], _cell(row["value"]), row["unit"], ratio,
                  _cell(row["gflop_per_item"], 2), _cell(achieved), _cell(share),
                  _cell(row["peak_rss_mib"], 0)])
  return markdown.table(["measure", "setting", "value", "unit", "vs float32", "GFLOP per image",
                         "achieved GFLOP/s", "% of its matmul ceiling", "peak RSS (MiB)"], lines)


# training_speed.PRESETS' names, spelled out: this module imports no TensorFlow at the
# top (see main), and a test holds the two together.
PRESET_NAMES = ("paper", "demo", "demo_recipe")


def define_flags():
  flags.DEFINE_list("preset", ["paper", "demo_recipe"],
                    "Network widths of the train rows, one or more of "
                    f"{', '.join(PRESET_NAMES)} (elegant_tf.benchmarks.training_speed.PRESETS; "
                    "demo_recipe is the step demo.flags trains); each gets its rows.")
  flags.DEFINE_list("sizes", ["64", "128", "256"], "Training image sizes.")
  flags.DEFINE_list("jit", ["off", "on"], "XLA settings to measure for the train step.")
  flags.DEFINE_list("precision", ["float32", "mixed_bfloat16"],
                    "--precision values of the train rows (float32, mixed_bfloat16, "
                    "mixed_float16, auto), each optionally with ':' and a "
                    "--discriminator_precision for D1 and D2 (float32:mixed_bfloat16); "
                    "speed-ups are against the float32 row.")
  flags.DEFINE_integer("batch_size", 16, "Pairs per train step (paper: 16).")
  flags.DEFINE_integer("steps", 3, "Timed train steps per row (after 2 warm-up steps).")
  flags.DEFINE_list("data_sizes", ["128"], "Sizes for the tf.data rows (empty: skip).")
  flags.DEFINE_integer("data_images", 200, "Generated JPEGs for the real-data sources.")
  flags.DEFINE_integer("data_steps", 10, "Timed pair batches per source.")
  flags.DEFINE_list("latency_sizes", ["64", "128", "256"],
                    "Sizes for transfer latency (empty: skip).")
  flags.DEFINE_integer("latency_max_width", 512, "Channel cap of the latency model.")
  flags.DEFINE_integer("latency_repeats", 10, "Timed transfers per latency row.")


def main(argv):
  values = flags.FLAGS
  sizes = [int(s) for s in values.sizes]
  # Deferred: the measurement processes import this module, and each reports its own
  # peak memory, so the top of the file imports no TensorFlow or Keras.
  from elegant_tf.benchmarks import training_speed as presets
  if (len(argv) > 1 or any(s % 32 for s in sizes) or not set(values.jit) <= {"off", "on"}
      or not values.preset or not set(values.preset) <= set(PRESET_NAMES)):
    raise usage.UsageError("--sizes must be multiples of 32, --jit a list of off/on and "
                           f"--preset a list of {'/'.join(PRESET_NAMES)} (no positional "
                           "arguments)")
  try:
    for precision_name in values.precision:
      presets.precision_pair(precision_name)
  except ValueError as error:
    raise usage.UsageError(f"--precision: {error}")
  load_before = os.getloadavg()[0]
  rows = []
  for dtype in ("float32", "bfloat16"):
    rows += run_isolated(matmul_gflops, 2048, 2.0, dtype)
    print(f"dense matmul {dtype}: {rows[-1]['value']:.1f} GFLOP/s", flush=True)
  ceilings = {row["compute_dtype"]: row["value"] for row in rows}
  ceilings["float16"] = None  # Not measured: float16 matmul is slow on CPUs without AMX-FP16.
  for preset in values.preset:
    for size in sizes:
      for jit in values.jit:
        for precision_name in values.precision:
          name = f"train {preset} {size} px XLA {jit} {precision_name}"
          try:
            rows += run_isolated(training_speed, size, preset, values.batch_size,
                                 values.steps, jit == "on", precision_name)
            print(f"{name}: {rows[-1]['value']:.1f} images/s", flush=True)
          except Exception as error:  # XLA may not support an op on some builds; say so.
            print(f"{name} failed: {error}", file=sys.stderr)
  for size in values.data_sizes:
    rows += run_isolated(data_speed, int(size), values.data_images, values.batch_size,
                         values.data_steps)
    print(f"tf.data at {size} px done", flush=True)
  for size in values.latency_sizes:
    rows += run_isolated(transfer_latency, int(size), values.latency_max_width,
                         values.latency_repeats)
    print(f"transfer latency at {size} px done", flush=True)
  print(f"\n{os.cpu_count()} CPUs visible; 1-minute load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (other jobs share this machine).\n")
  print(format_table(rows, ceilings))


if __name__ == "__main__":
  define_flags()
  usage.run("machine_table", main)
