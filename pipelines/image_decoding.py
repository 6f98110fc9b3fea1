"""Robust image decoding, and the indexed face source built on it.

Any stored image (JPEG, PNG, GIF, BMP, WebP; grayscale, palette, RGBA, CMYK,
16-bit) becomes RGB uint8, or a short reason why it cannot. TensorFlow's decoders
do the work; Pillow, when installed, takes only what TF gets wrong or refuses:
CMYK JPEGs (TF ignores Adobe's inverted CMYK), palette BMPs (TF returns the
palette indices as gray), 1/4/16-bit and RLE BMPs, TIFF.

`IndexedImageSource` turns example indices into aligned batches: labels and
landmarks live in arrays (known without decoding), bytes are fetched by index,
and a file that cannot be used is skipped before batching and counted once per
file and reason, so a long run never dies on one bad file.
"""

import collections
import os
import struct
import threading
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from pipelines import alignment
from pipelines import face_source

try:  # Optional: only the formats TF mishandles need it.
  from PIL import Image as _pil_image
  import io as _io
except ImportError:  # pragma: no cover - exercised only without Pillow.
  _pil_image = None

# Faces smaller than this fraction of the output would be mostly interpolation.
MIN_SCALE_FRACTION = 0.25
# Larger images are refused from their header, before decoding: a few-kilobyte file
# can declare gigapixels (an image bomb), and decoding, converting and aligning
# one RGB image takes about 20 bytes per pixel. 40 MP is twice a 24 MP camera's.
MAX_PIXELS = 40_000_000
# Longest side: the largest JPEG and GIF can declare. Pixels alone would let a
# 40,000,000 x 1 strip through, which libpng refuses as if the file were corrupt.
MAX_SIDE = 65_535
# A GIF frame reaching outside its logical screen: TF would allocate the frame's size.
GIF_FRAME_OUTSIDE = "GIF frame larger than its screen"
# Blocks (frames and extensions) a GIF may have: the serving graph walks them one loop
# step each (about 1 ms). A frame needs about two, and 2,048 frames of even 150 x 130
# are past MAX_PIXELS.
MAX_GIF_BLOCKS = 4096


def gif_too_many_blocks_reason() -> str:
  return f"GIF of more than {MAX_GIF_BLOCKS:,} blocks"


# Largest image file read at all: an uncompressed 40 MP RGB image (BMP, TIFF) is 120 MB.
# Checked before reading, so a huge file (or /dev/zero, which has no size) is never
# read whole into memory to find out.
MAX_FILE_BYTES = 128 * 2 ** 20


class FileTooLargeError(ValueError):
  """An image file over MAX_FILE_BYTES, refused before it was read."""


def file_too_large_reason() -> str:
  """The skip reason of files over MAX_FILE_BYTES."""
  return f"file too large (over {MAX_FILE_BYTES:,} bytes)"


def read_image_file(path: str) -> bytes:
  """The bytes of an image file; FileTooLargeError, naming `path` and the limit, when it
  holds more than MAX_FILE_BYTES. The size is checked before reading, and the read
  stops one byte past the limit (a pipe or device may report size 0)."""
  limit = MAX_FILE_BYTES
  with open(path, "rb") as handle:
    size = os.fstat(handle.fileno()).st_size
    contents = b"" if size > limit else handle.read(limit + 1)
  if size > limit or len(contents) > limit:
    raise FileTooLargeError(f"{path}: larger than {limit:,} bytes, the most an image file "
                            "may hold")
  return contents


def too_large_reason() -> str:
  """The skip reason of images over the budget (one reason, so the ledger counts them)."""
  return f"too large (over {MAX_PIXELS:,} pixels or {MAX_SIDE:,} a side)"


