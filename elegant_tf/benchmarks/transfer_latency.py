"""Transfer latency and throughput: SavedModel vs each TFLite variant, at several sizes.

  python -m elegant_tf.benchmarks.transfer_latency --sizes=64,128,256

Latency is the median wall time of one batch-1 transfer (one image, one exemplar,
both edited outputs) after a warm-up; throughput is transfers per second at
--batch (the TFLite files are batch-1, so they run the batch one pair at a time).
Weights are untrained (speed does not depend on them); widths follow the paper
(64..512, 5 blocks) unless --max_width caps them. The machine is shared: compare
rows of one run, not runs of different days.
"""

import os
import shutil
import tempfile
import time

import numpy as np
from absl import flags

from elegant_tf.exporting import saved_model
from elegant_tf.exporting import tflite_convert
from elegant_tf.inference import model_loading
from elegant_tf.models import generator as generator_lib
from pipelines import atomic_files
from pipelines import markdown
from pipelines import usage

VARIANTS = ("none", "float16", "dynamic", "int8")


def _generator(size: int, max_width: int, num_attributes: int):
  depth = 5 if size >= 64 else 3
  widths = [min(64 * 2 ** k, max_width) for k in range(depth)]
  model = generator_lib.ElegantGenerator(num_attributes, widths, name="generator")
  zeros = np.zeros((1, size, size, 3), np.float32)
  model({"image": zeros, "exemplar": zeros,
         "attributes": np.zeros((1, num_attributes), np.float32)})
  return model


def _throughput(model, images, exemplars, attributes, repeats: int) -> float:
  model.transfer(images, exemplars, attributes)
  start = time.perf_counter()
  for _ in range(repeats):
    model.transfer(images, exemplars, attributes)
  return repeats * len(images) / (time.perf_counter() - start)


def benchmark_size(size: int, variants, max_width: int, batch: int, repeats: int,
                   workdir: str) -> list[dict]:
  attributes_names = ["Eyeglasses", "Bangs", "Smiling"]
  generator = _generator(size, max_width, len(attributes_names))
  version_dir = saved_model.export_generator(generator, attributes_names, size,
                                             os.path.join(workdir, f"model{size}"),
                                             training_data="synthetic")
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
  exemplars = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
  attributes = np.ones((batch, len(attributes_names)), np.float32)
  models = {"SavedModel": (model_loading.load_saved_model(version_dir), None)}
  for variant in variants:
    path = os.path.join(workdir, f"model{size}_{variant}.tflite")
    atomic_files.write_atomically(
        path, tflite_convert.convert(version_dir, variant, calibration_samples=8))
    models[f"TFLite {variant}"] = (model_loading.load(path), os.path.getsize(path))
  rows = []
  for name, (model, size_bytes) in models.items():
    latency = tflite_convert.time_transfer(model, images[:1], exemplars[:1], attributes[:1], repeats)
    rows.append({"size": size, "model": name, "file_mib": size_bytes and size_bytes / 2**20,
                 "latency_ms": 1000 * latency,
                 "throughput": _throughput(model, images, exemplars, attributes,
                                           max(1, repeats // 4))})
  return rows


def format_rows(rows: list) -> str:
  return markdown.table(
      ["px", "model", "file (MiB)", "latency batch 1 (ms)", "throughput (transfers/s)"],
      ([row["size"], row["model"], "-" if row["file_mib"] is None else f"{row['file_mib']:.2f}",
        f"{row['latency_ms']:.1f}", f"{row['throughput']:.1f}"] for row in rows))


def define_flags():
  flags.DEFINE_list("sizes", ["64", "128", "256"], "Image sizes to measure.")
  flags.DEFINE_list("variants", list(VARIANTS), "TFLite quantizations to measure.")
  flags.DEFINE_integer("max_width", 512, "Channel cap (paper: 512).")
  flags.DEFINE_integer("batch", 8, "Batch for the throughput column.")
  flags.DEFINE_integer("repeats", 10, "Timed repetitions per measurement.")


FLAGS = flags.FLAGS


def main(argv):
  usage.check_no_arguments(argv)
  bad = [v for v in FLAGS.variants if v not in VARIANTS]
  if bad or not all(s.isdigit() and int(s) % 32 == 0 for s in FLAGS.sizes):
    raise usage.UsageError(f"--variants from {','.join(VARIANTS)}; --sizes multiples of 32")
  workdir = tempfile.mkdtemp(prefix="elegant_latency_")
  rows = []
  try:
    for size in FLAGS.sizes:
      rows += benchmark_size(int(size), FLAGS.variants, FLAGS.max_width, FLAGS.batch,
                             FLAGS.repeats, workdir)
      print(format_rows(rows[-1 - len(FLAGS.variants):]), flush=True)
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  print(f"\nAll sizes ({os.cpu_count()} CPUs visible, max_width={FLAGS.max_width}):")
  print(format_rows(rows))


if __name__ == "__main__":
  define_flags()
  usage.run("transfer_latency", main)
