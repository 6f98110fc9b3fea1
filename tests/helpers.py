"""Shared by the tests: where the repository is, running a command (as a subprocess or in
this process), building a session model once for all xdist workers, and fake data that
more than one test module needs.

Test modules import from here (and from tests/elegant_tf/tiny.py), never from each other.
"""

import dataclasses
import fcntl
import io
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

from pipelines import fixtures

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE_FLAGS = os.path.join(REPO, "elegant_tf", "configs", "smoke.flags")
# The committed demo model (64 px; Eyeglasses, Bangs, Smiling, Mustache): its model folder.
DEMO_MODEL = os.path.join(REPO, "saved_models", "elegant_demo")


def subprocess_env(**extra) -> dict:
  """The environment of a command run as a subprocess: this checkout first on the path
  (not an installed copy), TensorFlow's C++ chatter off."""
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO, **extra)


def run_module(module: str, *args, timeout=1200, **extra_env) -> subprocess.CompletedProcess:
  """`python -m module args...` from the repository root; stdout and stderr captured.

  The timeout only stops a hang: a command that takes a minute on an idle machine can take
  several on one shared with other jobs, and that must not fail the test."""
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


def built_once(tmp_path_factory, name: str, build) -> pathlib.Path:
  """A directory that build(directory) fills once per test session, however many
  pytest-xdist workers ask for it: the first to ask builds it under a file lock in the
  session's shared temporary folder, the others wait for it and read the result.

  Without xdist it is an ordinary tmp_path_factory folder.
  """
  if "PYTEST_XDIST_WORKER" not in os.environ:
    directory = tmp_path_factory.mktemp(name)
    build(directory)
    return directory
  # Each worker's base temp is a child of the session's own folder (pytest-N).
  shared = tmp_path_factory.getbasetemp().parent
  directory = shared / name
  with open(shared / f"{name}.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # Released when the file closes, even on failure.
    if not (directory / ".built").exists():
      shutil.rmtree(directory, ignore_errors=True)  # What a failed build left.
      directory.mkdir()
      build(directory)
      (directory / ".built").touch()
  return directory


def write_noise_faces(folder) -> None:
  """Four noise "faces" of different sizes and formats in `folder`, face0.jpg, face1.png,
  face2.jpg and face3.png (noise has no face to detect: read them centre-cropped), and
  broken.png, which is not a PNG."""
  rng = np.random.default_rng(0)
  for k in range(4):  # Different sizes and formats on purpose.
    pixels = rng.integers(0, 256, (40 + 10 * k, 36 + 5 * k, 3), np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, f"face{k}.{'png' if k % 2 else 'jpg'}"))
  with open(os.path.join(folder, "broken.png"), "wb") as f:
    f.write(b"\x89PNG not really")


# Image bombs and other hostile files, for the decoders' tests and for those of the
# commands and signatures that read images.


def png_header_only(width, height) -> bytes:
  """A PNG signature and IHDR chunk declaring width x height, and no pixel data: a bomb's
  header (a real bomb adds a few kilobytes of highly compressed zeros)."""
  ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
  return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
          + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def _lzw_zeros(count):
  """GIF LZW codes (minimum code size 2) of `count` zero pixels: runs of 1, 2, 3, ...
  zeros, one code each, so a frame of n pixels takes about sqrt(2n) codes (a bomb's
  compression); the table restarts (clear code 4) when it is full."""
  codes, next_code, run = [4], 6, 1
  while count > 0:
    take = min(run, count)
    codes.append(0 if take == 1 else 4 + take)  # Code 4 + k is the run of k zeros.
    count -= take
    next_code, run = next_code + 1, run + 1
    if next_code == 4096 and count:
      codes.append(4)
      next_code, run = 6, 1
  return codes + [5]  # End of information.


def _lzw_pack(codes):
  """Pack codes LSB first, widening them as giflib does when the table fills a width."""
  value, bits, out, width, next_code, first = 0, 0, bytearray(), 3, 6, True
  for code in codes:
    value |= code << bits
    bits += width
    while bits >= 8:
      out.append(value & 255)
      value, bits = value >> 8, bits - 8
    if code == 4:
      width, next_code, first = 3, 6, True
    elif first:
      first = False  # The first code after a clear adds no table entry.
    elif next_code < 4096:
      next_code += 1
      if next_code == 1 << width and width < 12:
        width += 1
  return bytes(out + (bytearray([value]) if bits else b""))


def _sub_blocks(data):
  return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255]
                  for i in range(0, len(data), 255)) + b"\0"


def gif_of_zeros(screen, frames, global_colours=2, local_colours=0, extensions=()):
  """A GIF89a whose frames [(left, top, width, height)] are LZW-compressed zeros: the
  declared sizes are free to disagree with the logical `screen` (width, height)."""
  def table(colours):
    return bytes(k % 256 for k in range(3 * colours))

  def packed(colours):  # Colour table flag and size field of a descriptor.
    return 0x80 | (colours.bit_length() - 2) if colours else 0

  out = b"GIF89a" + struct.pack("<HHBBB", *screen, packed(global_colours), 0, 0)
  out += table(global_colours)
  for label, payload in extensions:
    out += b"\x21" + bytes([label]) + _sub_blocks(payload)
  for left, top, width, height in frames:
    out += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, packed(local_colours))
    out += table(local_colours) + b"\x02" + _sub_blocks(_lzw_pack(_lzw_zeros(width * height)))
  return out + b"\x3b"


