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

# Prefix of the temporary files; hidden, and recognisably ours if a kill -9 leaves one.
TEMPORARY_PREFIX = ".incomplete-"


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w"):
  """Open a temporary file next to `path` for writing; rename it onto `path` on success.

  mode: "w" (text, UTF-8) or "wb". Parent folders are created. On an exception
  the temporary file is removed and `path` is left as it was.
  """
  if mode not in ("w", "wb"):
    raise ValueError(f"atomic_open mode must be 'w' or 'wb', not {mode!r}")
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  suffix = os.path.splitext(path)[1]  # Some writers (Pillow) look at the extension.
  handle, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX, suffix=suffix)
  try:
    with os.fdopen(handle, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
      yield f
      f.flush()
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
  from PIL import Image  # Only the PNG writers need Pillow.
  with atomic_open(path, "wb") as f:
    Image.fromarray(pixels).save(f, format="PNG")
