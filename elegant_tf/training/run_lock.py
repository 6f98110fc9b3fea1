"""One trainer per run directory: an exclusive lock on run_dir/.lock.

Two trainers on one --run_dir would both restore the same checkpoint and then
overwrite each other's checkpoints, samples and flags. `hold` takes a
non-blocking `fcntl.flock` on run_dir/.lock and writes the holder's pid and host
into it, so a second trainer fails at once saying who holds the directory. The
kernel drops the lock when its process dies, however it dies, so a stale .lock
file never blocks a later run. (flock is local to a machine on some network file
systems; the multi-worker chief is the only process that takes it.)
"""

import contextlib
import errno
import fcntl
import os
import socket

LOCK_FILE = ".lock"


class RunDirInUse(RuntimeError):
  """Another live process holds the run directory's lock."""


@contextlib.contextmanager
def hold(run_dir: str):
  """Hold run_dir's lock for the duration of the block; RunDirInUse if another has it."""
  os.makedirs(run_dir, exist_ok=True)
  path = os.path.join(run_dir, LOCK_FILE)
  # Not O_TRUNC: truncating before holding the lock would erase the holder's pid.
  handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
      if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        raise
      holder = os.pread(handle, 200, 0).decode("utf-8", "replace").strip() or "unknown pid"
      raise RunDirInUse(f"{run_dir} is in use by another trainer ({holder}); wait for it to "
                        "finish or stop it, or train into another run directory") from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
    yield
  finally:
    os.close(handle)  # Releases the lock.
