"""Every kind of image file decodes to RGB uint8 or gives a reason."""

import io
import struct

import numpy as np
import tensorflow as tf
import pytest
from PIL import Image

from pipelines import image_decoding
from pipelines import fixtures
from tests import helpers

_RGB = np.random.default_rng(0).integers(0, 255, (24, 20, 3), np.uint8)


@pytest.mark.parametrize("data, conversions", [
    (fixtures.encode(_RGB, "JPEG"), []),
    (fixtures.encode(_RGB, "PNG"), []),
    (fixtures.encode(_RGB, "BMP"), []),
    (fixtures.encode(_RGB, "JPEG", "L"), ["grayscale to RGB"]),
    (fixtures.encode(_RGB, "PNG", "RGBA"), ["alpha dropped"]),
    (fixtures.encode(_RGB, "JPEG", "CMYK"), ["CMYK to RGB"]),
    (fixtures.encode(_RGB, "BMP", "P"), ["palette to RGB"]),
    (fixtures.encode(_RGB, "BMP", "1"), ["grayscale to RGB"]),
    (fixtures.png16(_RGB), ["16-bit to 8-bit"]),
])
def test_decodes_to_rgb(data, conversions):
  image, reason, applied = image_decoding.decode_to_rgb(data)
  assert reason is None
  assert image.shape == (24, 20, 3) and image.dtype == np.uint8
  assert set(conversions) <= set(applied)


def test_palette_bmp_keeps_colours():
  # TF would return palette indices as gray; the fallback must give real colours.
  image, _, _ = image_decoding.decode_to_rgb(fixtures.encode(_RGB, "BMP", "P"))
  assert np.abs(image.astype(int) - _RGB.astype(int)).mean() < 40


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (fixtures.encode(_RGB, "JPEG")[:200], "corrupt or truncated image"),
    (fixtures.encode(_RGB, "PNG")[:100], "corrupt or truncated image"),
    (b"plain text, not a picture", "unsupported format"),
])
def test_bad_bytes_give_reason(data, reason):
  image, got, _ = image_decoding.decode_to_rgb(data)
  assert image is None and got == reason


def test_ledger_counts_each_file_once():
  ledger = image_decoding.SkipLedger()
  for _ in range(3):
    ledger.skip("empty file", "a.jpg")
  ledger.skip("empty file", "b.jpg")
  ledger.convert("grayscale to RGB", "c.jpg")
  assert ledger.skipped_counts() == {"empty file": 2}
  assert ledger.converted_counts() == {"grayscale to RGB": 1}


def test_header_over_the_pixel_budget_is_refused_before_decoding():
  # 8000 x 6000 = 48 MP: over the 40 MP budget, yet harmless if a decoder tried it.
  image, reason, _ = image_decoding.decode_to_rgb(helpers.png_header_only(8000, 6000))
  assert image is None and reason == "too large (over 40,000,000 pixels or 65,535 a side)"
  assert image_decoding.image_dimensions(helpers.png_header_only(8000, 6000)) == (8000, 6000)


def test_a_strip_within_the_pixels_but_too_long_a_side_is_too_large_not_corrupt():
  # 40,000,000 x 1 is exactly the pixel budget; libpng refuses sides over 1,000,000.
  image, reason, _ = image_decoding.decode_to_rgb(helpers.png_header_only(40_000_000, 1))
  assert image is None and reason == image_decoding.too_large_reason()


@pytest.mark.parametrize("fmt, mode", [("PNG", None), ("JPEG", None), ("GIF", None),
                                       ("BMP", None), ("WEBP", None), ("TIFF", None),
                                       ("BMP", "P")])
