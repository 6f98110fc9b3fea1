"""Shared by the tests: where the repository is, running a command (as a subprocess or in
this process), and fake data that more than one test module needs.

Test modules import from here (and from tests/elegant_tf/tiny.py), never from each other.
"""

import dataclasses
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE_FLAGS = os.path.join(REPO, "elegant_tf", "configs", "smoke.flags")


def subprocess_env(**extra) -> dict:
  """The environment of a command run as a subprocess: this checkout first on the path
  (not an installed copy), TensorFlow's C++ chatter off."""
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, **extra)


def run_module(module: str, *args, timeout=300, **extra_env) -> subprocess.CompletedProcess:
  """`python -m module args...` from the repository root; stdout and stderr captured."""
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO,
                        env=subprocess_env(**extra_env), capture_output=True, text=True,
                        timeout=timeout)


@dataclasses.dataclass
class Finished:
  """What a command run in this process left: exit status and captured output."""
  returncode: int
  stdout: str
  stderr: str


def run_in_process(command_run, *args, capsys) -> Finished:
  """Run a command's entry point (e.g. elegant_tf.train.run) with `args` as its command
  line, in this process: the same flag parsing (absl), checks and exit status as
  `python -m`, without starting Python and TensorFlow again.

  The flags the command defines are removed afterwards and every other flag gets its
  value back (absl's flagsaver), so the next command can define its own.
  """
  from absl import app
  from absl.testing import flagsaver
  app.define_help_flags()  # Once per process; defined inside the saver they would go.
  capsys.readouterr()  # Output from before the command is not the command's.
  saved_argv = sys.argv
  sys.argv = ["elegant", *args]
  try:
    with flagsaver.flagsaver():
      try:
        command_run()
        code = 0
      except SystemExit as exited:  # app.run always ends in sys.exit.
        code = exited.code if isinstance(exited.code, int) else (exited.code is not None)
  finally:
    sys.argv = saved_argv
  out, err = capsys.readouterr()
  return Finished(int(code), out, err)


def png_header_only(width, height) -> bytes:
  """A PNG signature and IHDR chunk declaring width x height, and no pixel data: a bomb's
  header (a real bomb adds a few kilobytes of highly compressed zeros)."""
  ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
  return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
          + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


MAX_LOADS = 2000  # Far above what detection needs; without it a hang would never fail.


def celeba_with_unusable(root, monkeypatch, attribute="Eyeglasses", keep=0, having=True) -> int:
  """The CelebA fixture with every train image having (or, having=False, lacking)
  `attribute` corrupted except the first `keep`; returns how many such images there are.

  Loads are counted and capped, so a stream that keeps retrying fails the test
  instead of hanging it.
  """
  from pipelines import celeba
  from pipelines import fixtures
  from pipelines import image_decoding
  fixtures.make_celeba(root)
  source = celeba.open_source(root, 32)
  column = source.attribute_names.index(attribute)
  keys = source.keys("train")
  chosen = np.flatnonzero(source.labels("train")[:, column] == (1 if having else 0))
  for index in chosen[keep:]:
    with open(os.path.join(root, "img_align_celeba", keys[index]), "wb") as handle:
      handle.write(b"\xff\xd8\xff\xe0 truncated")
  original = image_decoding.IndexedImageSource._load
  calls = []

  def counted(self, split, index):
    calls.append(index)
    if len(calls) > MAX_LOADS:
      raise RuntimeError(f"still retrying after {MAX_LOADS} loads")
    return original(self, split, index)

  monkeypatch.setattr(image_decoding.IndexedImageSource, "_load", counted)
  return len(chosen)


def _mock_celeb_a_examples(count):
  import tensorflow_datasets as tfds
  from pipelines import fixtures
  from pipelines import tfds_celeba
  rng = np.random.default_rng(0)
  names = None
  for n in range(count):
    points = fixtures.face_landmarks(rng, 89, 109, 18.0)
    image = fixtures.face_image(rng, 89, 109, points, 60)
    if names is None:
      names = list(tfds.builder("celeb_a").info.features["attributes"].keys())
    yield {
        "image": fixtures.encode(image, "JPEG"),
        "attributes": {name: bool((n + k) % 2) for k, name in enumerate(names)},
        "landmarks": {f"{p}_{axis}": int(round(points[i][j]))
                      for i, p in enumerate(tfds_celeba.LANDMARK_ORDER)
                      for j, axis in enumerate("xy")},
        "identity": {"Identity_No": n},
    }


def mock_celeb_a_as_dataset(self, split, decoders=None, **unused):
  """as_dataset_fn for tfds.testing.mock_data: celeb_a with 8 train, 3 validation and 3
  test faces drawn by pipelines.fixtures (landmarks that align), attribute k of example
  n set when n + k is odd."""
  import tensorflow as tf
  del self, decoders, unused
  count = {"train": 8, "validation": 3, "test": 3}[str(split)]
  examples = list(_mock_celeb_a_examples(count))
  return tf.data.Dataset.from_generator(
      lambda: iter(examples),
      output_signature={
          "image": tf.TensorSpec([], tf.string),
          "attributes": {k: tf.TensorSpec([], tf.bool) for k in examples[0]["attributes"]},
          "landmarks": {k: tf.TensorSpec([], tf.int64) for k in examples[0]["landmarks"]},
          "identity": {"Identity_No": tf.TensorSpec([], tf.int64)},
      })
