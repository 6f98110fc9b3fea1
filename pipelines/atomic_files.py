"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Everything a run or a command leaves behind (flags.txt, evaluation and result
tables, PNGs, TFLite files, the inspect sheet) goes through `atomic_open`: the
content is written to a temporary file in the same folder (a rename is only
atomic within one file system), flushed and fsynced, then renamed over the
target. A crash or an exception mid-write leaves the previous file untouched and
no temporary behind. Lives in `pipelines` because both packages use it and
`pipelines` does not import `elegant_tf`.
"""

import contextlib
import os
import tempfile

from PIL import Image

# Prefix of the temporary files; hidden, and recognisably ours if a kill -9 leaves one.
TEMPORARY_PREFIX = ".incomplete-"


# The one rule of every command's output flags (--out, --sheet, ...): missing folders
# are created, as by `mkdir -p`; say so in the flag's help.
MISSING_FOLDERS_HELP = "missing folders are created"


def check_writable(path: str) -> None:
  """ValueError, naming `path`, when a file could not be written there: a file stands
  where a folder must be, or the nearest existing folder is not writable. Checked
  before a command's slow part, so nothing is computed to be thrown away. Missing
  folders are fine: atomic_path creates them."""
  folder = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(folder):
    folder = os.path.dirname(folder)
  if not os.path.isdir(folder):
    raise ValueError(f"cannot write {path}: {folder} is a file, not a folder")
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ValueError(f"cannot write {path}: folder {folder} is not writable")


def check_output_file(path: str, kind: str) -> None:
  """ValueError, naming `path`, when it cannot become an output file: it is a folder
  ("give {kind} file name", e.g. kind "a .png"), or check_writable refuses it. The one
  check of every command's output-file flag, before its slow part; the command adds the
  flag's name."""
  if os.path.isdir(path):
    raise ValueError(f"{path} is a directory; give {kind} file name")
  check_writable(path)


@contextlib.contextmanager
def atomic_path(path: str):
  """Yield a temporary path next to `path`; when the block succeeds, the file written
  there is fsynced and renamed onto `path`. On an exception it is removed and `path`
  is left as it was. For writers that want a file name (Keras' model.save)."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  # Same extension: some writers (Keras, Pillow) choose the format by it.
  handle, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX,
                                       suffix=os.path.splitext(path)[1])
  os.close(handle)
  try:
    yield temporary
    with open(temporary, "rb+") as f:
      os.fsync(f.fileno())
    # mkstemp creates 0600 files; give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(temporary)
    raise
  _fsync_directory(directory)


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", newline: str = None):
  """Open a temporary file next to `path` for writing ("w": UTF-8 text, or "wb"); it
  replaces `path` when the block succeeds (see atomic_path). `newline` as open()'s."""
  if mode not in ("w", "wb"):
    raise ValueError(f"atomic_open mode must be 'w' or 'wb', not {mode!r}")
  text = {"encoding": "utf-8", "newline": newline} if mode == "w" else {}
  with atomic_path(path) as temporary:
    with open(temporary, mode, **text) as f:
      yield f


def _fsync_directory(directory: str) -> None:
  """Make the rename itself durable (best effort: not every platform can open a folder)."""
  try:
    handle = os.open(directory, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(handle)
  except OSError:
    pass
  finally:
    os.close(handle)


def write_atomically(path: str, content) -> None:
  """Write `content` (str or bytes) to `path` atomically."""
  with atomic_open(path, "wb" if isinstance(content, bytes) else "w") as f:
    f.write(content)


def write_png_atomically(path: str, pixels) -> None:
  """Write uint8 [H, W, 3] (or [H, W]) pixels to `path` as a PNG, atomically."""
  with atomic_open(path, "wb") as f:
    Image.fromarray(pixels).save(f, format="PNG")


# Photos go back out as JPEG at this quality: high enough that the untouched pixels do
# not visibly degrade (they are re-encoded), still a tenth of a PNG's size.
JPEG_QUALITY = 95


def write_jpeg_atomically(path: str, pixels) -> None:
  """Write uint8 [H, W, 3] pixels to `path` as a JPEG (JPEG_QUALITY), atomically."""
  with atomic_open(path, "wb") as f:
    Image.fromarray(pixels).save(f, format="JPEG", quality=JPEG_QUALITY)