class SkipLedger:
  """Thread-safe record of files skipped or converted, by reason, each file once.

  tf.data runs the decoder on several threads and re-reads files every epoch;
  keeping sets of keys counts each bad file once however often it is met.
  """

  def __init__(self):
    self._lock = threading.Lock()
    self._skipped = collections.defaultdict(set)
    self._converted = collections.defaultdict(set)

  def skip(self, reason: str, key: str) -> None:
    with self._lock:
      self._skipped[reason].add(key)

  def convert(self, reason: str, key: str) -> None:
    with self._lock:
      self._converted[reason].add(key)

  def skipped_counts(self) -> dict:
    with self._lock:
      return {reason: len(keys) for reason, keys in sorted(self._skipped.items())}

  def converted_counts(self) -> dict:
    with self._lock:
      return {reason: len(keys) for reason, keys in sorted(self._converted.items())}

  def skipped_keys(self, reason: str) -> list:
    with self._lock:
      return sorted(self._skipped.get(reason, ()))

  def converted_keys(self, reason: str) -> list:
    with self._lock:
      return sorted(self._converted.get(reason, ()))


def _sniff(contents: bytes) -> str:
  """Name the container format from its magic bytes."""
  if contents[:3] == b"\xff\xd8\xff":
    return "jpeg"
  if contents[:8] == b"\x89PNG\r\n\x1a\n":
    return "png"
  if contents[:2] == b"BM":
    return "bmp"
  if contents[:4] in (b"GIF8",):
    return "gif"
  if contents[:4] == b"RIFF" and contents[8:12] == b"WEBP":
    return "webp"
  if contents[:4] in (b"II*\x00", b"MM\x00*"):
    return "tiff"
  return "unknown"


def _webp_chunks(contents: bytes):
  """(fourcc, offset of the payload, payload size) of each RIFF chunk after the WebP tag."""
  position = 12
  while position + 8 <= len(contents):
    size = int.from_bytes(contents[position + 4:position + 8], "little")
    yield contents[position:position + 4], position + 8, size
    position += 8 + size + (size & 1)  # Chunks are padded to an even size.


def _webp_is_animated(contents: bytes) -> bool:
  """True for an animated WebP: VP8X's animation flag, or any ANMF frame chunk."""
  if contents[12:16] == b"VP8X" and len(contents) > 20 and contents[20] & 0x02:
    return True
  return any(fourcc == b"ANMF" for fourcc, _, _ in _webp_chunks(contents))


def _webp_dimensions(contents: bytes) -> Optional[tuple]:
  chunk = contents[12:16]
  if chunk == b"VP8X" and len(contents) >= 30:
    return (1 + int.from_bytes(contents[24:27], "little"),
            1 + int.from_bytes(contents[27:30], "little"))
  if chunk == b"VP8L" and len(contents) >= 25:
    bits = int.from_bytes(contents[21:25], "little")
    return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
  if chunk == b"VP8 " and len(contents) >= 30:
    return (int.from_bytes(contents[26:28], "little") & 0x3FFF,
            int.from_bytes(contents[28:30], "little") & 0x3FFF)
  return None


def _color_table_size(packed: int) -> int:
  """Bytes of a GIF colour table announced by a packed-fields byte (0 when absent)."""
  return 3 << ((packed & 0x07) + 1) if packed & 0x80 else 0


def gif_layout(contents: bytes) -> Optional[tuple]:
  """((screen width, screen height), [(left, top, width, height) of every frame],
  blocks walked); the walk stops past MAX_GIF_BLOCKS blocks.

  TF's GIF decoder (giflib's DGifSlurp) expands every frame at the frame's own
  declared size, and its output is the largest frame's width x height, whatever
  the logical screen says: a 64 x 64 screen can hold a 30000 x 30000 frame. The
  frames are found by walking the blocks the way giflib does: the global colour
  table, then extension (0x21) and image (0x2C) blocks, each followed by data
  sub-blocks up to an empty one; anything else ends the walk (giflib stops there
  too). None when the file is too short for a screen descriptor.
  """
  if len(contents) < 13:
    return None
  screen = struct.unpack_from("<HH", contents, 6)
  position = 13 + _color_table_size(contents[10])
  frames, blocks = [], 0
  while position < len(contents) and blocks <= MAX_GIF_BLOCKS:
    block = contents[position]
    if block == 0x2C and position + 10 <= len(contents):
      left, top, width, height, packed = struct.unpack_from("<HHHHB", contents, position + 1)
      frames.append((left, top, width, height))
      # Descriptor, local colour table, then the LZW minimum code size byte.
      position += 10 + _color_table_size(packed) + 1
      blocks += 1
    elif block == 0x21:
      position += 2  # Introducer and label.
      blocks += 1
    else:  # The trailer (0x3B), or a byte giflib refuses.
      break
    while position < len(contents) and contents[position]:
      position += 1 + contents[position]
    position += 1
  return screen, frames, blocks