def test_every_format_is_measured_from_its_header(monkeypatch, fmt, mode):
  pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 3), np.uint8)
  data = fixtures.encode(pixels, fmt, mode)
  assert image_decoding.image_dimensions(data) == (50, 30)
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", 50 * 30 - 1)
  image, reason, _ = image_decoding.decode_to_rgb(data)
  assert image is None and reason == "too large (over 1,499 pixels or 65,535 a side)"
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", 50 * 30)
  assert image_decoding.decode_to_rgb(data)[0].shape == (30, 50, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_photos_upright_like_pillow(orientation):
  from PIL import ImageOps
  # Blocks of 8 pixels survive JPEG; the picture has no symmetry, so every turn differs.
  stored = np.kron(np.arange(12, dtype=np.uint8).reshape(3, 4) * 20, np.ones((8, 8), np.uint8))
  stored = np.stack([stored, 255 - stored, np.zeros_like(stored)], axis=-1)
  exif = Image.Exif()
  exif[0x0112] = orientation
  buffer = io.BytesIO()
  Image.fromarray(stored).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
  contents = buffer.getvalue()
  assert image_decoding.exif_orientation(contents) == orientation
  # Both from Pillow's decoding, so only the turn can differ.
  decoded = np.asarray(Image.open(io.BytesIO(contents)).convert("RGB"))
  expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(contents))).convert("RGB"))
  assert np.array_equal(image_decoding.upright(decoded, contents), expected)
  if orientation != 1:  # The picture has no symmetry: every turn changes it.
    assert expected.shape != decoded.shape or not np.array_equal(expected, decoded)


def test_a_gif_of_more_blocks_than_the_limit_is_refused(monkeypatch):
  monkeypatch.setattr(image_decoding, "MAX_GIF_BLOCKS", 8)
  at_limit, over = helpers.many_block_gifs()
  assert image_decoding.header_refusal(at_limit) is None
  assert image_decoding.decode_to_rgb(over)[1] == "GIF of more than 8 blocks"
  assert image_decoding.gif_layout(helpers.gif_of_one_byte_sub_blocks(1000))[1:] == (
      [(0, 0, 64, 64)], 1)


def _pixels_expanded(contents, monkeypatch):
  """Pixels the decoders produce with no budget at all: every frame of a GIF (giflib
  expands them all, whichever one is returned), else decode_to_rgb's image."""
  if contents[:4] == b"GIF8":
    try:
      frames = tf.io.decode_gif(contents)
    except tf.errors.InvalidArgumentError:
      return 0
    return int(np.prod(frames.shape[:3]))
  with monkeypatch.context() as unlimited:
    unlimited.setattr(image_decoding, "MAX_PIXELS", 10 ** 12)
    image = image_decoding.decode_to_rgb(contents)[0]
  return 0 if image is None else image.shape[0] * image.shape[1]


def test_no_file_the_header_check_accepts_expands_past_the_budget(monkeypatch):
  budget = 4096
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", budget)
  over, accepted = [], []
  for name, contents in helpers.hostile_files().items():
    reason = image_decoding.decode_to_rgb(contents)[1]
    if reason is not None and reason.startswith(("too large", "GIF frame")):
      continue  # Refused from the header, before any decoder ran.
    accepted.append(name)
    expanded = _pixels_expanded(contents, monkeypatch)
    if expanded > budget:
      over.append(f"{name}: {expanded} pixels")
  assert not over, over
  # The corpus is not all refused: files within the budget still decode.
  assert {"GIF within the budget", "PNG within the budget", "TIFF within the budget",
          "BMP stored top-down (negative height)", "JPEG SOF smaller than its scans",
          "WebP of 2 small animation frames"} <= set(
              accepted)


def _tiled_tiff(width, height, tile):
  """A little-endian grayscale TIFF header declaring width x height in tile x tile tiles
  (libtiff allocates a whole tile, whatever the image's size); the pixel data is absent."""
  entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 8),
             (262, 3, 1, 1), (277, 3, 1, 1), (322, 4, 1, tile), (323, 4, 1, tile),
             (324, 4, 1, 0), (325, 4, 1, 0)]  # One tile, at offset 0, of 0 bytes.
  ifd = struct.pack("<H", len(entries))
  for tag, kind, count, value in entries:
    ifd += struct.pack("<HHII", tag, kind, count, value)
  return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


def test_a_tiff_tile_counts_against_the_budget(monkeypatch):
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", 4096)
  assert image_decoding.image_dimensions(_tiled_tiff(16, 16, 128)) == (16, 16)
  assert (image_decoding.header_refusal(_tiled_tiff(16, 16, 128))
          == image_decoding.too_large_reason())
  assert image_decoding.header_refusal(_tiled_tiff(16, 16, 32)) is None
