"""The one way a command says "bad use": UsageError, one line on stderr, exit status 2.

Libraries raise a subclass of UsageError named for what went wrong (such as
train_config.ConfigError, layout.ModelFileError, data_spec.DataSpecError) for
problems the user can fix by changing a flag or a file; they never print or
exit, and their messages name the value, never a flag: a Python caller or the
web page typed no flag. A command that knows which flag held the value catches
the specific type and adds the flag name (`for_flag`).

Each command's entry point goes through `run`, which turns a UsageError
raised anywhere below it into `<command>: <message>` and exit status 2, so
every command fails the same way and scripts can tell bad use (2) from a crash (1).
absl's own flag errors (an unknown flag, a value of the wrong type or outside
an enum, a required flag left out, a failed validator) take the same road:
absl alone would print "FATAL Flags parsing error" and exit 1, like a crash.
Anything else keeps its traceback.

It lives in pipelines/, the base package (which imports nothing from elegant_tf),
so the data commands (prepare, inspect) and the benchmarks take the same road.
"""

import os
import sys
from typing import Callable, Optional, Sequence

from absl import app
from absl import flags


class UsageError(ValueError):
  """Bad use of a command: a wrong flag, file or combination. Exit status 2."""


def for_flag(name: str, error: Exception, value=None) -> UsageError:
  """The UsageError a command raises for a library's `error` about the value of --name:
  `--name=value: <message>`, or `--name: <message>` when the message names the value.
  Libraries speak of values (a path, a mode); only the command knows the flag."""
  flag = f"--{name}" if value is None else f"--{name}={value}"
  return UsageError(f"{flag}: {error}")


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


def require_flags(*names: str) -> None:
  """The one way a command declares required flags: absl's required mark (no value is an
  error) plus a refusal of an empty value (`--out=`), which absl's mark lets through and
  which would otherwise name the current folder or fall back to a default."""
  flags.mark_flags_as_required(list(names))
  for name in names:
    flags.register_validator(name, lambda value: value != "", f"--{name} must not be empty")


def check_not_overwriting(paths: Sequence[str], overwrite: bool) -> None:
  """The one overwrite rule of every command: a UsageError when an output exists and
  --overwrite was not given (checked before the slow part, so nothing is lost)."""
  if overwrite:
    return
  existing = [path for path in paths if os.path.exists(path)]
  if existing:
    more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
    raise UsageError(f"{existing[0]}{more} exists; pass --overwrite to replace it")


def _flagfile_names(args: Sequence[str]) -> list:
  """The file names of the --flagfile directives among `args`, in order."""
  names = []
  for k, arg in enumerate(args):
    if arg == "--":  # absl reads no flags after it.
      break
    if arg.startswith(("--flagfile=", "-flagfile=")):
      names.append(arg.split("=", 1)[1])
    elif arg in ("--flagfile", "-flagfile") and k + 1 < len(args):
      names.append(args[k + 1])
  return names


def check_flagfiles(args: Sequence[str], including: tuple = ()) -> None:
  """UsageError for a --flagfile that cannot be read or that includes itself, directly
  or through others. absl only warns "Ignoring flagfile" for the second and goes on
  without that file's flags: a training run would start with the defaults."""
  for name in _flagfile_names(args):
    path = os.path.realpath(os.path.expanduser(name))
    if path in including:
      chain = " -> ".join(list(including[including.index(path):]) + [path])
      raise UsageError(f"--flagfile={name} includes itself ({chain})")
    try:
      with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as error:
      reason = getattr(error, "strerror", None) or "not a UTF-8 text file"
      raise UsageError(f"--flagfile={name}: cannot read it ({reason})") from error
    check_flagfiles([line for line in lines if line and not line.startswith("#")],
                    including + (path,))


def run(command: str, main: Callable, argv: Optional[list] = None) -> None:
  """absl's app.run(main), with a UsageError from `main`, or from the --flagfiles
  (check_flagfiles, before absl reads them), reported by `fail`."""
  try:
    check_flagfiles((sys.argv if argv is None else argv)[1:])
  except UsageError as error:
    fail(command, error)

  def guarded(args):
    try:
      return main(args)
    except UsageError as error:
      fail(command, error)

  def parse_flags(args):
    try:
      return flags.FLAGS(args)
    except flags.Error as error:
      fail(command, error)

  app.run(guarded, argv=argv, flags_parser=parse_flags)
