"""Every kind of image file decodes to RGB uint8 or gives a reason."""

import io
import struct
import zlib

import numpy as np
import tensorflow as tf
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
  assert image is None and reason == "too large (over 40,000,000 pixels or 65,535 a side)"
  assert image_decoding.image_dimensions(_png_header_only(8000, 6000)) == (8000, 6000)


def test_a_strip_within_the_pixels_but_too_long_a_side_is_too_large_not_corrupt():
  # 40,000,000 x 1 is exactly the pixel budget; libpng refuses sides over 1,000,000.
  image, reason, _ = image_decoding.decode_to_rgb(_png_header_only(40_000_000, 1))
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


def _hostile_files():
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
      "PNG IHDR over a tiny IDAT": _png_header_only(100, 100),
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


def test_a_gif_of_more_blocks_than_the_limit_is_refused(monkeypatch):
  monkeypatch.setattr(image_decoding, "MAX_GIF_BLOCKS", 8)
  at_limit, over = many_block_gifs()
  assert image_decoding.header_refusal(at_limit) is None
  assert image_decoding.decode_to_rgb(over)[1] == "GIF of more than 8 blocks"
  assert image_decoding.gif_layout(gif_of_one_byte_sub_blocks(1000))[1:] == ([(0, 0, 64, 64)], 1)


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
  for name, contents in _hostile_files().items():
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