def image_dimensions(contents: bytes, kind: Optional[str] = None) -> Optional[tuple]:
  """(width, height) from the file's header, without decoding; None when unknown.

  For a GIF, the logical screen (see gif_layout for its frames)."""
  kind = kind or _sniff(contents)
  if kind == "png" and len(contents) >= 24:
    return struct.unpack(">II", contents[16:24])  # The IHDR chunk comes first.
  if kind == "gif" and len(contents) >= 10:
    return struct.unpack("<HH", contents[6:10])  # The logical screen.
  if kind == "bmp" and len(contents) >= 26:
    if struct.unpack_from("<I", contents, 14)[0] == 12:  # OS/2 core header: 16-bit sizes.
      return struct.unpack_from("<HH", contents, 18)
    width, height = struct.unpack("<ii", contents[18:26])
    return abs(width), abs(height)  # Negative height = stored top-down.
  if kind == "jpeg":
    try:
      height, width = (int(v) for v in tf.io.extract_jpeg_shape(contents)[:2])
      return width, height
    except tf.errors.InvalidArgumentError:
      return None
  if kind == "webp":
    return _webp_dimensions(contents)
  if _pil_image is not None:
    try:  # Pillow reads the header only until .load(): TIFF and anything else it knows.
      with _pil_image.open(_io.BytesIO(contents)) as pil:
        return pil.size
    except Exception:  # Not an image Pillow knows: the decoders give the reason.
      return None
  return None


def _tiff_tile_pixels(contents: bytes) -> int:
  """Pixels of one TIFF tile (0 when not tiled): libtiff allocates a whole tile however
  small the image is, and Pillow hands it the tile size the file declares."""
  if _pil_image is None:
    return 0
  try:
    with _pil_image.open(_io.BytesIO(contents)) as pil:
      tags = getattr(pil, "tag_v2", {})
      return int(tags.get(322, 0)) * int(tags.get(323, 0))  # TileWidth x TileLength.
  except Exception:  # Not a TIFF Pillow reads: the decoders give the reason.
    return 0


def _over_budget(width: int, height: int, frames: int = 1) -> bool:
  return (max(width, height) > MAX_SIDE
          or width * height * max(frames, 1) > MAX_PIXELS)


def header_refusal(contents: bytes, kind: Optional[str] = None) -> Optional[str]:
  """Why the header alone refuses `contents` (too_large_reason(), GIF_FRAME_OUTSIDE or
  gif_too_many_blocks_reason()), or None. Read before any decoder allocates: every frame a decoder expands counts."""
  kind = kind or _sniff(contents)
  if kind == "gif":
    layout = gif_layout(contents)
    if layout is None:
      return None  # Too short to be a GIF: the decoder refuses it.
    (screen_width, screen_height), frames, blocks = layout
    if blocks > MAX_GIF_BLOCKS:
      return gif_too_many_blocks_reason()
    if any(left + width > screen_width or top + height > screen_height
           for left, top, width, height in frames):
      return GIF_FRAME_OUTSIDE
    if _over_budget(screen_width, screen_height, len(frames)):
      return too_large_reason()
    return None
  dimensions = image_dimensions(contents, kind)
  if dimensions is None:
    return None  # The decoders refuse what has no readable header (Pillow checks again).
  frames = 1
  if kind == "webp":
    frames = sum(fourcc == b"ANMF" for fourcc, _, _ in _webp_chunks(contents))
  if _over_budget(*dimensions, frames):
    return too_large_reason()
  if kind == "tiff" and _tiff_tile_pixels(contents) > MAX_PIXELS:
    return too_large_reason()
  return None


