"""The one way a command says "bad use": UsageError, one line on stderr, exit status 2.

Libraries raise UsageError (or a subclass such as train_config.ConfigError) for
problems the user can fix by changing a flag or a file; they never print or
exit. Each command's entry point goes through `run`, which turns a UsageError
raised anywhere below it into `<command>: <message>` and exit status 2, so
every command fails the same way and scripts can tell bad use (2) from a crash (1).
"""

import sys
from typing import Callable, Optional, Sequence

from absl import app


class UsageError(ValueError):
  """Bad use of a command: a wrong flag, file or combination. Exit status 2."""


def fail(command: str, error) -> None:
  """Report `error` in one line and exit 2."""
  # A message listing several problems, one per line ("invalid settings:\n  a\n  b"),
  # becomes "invalid settings: a; b".
  lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [repr(error)]
  message = lines[0] + (" " + "; ".join(lines[1:]) if len(lines) > 1 else "")
  print(f"{command}: {message}", file=sys.stderr)
  sys.exit(2)


def check_no_arguments(argv: Sequence[str]) -> None:
  """Commands take flags only; a stray word is usually a mistyped flag."""
  if len(argv) > 1:
    raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def run(command: str, main: Callable, argv: Optional[list] = None) -> None:
  """absl's app.run(main), with a UsageError from `main` reported by `fail`."""

  def guarded(args):
    try:
      return main(args)
    except UsageError as error:
      fail(command, error)

  app.run(guarded, argv=argv)
