"""Pairs per second of each real-data source, next to what a training step consumes.

  python -m elegant_tf.benchmarks.data_speed --sizes=128,256 --batch_size=16

Builds a CelebA-format folder of generated 178x218 JPEGs (the real crop size), a
custom folder of the same images, a `prepare`d tfrecord directory, and times
`pairs.attribute_pairs` on each. A "pair" is one (A, B) image pair, so one
training step at batch 16 eats 16 pairs. The training step (the real ElegantGAN
train_step, full paper widths) is timed on a fixed batch. The pipeline must beat
it: on a shared CPU both compete for the same cores, which this measures too when
`--concurrent` runs them together.
"""

import os
import tempfile
import time

from absl import flags
import numpy as np
import tensorflow as tf

from elegant_tf.training import train_config
from elegant_tf.training import train_lib
from pipelines import celeba
from pipelines import fixtures
from pipelines import folder
from pipelines import markdown
from pipelines import pairs
from pipelines import prepare
from pipelines import tfrecord
from pipelines import usage

ATTRIBUTES = ["Bangs", "Eyeglasses"]


def define_flags():
  flags.DEFINE_list("sizes", ["128", "256"], "Image sizes, in pixels.")
  flags.DEFINE_integer("batch_size", 16, "Pairs per batch.")
  flags.DEFINE_integer("images", 400, "Generated faces in each data set.")
  flags.DEFINE_integer("steps", 20, "Timed pair batches per source.")
  flags.DEFINE_integer("train_steps", 3, "Timed train steps per size.")


FLAGS = flags.FLAGS


def make_data(root: str, count: int) -> None:
  """CelebA- and folder-format copies of `count` generated faces at 178x218."""
  rng = np.random.default_rng(0)
  os.makedirs(os.path.join(root, "celeba", "img_align_celeba"), exist_ok=True)
  os.makedirs(os.path.join(root, "folder"), exist_ok=True)
  attr, part, marks, csv_rows, csv_marks = [], [], [], ["filename,Bangs,Eyeglasses"], ["filename"]
  for n in range(count):
    name = f"{n + 1:06d}.jpg"
    points = fixtures.face_landmarks(rng, 178, 218, 36.0)
    data = fixtures.encode(fixtures.face_image(rng, 178, 218, points, n % 256), "JPEG")
    for path in (os.path.join(root, "celeba", "img_align_celeba", name),
                 os.path.join(root, "folder", name)):
      with open(path, "wb") as handle:
        handle.write(data)
    bangs, glasses = n % 2, n % 3 == 0
    attr.append(f"{name} {1 if bangs else -1} {1 if glasses else -1}")
    part.append(f"{name} 0")
    flat = " ".join(str(int(round(v))) for v in points.reshape(-1))
    marks.append(f"{name} {flat}")
    csv_rows.append(f"{name},{bangs},{int(glasses)}")
    csv_marks.append(name + "," + flat.replace(" ", ","))
  base = os.path.join(root, "celeba")
  with open(os.path.join(base, "list_attr_celeba.txt"), "w") as handle:
    handle.write(f"{count}\nBangs Eyeglasses\n" + "\n".join(attr) + "\n")
  with open(os.path.join(base, "list_eval_partition.txt"), "w") as handle:
    handle.write("\n".join(part) + "\n")
  with open(os.path.join(base, "list_landmarks_align_celeba.txt"), "w") as handle:
    handle.write(f"{count}\nheader\n" + "\n".join(marks) + "\n")
  with open(os.path.join(root, "folder", "attributes.csv"), "w") as handle:
    handle.write("\n".join(csv_rows) + "\n")
  with open(os.path.join(root, "folder", "landmarks.csv"), "w") as handle:
    handle.write("\n".join(csv_marks) + "\n")


def pairs_per_second(source, batch_size: int, steps: int) -> float:
  stream = iter(pairs.attribute_pairs(source, ATTRIBUTES, batch_size, deterministic=False))
  for _ in range(3):  # Warm up: tracing, thread pools, file cache.
    next(stream)
  start = time.perf_counter()
  for _ in range(steps):
    next(stream)
  return steps * batch_size / (time.perf_counter() - start)


def train_pairs_per_second(size: int, batch_size: int, steps: int) -> float:
  """Pairs/s the real train step consumes at `size` (paper widths)."""
  config = train_config.TrainConfig(attributes=tuple(ATTRIBUTES), image_size=size,
                                    batch_size=batch_size)
  gan = train_lib.build_gan(config)
  batch = pairs.fake_pair_batch(size, len(ATTRIBUTES), batch_size)
  step = tf.function(gan.train_step)
  step(batch)
  start = time.perf_counter()
  for _ in range(steps):
    step(batch)
  return steps * batch_size / (time.perf_counter() - start)


def main(argv):
  usage.check_no_arguments(argv)
  root = tempfile.mkdtemp(prefix="data_speed_")
  make_data(root, FLAGS.images)
  print(markdown.header(["source", "size", "pairs/s (pipeline)", "pairs/s (train step)"]))
  for size in [int(s) for s in FLAGS.sizes]:
    out = os.path.join(root, f"tfrecord{size}")
    prepare.prepare(celeba.open_source(os.path.join(root, "celeba"), size),
                    "celeba", out, verbose=False)
    train_rate = train_pairs_per_second(size, FLAGS.batch_size, FLAGS.train_steps)
    sources = {
        "celeba:DIR (decode+align)": celeba.open_source(os.path.join(root, "celeba"), size),
        "folder:DIR (decode+align)": folder.open_source(os.path.join(root, "folder"), size),
        "tfrecord:DIR (prepared)": tfrecord.open_source(out, size),
    }
    for name, source in sources.items():
      rate = pairs_per_second(source, FLAGS.batch_size, FLAGS.steps)
      print(markdown.row([name, size, f"{rate:.0f}", f"{train_rate:.1f}"]), flush=True)


if __name__ == "__main__":
  define_flags()
  usage.run("data_speed", main)