def _tf_can_decode(kind: str, contents: bytes) -> bool:
  """True when TF's decoder gives correct RGB for this file."""
  if kind in ("png", "gif"):
    return True
  if kind == "webp":
    # TF 2.21's animated WebP decoder corrupts the heap ("malloc(): invalid size"),
    # killing the process: Pillow decodes those (the first frame).
    return not _webp_is_animated(contents)
  if kind == "jpeg":
    try:
      return int(tf.io.extract_jpeg_shape(contents)[2]) in (1, 3)
    except tf.errors.InvalidArgumentError:
      return False
  if kind == "bmp" and len(contents) >= 34:
    if struct.unpack_from("<I", contents, 14)[0] < 40:  # TF reads only the Windows header.
      return False
    bits = struct.unpack_from("<H", contents, 28)[0]
    compression = struct.unpack_from("<I", contents, 30)[0]
    return bits in (24, 32) and compression in (0, 3)
  return False


def _describe_conversion(kind: str, channels: int, is_16bit: bool) -> list:
  conversions = []
  if is_16bit:
    conversions.append("16-bit to 8-bit")
  if channels in (1, 2):
    conversions.append("grayscale to RGB")
  if channels in (2, 4):
    conversions.append("alpha dropped")
  return conversions


def _decode_with_tf(contents: bytes, kind: str):
  if kind == "png":
    # Bit depth is byte 24 of the IHDR chunk; TF scales 16-bit down itself.
    is_16bit = len(contents) > 24 and contents[24] == 16
    image = tf.io.decode_png(contents, channels=0).numpy()
  else:
    is_16bit = False
    image = tf.io.decode_image(contents, channels=0, expand_animations=False).numpy()
  channels = image.shape[-1]
  conversions = _describe_conversion(kind, channels, is_16bit)
  if channels in (1, 2):
    image = np.repeat(image[..., :1], 3, axis=-1)
  elif channels == 4:
    image = image[..., :3]
  return image, conversions


class _TooLarge(Exception):
  """Pillow's own header declares more than the budget (checked before .load())."""


def _decode_with_pil(contents: bytes):
  with _pil_image.open(_io.BytesIO(contents)) as pil:
    # Pillow's header, read again: files whose header our readers could not parse
    # (a JPEG TF refuses) reach here unmeasured.
    if _over_budget(*pil.size):
      raise _TooLarge()
    pil.load()
    mode = pil.mode
    conversions = []
    if mode == "CMYK":
      conversions.append("CMYK to RGB")
    elif mode in ("I;16", "I;16B", "I;16L", "I", "F"):
      conversions.append("16-bit to 8-bit")
      # Pillow's own I->RGB conversion clips instead of scaling: scale first.
      array = np.asarray(pil, dtype=np.float64)
      peak = 65535.0 if mode.startswith("I;16") else max(float(array.max()), 1.0)
      gray = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
      return np.repeat(gray[..., None], 3, axis=-1), conversions + ["grayscale to RGB"]
    elif mode in ("L", "1", "LA"):
      conversions.append("grayscale to RGB")
    elif mode in ("P", "PA"):
      conversions.append("palette to RGB")
    if "A" in mode or (mode == "P" and "transparency" in pil.info):
      conversions.append("alpha dropped")
    return np.asarray(pil.convert("RGB"), dtype=np.uint8), conversions