def _patched(contents, offset, fmt, *values):
  patched = bytearray(contents)
  struct.pack_into(fmt, patched, offset, *values)
  return bytes(patched)


def _jpeg_with_size(pixels, width, height):
  """A JPEG of `pixels` whose SOF0 segment declares width x height instead."""
  contents = fixtures.encode(pixels, "JPEG")
  sof = contents.index(b"\xff\xc0")
  return _patched(contents, sof + 5, ">HH", height, width)


def _webp_with_canvas(frame_webp, width, height):
  """A VP8X WebP declaring a width x height canvas around `frame_webp`'s one image chunk."""
  vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4
  vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
  body = b"WEBP" + vp8x + frame_webp[12:]
  return b"RIFF" + struct.pack("<I", len(body)) + body


def _animated_webp(frames, width, height):
  images = [Image.fromarray(np.full((height, width, 3), 40 * k, np.uint8)) for k in range(frames)]
  buffer = io.BytesIO()
  images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], lossless=True)
  return buffer.getvalue()


def hostile_files():
  """Small files whose headers understate (or state) what a decoder expands. Under the
  test's budget of 4,096 pixels."""
  zeros = lambda height, width: np.zeros((height, width, 3), np.uint8)
  bmp_30x100 = fixtures.encode(np.random.default_rng(1).integers(0, 255, (30, 100, 3), np.uint8),
                               "BMP")
  return {
      "GIF frame larger than its screen": gif_of_zeros((16, 16), [(0, 0, 200, 150)]),
      "GIF frame past the screen's edge": gif_of_zeros((32, 32), [(20, 0, 32, 32)]),
      "GIF of 5 screen-sized frames": gif_of_zeros((40, 40), [(0, 0, 40, 40)] * 5),
      "GIF frame after extensions and a local colour table": gif_of_zeros(
          (16, 16), [(0, 0, 100, 100)], global_colours=256, local_colours=4,
          extensions=[(0xFE, b"a comment " * 40), (0xFF, b"NETSCAPE2.0"), (0xF9, b"\0" * 4)]),
      "GIF within the budget": gif_of_zeros((60, 60), [(0, 0, 60, 60)]),
      "PNG IHDR over a tiny IDAT": png_header_only(100, 100),
      "PNG of compressed zeros": fixtures.encode(zeros(100, 100), "PNG"),
      "PNG within the budget": fixtures.encode(zeros(60, 60), "PNG"),
      "JPEG SOF larger than its scans": _jpeg_with_size(zeros(24, 24), 100, 100),
      "JPEG SOF smaller than its scans": _jpeg_with_size(zeros(96, 96), 40, 40),
      "BMP stored top-down (negative height)": _patched(bmp_30x100, 22, "<i", -30),
      "BMP negative height over the budget": _patched(bmp_30x100, 22, "<i", -100),
      "BMP height of -2**31": _patched(bmp_30x100, 22, "<i", -2 ** 31),
      "WebP canvas smaller than its frame": _webp_with_canvas(
          fixtures.encode(zeros(150, 200), "WEBP"), 16, 16),
      "WebP canvas larger than its frame": _webp_with_canvas(
          fixtures.encode(zeros(24, 24), "WEBP"), 100, 100),
      "WebP of 5 animation frames": _animated_webp(5, 40, 30),
      # TF 2.21's animated WebP decoder corrupts the heap and kills the process.
      "WebP of 2 small animation frames": _animated_webp(2, 20, 20),
      "TIFF over the budget": fixtures.encode(zeros(100, 100), "TIFF"),
      "TIFF within the budget": fixtures.encode(zeros(50, 50), "TIFF"),
  }


def gif_of_one_byte_sub_blocks(count):
  """A 64 x 64 GIF whose one frame's data is `count` one-byte sub-blocks: the most steps a
  block walker can be made to take per byte."""
  return (b"GIF89a" + struct.pack("<HHBBB", 64, 64, 0, 0, 0) + b"\x2c"
          + struct.pack("<HHHHB", 0, 0, 64, 64, 0) + b"\x02" + b"\x01\x00" * count + b"\x00\x3b")


def many_block_gifs():
  """(GIF of 8 blocks, GIF of 9 blocks): a frame after comment extensions."""
  comments = [(0xFE, b"a comment")] * 7
  return (gif_of_zeros((16, 16), [(0, 0, 16, 16)], extensions=comments),
          gif_of_zeros((16, 16), [(0, 0, 16, 16)], extensions=comments + [(0xFE, b"one more")]))


MAX_LOADS = 2000  # Far above what detection needs; without it a hang would never fail.


def celeba_with_unusable(root, monkeypatch, attribute="Eyeglasses", keep=0, having=True) -> int:
  """The CelebA fixture with every train image having (or, having=False, lacking)
  `attribute` corrupted except the first `keep`; returns how many such images there are.

  Loads are counted and capped, so a stream that keeps retrying fails the test
  instead of hanging it.
  """
  from pipelines import celeba
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
