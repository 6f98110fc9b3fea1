"""Library modules raise errors that name no command-line flag.

A library's caller may be a Python program or the web page, neither of which typed a
flag; the command that knows which flag held a value adds its name
(usage.for_flag). Read with `ast`: every string constant, f-string part included,
inside a `raise` statement of a module under elegant_tf/ or pipelines/ that is not a
command (a top-level module with a `__main__` block), a benchmark or usage itself
(the commands' own machinery, whose messages are about flags).

The settings declarations (TrainConfig, ClassifierConfig) are the flags' declaration:
their `validate` lists problems as the flags the settings are declared as, and a
library given the settings raises SettingError(setting, message, value) for the
command to name the flag.
"""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAG = re.compile(r"--[A-Za-z]")
# A hint that quotes another command's whole command line names that command's flags
# on purpose ("python -m pipelines.prepare ... --image_size=256").
COMMAND_LINE = "python -m "
# Modules whose messages may still name flags, with their count, so that no new one
# joins them unnoticed. Empty since the last two (train_lib, classifier_lib) were
# rewritten (2026-12-02).
NOT_YET_REWRITTEN = {}


def is_command(tree: ast.Module, path: pathlib.Path, root: pathlib.Path) -> bool:
  top_level = len(path.relative_to(root).parts) == 2
  return top_level and any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
                           for node in tree.body)


def flag_naming_raises(source: str) -> list:
  """(line, text) of each `raise` whose message literals name a flag."""
  found = []
  for node in ast.walk(ast.parse(source)):
    if not isinstance(node, ast.Raise) or node.exc is None:
      continue
    texts = [sub.value for sub in ast.walk(node.exc)
             if isinstance(sub, ast.Constant) and isinstance(sub.value, str)]
    if any(COMMAND_LINE in text for text in texts):
      continue
    named = [text for text in texts if FLAG.search(text)]
    if named:
      found.append((node.lineno, named[0]))
  return found


def library_modules(root=ROOT) -> dict:
  """{relative path: source} of the library modules."""
  modules = {}
  for package in ("elegant_tf", "pipelines"):
    for path in sorted((root / package).rglob("*.py")):
      relative = path.relative_to(root).as_posix()
      source = path.read_text(encoding="utf-8")
      if ("/benchmarks/" in relative or relative == "pipelines/usage.py"
          or is_command(ast.parse(source), path, root)):
        continue
      modules[relative] = source
  return modules


def test_library_errors_name_no_flag():
  problems = []
  for relative, source in library_modules().items():
    found = flag_naming_raises(source)
    if len(found) != NOT_YET_REWRITTEN.get(relative, 0):
      problems += [f"{relative}:{line}: {text!r}" for line, text in found] or [
          f"{relative}: fewer flag-naming raises than listed; lower NOT_YET_REWRITTEN"]
  assert not problems, "\n".join(problems)


def test_the_check_finds_flags_in_plain_and_f_string_messages():
  sample = '''
def f(path, mode):
  if not path:
    raise ValueError("--model is required")
  raise usage.UsageError(f"{path}: --mode={mode} is unknown")
'''
  assert sorted(line for line, _ in flag_naming_raises(sample)) == [4, 5]
  assert flag_naming_raises('raise ValueError(f"{path} is not a model; a - b -- 3")') == []
  assert flag_naming_raises(
      'raise ValueError("run python -m pipelines.prepare --out=DIR first")') == []