def decode_to_rgb(contents: bytes):
  """Decode image bytes to RGB.

  Returns:
    (image, reason, conversions): image uint8 [H, W, 3] or None; reason a short
    string when image is None ("empty file", "corrupt or truncated image",
    "unsupported format", too_large_reason() or GIF_FRAME_OUTSIDE: checked from the
    header, before decoding, see header_refusal);
    conversions the list of lossless-enough fixes applied.
  """
  if not contents:
    return None, "empty file", []
  kind = _sniff(contents)
  refusal = header_refusal(contents, kind)
  if refusal is not None:
    return None, refusal, []
  if _tf_can_decode(kind, contents) and image_dimensions(contents, kind) is not None:
    try:
      image, conversions = _decode_with_tf(contents, kind)
      return image, None, conversions
    except tf.errors.InvalidArgumentError:
      if kind in ("png", "gif", "webp", "jpeg"):
        # TF refuses truncated files Pillow would half-decode; don't let Pillow
        # paper over a corrupt image that TF recognised as such.
        return None, "corrupt or truncated image", []
  if _pil_image is None:
    if kind in ("jpeg", "bmp", "tiff"):
      return None, "unsupported format (install Pillow for CMYK JPEG, BMP variants, TIFF)", []
    return None, "unsupported format", []
  try:
    image, conversions = _decode_with_pil(contents)
    return image, None, conversions
  except _TooLarge:
    return None, too_large_reason(), []
  except Exception:  # Pillow raises many types for bad files; any of them means skip.
    return None, ("corrupt or truncated image" if kind != "unknown" else "unsupported format"), []


# EXIF orientation (tag 0x0112) -> how to turn the stored pixels upright, as numpy ops;
# the same transposes as Pillow's ImageOps.exif_transpose (tested against it).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, k=1),
}


def exif_orientation(contents: bytes) -> int:
  """The EXIF orientation of a JPEG (1 = stored upright; also for other formats, no
  EXIF, or no Pillow)."""
  if _pil_image is None or _sniff(contents) != "jpeg":
    return 1
  try:
    with _pil_image.open(_io.BytesIO(contents)) as pil:
      orientation = pil.getexif().get(0x0112, 1)
  except Exception:  # A damaged EXIF block: show the pixels as stored.
    return 1
  return orientation if orientation in _UPRIGHT else 1


def upright(pixels: np.ndarray, contents: bytes) -> np.ndarray:
  """`pixels` decoded from `contents`, turned the way the camera's EXIF orientation says
  they are meant to be seen (phones store most photos sideways and set this tag).

  Applied to photos a person edits (transfer, the photo editor), not to data sets, whose
  landmark files refer to the stored pixels.
  """
  orientation = exif_orientation(contents)
  if orientation == 1:
    return pixels
  return np.ascontiguousarray(_UPRIGHT[orientation](pixels))


