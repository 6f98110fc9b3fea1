"""Every kind of image file decodes to RGB uint8 or gives a reason."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pipelines import image_decoding
from pipelines import fixtures

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


def _png_header_only(width, height):
  """A PNG signature and IHDR chunk declaring width x height, and no pixel data: a bomb's
  header (a real bomb adds a few kilobytes of highly compressed zeros)."""
  ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
  return (b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
          + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def test_header_over_the_pixel_budget_is_refused_before_decoding():
  # 8000 x 6000 = 48 MP: over the 40 MP budget, yet harmless if a decoder tried it.
  image, reason, _ = image_decoding.decode_to_rgb(_png_header_only(8000, 6000))
  assert image is None and reason == "too large (over 40,000,000 pixels)"
  assert image_decoding.image_dimensions(_png_header_only(8000, 6000)) == (8000, 6000)


@pytest.mark.parametrize("fmt, mode", [("PNG", None), ("JPEG", None), ("GIF", None),
                                       ("BMP", None), ("WEBP", None), ("TIFF", None),
                                       ("BMP", "P")])
def test_every_format_is_measured_from_its_header(monkeypatch, fmt, mode):
  pixels = np.random.default_rng(0).integers(0, 256, (30, 50, 3), np.uint8)
  data = fixtures.encode(pixels, fmt, mode)
  assert image_decoding.image_dimensions(data) == (50, 30)
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", 50 * 30 - 1)
  image, reason, _ = image_decoding.decode_to_rgb(data)
  assert image is None and reason == "too large (over 1,499 pixels)"
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
