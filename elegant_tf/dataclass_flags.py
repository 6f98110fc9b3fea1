"""Settings declared once, as dataclass fields, and the absl flags derived from them.

A command's settings are a frozen dataclass that inherits FlagSettings and makes
each field with `setting(default, help, ...)`: the field's type, default, help,
choices, bounds and whether a resumed run may change it sit in one place. From
that declaration come the absl flags (`define_flags`), the dataclass built from
parsed flags (`from_flag_values`), a flagfile that reproduces it (`to_flagfile`)
and the reading of such a file back through absl's own flagfile parser
(`from_flagfile`), so a flag and its field cannot drift apart.

Field types map to flags: bool -> DEFINE_bool (--name / --noname), int, float,
str (DEFINE_enum when it has choices), tuple[str, ...] -> DEFINE_list (a comma
list). Optional[str] and Optional[tuple] fields take None from an empty flag
(`--export_dir=`), the way the commands have always spelled "none".
"""

import dataclasses
import typing
from typing import Optional, Sequence

from absl import flags

from pipelines import usage

# The flags defined below belong to the module that asks for them (train.py, say),
# so absl's --help lists them under that command rather than under this helper.
flags.disclaim_key_flags()

FLAGFILE_HEADER = "# Resolved flags of this run; `--flagfile` this file to reproduce it."


class ConfigError(usage.UsageError):
  """A setting (or the data it names) cannot work; raised before any work starts.

  A UsageError, so every command reports it the same way (one line, exit 2).
  """


class SettingError(ConfigError):
  """A ConfigError about the value of one setting, raised by a library that was given
  the settings (train_lib): its message speaks of the value, `setting` names the field,
  and the command adds the flag (`usage.for_flag(error.setting, error, error.value)`).

  value: the setting's value, for a message that does not already show it; else None.
  """

  def __init__(self, setting: str, message: str, value=None):
    super().__init__(message)
    self.setting = setting
    self.value = value


def setting(default, help: str, *, choices: Optional[Sequence[str]] = None,
            at_least=None, positive: bool = False, resumable: bool = False,
            **uses) -> dataclasses.Field:
  """A dataclass field carrying everything its flag needs.

  choices: the allowed values of a str field (absl's enum; `value_problems` checks
    them too, for a dataclass built in Python).
  at_least / positive: a bound on a number, checked by `value_problems`.
  resumable: a resumed run may change this setting (see `resumable_fields`).
  uses: further metadata for the code that consumes the field (e.g. which
    LossWeights field a training setting fills).
  """
  metadata = dict(uses, help=help, choices=tuple(choices) if choices else None,
                  at_least=at_least, positive=positive, resumable=resumable)
  return dataclasses.field(default=default, metadata=metadata)


def _kind(annotation) -> tuple:
  """(base type, optional?) of a field annotation: int, Optional[str], tuple[str, ...]..."""
  optional = False
  if typing.get_origin(annotation) is typing.Union:
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    annotation, optional = members[0], True
  return typing.get_origin(annotation) or annotation, optional


class FlagSettings:
  """Mix-in for a frozen dataclass whose fields are made by `setting`."""

  @classmethod
  def _kinds(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {field.name: _kind(hints[field.name]) for field in dataclasses.fields(cls)}

  @classmethod
  def define_flags(cls, flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Define one absl flag per field on `flag_values`, with the field's default and help."""
    kinds = cls._kinds()
    for field in dataclasses.fields(cls):
      kind, _ = kinds[field.name]
      help_text, choices = field.metadata["help"], field.metadata["choices"]
      common = dict(flag_values=flag_values)
      if kind is bool:
        flags.DEFINE_bool(field.name, field.default, help_text, **common)
      elif kind is int:
        flags.DEFINE_integer(field.name, field.default, help_text, **common)
      elif kind is float:
        flags.DEFINE_float(field.name, field.default, help_text, **common)
      elif kind is tuple:
        default = None if field.default is None else list(field.default)
        flags.DEFINE_list(field.name, default, help_text, **common)
      elif kind is str and choices:
        flags.DEFINE_enum(field.name, field.default, list(choices), help_text, **common)
      elif kind is str:
        flags.DEFINE_string(field.name, field.default, help_text, **common)
      else:
        raise TypeError(f"{cls.__name__}.{field.name}: no flag type for {kind!r}")

  @classmethod
  def from_flag_values(cls, flag_values: flags.FlagValues = flags.FLAGS):
    """The dataclass of the parsed flags (`define_flags` defined them)."""
    values = {}
    for name, (kind, optional) in cls._kinds().items():
      value = flag_values[name].value
      if optional and not value:
        value = None  # An empty flag means "none".
      elif kind is tuple:
        value = tuple(value)
      values[name] = value
    return cls(**values)

  def to_flagfile(self, header: str = FLAGFILE_HEADER) -> str:
    """Flagfile text that reproduces these settings (`--flagfile=` it), one flag a line,
    in declaration order, each written by its own absl flag."""
    flag_values = flags.FlagValues()
    self.define_flags(flag_values)
    lines = [header]
    for name, (kind, _) in self._kinds().items():
      value = getattr(self, name)
      if value is None:
        value = [] if kind is tuple else ""  # Written `--name=`: read back as None.
      flag = flag_values[name]
      flag.value = list(value) if kind is tuple else value
      lines.append(flag.serialize())
    return "\n".join(lines) + "\n"

  @classmethod
  def from_flagfile(cls, path: str):
    """Read a flagfile (a run's flags.txt) with absl's parser into fresh flags built from
    the declaration; ConfigError, one line naming the file, for anything it cannot use."""
    flag_values = flags.FlagValues()
    cls.define_flags(flag_values)
    try:
      unparsed = flag_values(["flagfile", f"--flagfile={path}"])
    except flags.CantOpenFlagFileError as error:
      reason = getattr(error.__context__, "strerror", None) or error  # absl wraps the OSError.
      raise ConfigError(f"{path}: cannot read it ({reason})") from error
    except flags.Error as error:
      raise ConfigError(f"{path}: {error}") from error
    if len(unparsed) > 1:
      raise ConfigError(f"{path}: not a flag: {unparsed[1][:60]!r}")
    return cls.from_flag_values(flag_values)

  @classmethod
  def resumable_fields(cls) -> frozenset:
    """Names of the settings declared `resumable`."""
    return frozenset(field.name for field in dataclasses.fields(cls)
                     if field.metadata["resumable"])

  def value_problems(self) -> list:
    """One message per field outside its declared choices or bounds.

    absl already refuses a bad choice on the command line and in a flagfile; the
    dataclass is also built directly in Python (tests, benchmarks, notebooks), where
    nothing else would check it, so the choices are checked here too, from the same
    declaration.
    """
    problems = []
    for field in dataclasses.fields(self):
      value, meta = getattr(self, field.name), field.metadata
      if meta["choices"] and value not in meta["choices"]:
        problems.append(f"--{field.name}={value!r}; valid: {', '.join(meta['choices'])}")
      elif meta["at_least"] is not None and value < meta["at_least"]:
        bound = f"at least {meta['at_least']}" if meta["at_least"] else ">= 0"
        problems.append(f"--{field.name}={value} must be {bound}")
      elif meta["positive"] and not value > 0:
        problems.append(f"--{field.name}={value} must be positive")
    return problems