class IndexedImageSource(face_source.FaceSource):
  """A FaceSource whose examples are stored images fetched by (split, index).

  Subclasses provide the per-split tables and `read_bytes`; this class decodes,
  checks, aligns (or centre-crops) and batches, counting every skip.
  """

  def __init__(self, attribute_names: Sequence[str], image_size: int,
               tables: dict, ledger: Optional[SkipLedger] = None,
               deterministic: bool = True):
    """`tables`: split -> dict(keys=[str], labels=uint8 [N, A], landmarks=float32 [N, 5, 2] or None)."""
    super().__init__(attribute_names, image_size)
    self._tables = tables
    self.ledger = ledger or SkipLedger()
    self.deterministic = deterministic
    self._unusable_lock = threading.Lock()
    self._unusable = collections.defaultdict(set)  # split -> indices that failed.

  may_skip = True

  def is_unusable(self, split: str, index: int) -> bool:
    with self._unusable_lock:
      return index in self._unusable[split]

  # Subclasses override.
  def read_bytes(self, split: str, index: int) -> Optional[bytes]:
    """Return the stored bytes of an example, or None if the file vanished."""
    raise NotImplementedError

  def keys(self, split: str) -> list:
    self.check_split(split)
    return list(self._tables[split]["keys"])

  def labels(self, split: str) -> np.ndarray:
    self.check_split(split)
    return self._tables[split]["labels"]

  def landmarks(self, split: str) -> Optional[np.ndarray]:
    return self._tables[split].get("landmarks")

  def skipped_counts(self) -> dict:
    return self.ledger.skipped_counts()

  def converted_counts(self) -> dict:
    return self.ledger.converted_counts()

  def _load(self, split: str, index: int):
    """Fetch, decode and check one example; return (uint8 [H, W, 3], ok)."""
    image, ok = self._load_checked(split, index)
    if not ok:
      with self._unusable_lock:
        self._unusable[split].add(index)
    return image, ok

  def _load_checked(self, split: str, index: int):
    table = self._tables[split]
    key = table["keys"][index]
    try:
      contents = self.read_bytes(split, index)
    except FileTooLargeError:
      self.ledger.skip(file_too_large_reason(), key)
      return np.zeros((1, 1, 3), np.uint8), False
    except Exception:  # A damaged record or unreadable file must not end a run.
      self.ledger.skip("unreadable file or record", key)
      return np.zeros((1, 1, 3), np.uint8), False
    if contents is None:
      self.ledger.skip("listed but missing", key)
      return np.zeros((1, 1, 3), np.uint8), False
    image, reason, conversions = decode_to_rgb(contents)
    if image is None:
      self.ledger.skip(reason, key)
      return np.zeros((1, 1, 3), np.uint8), False
    height, width = image.shape[:2]
    landmarks = table.get("landmarks")
    if landmarks is not None:
      points = landmarks[index]
      if (points < 0).any() or (points[:, 0] > width - 1).any() or (points[:, 1] > height - 1).any():
        self.ledger.skip("landmarks outside image", key)
        return np.zeros((1, 1, 3), np.uint8), False
      face = float(np.linalg.norm(points[1] - points[0]))
      zoom = alignment.template_pupil_distance(self.image_size) / max(face, 1e-6)
    else:
      zoom = self.image_size / min(height, width)
    if zoom * MIN_SCALE_FRACTION > 1.0:
      self.ledger.skip("too small for the image size", key)
      return np.zeros((1, 1, 3), np.uint8), False
    if zoom > 1.0:
      conversions = conversions + ["upscaled (smaller than the image size)"]
    for conversion in conversions:
      self.ledger.convert(conversion, key)
    return image, True

  def aligned_images(self, split: str, indices: tf.data.Dataset,
                     deterministic: Optional[bool] = None) -> tf.data.Dataset:
    """Map int64 indices to (uint8 [S, S, 3] aligned image, float32 labels, int64 index).

    Examples that cannot be used are filtered out here, before any batching.
    """
    self.check_split(split)
    if deterministic is None:
      deterministic = self.deterministic
    table = self._tables[split]
    all_labels = tf.constant(table["labels"], tf.float32)
    landmarks = table.get("landmarks")
    all_landmarks = None if landmarks is None else tf.constant(landmarks, tf.float32)
    size = self.image_size

    def load(index):
      image, ok = tf.py_function(lambda i: self._load(split, int(i)), [index],
                                 [tf.uint8, tf.bool])
      image.set_shape([None, None, 3])
      ok.set_shape([])
      return image, ok, index

    def finish(image, ok, index):
      del ok
      if all_landmarks is None:
        pixels = alignment.center_crop_resize(image, size)
      else:
        pixels = alignment.align(image, tf.gather(all_landmarks, index), size)
      pixels = tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8)
      pixels.set_shape([size, size, 3])
      return pixels, tf.gather(all_labels, index), index

    indices = indices.map(lambda i: tf.cast(i, tf.int64))
    images = indices.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    images = images.filter(lambda image, ok, index: ok)
    return images.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)

  def batches(self, split: str, indices: tf.data.Dataset, batch_size: int,
              deterministic: bool = True) -> tf.data.Dataset:
    def to_float(image, labels, index):
      del index
      return tf.cast(image, tf.float32) / 127.5 - 1.0, labels

    images = self.aligned_images(split, indices, deterministic)
    images = images.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return images.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
