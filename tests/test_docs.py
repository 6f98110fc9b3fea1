"""The documentation names only commands, flags and files that exist.

Reads README.md, docs/**/*.md, BUILD_NOTES.md and saved_models/README.md as text
and checks, without importing TensorFlow (a few hundred milliseconds):

- README.md starts with the two one-line commands (install and train the demo;
  install and test, which .ci/run runs);
- every `python -m MODULE` is importable (importlib.util.find_spec) and, for a
  module of this repository, runs something when executed (`__main__` block);
- every `--flag` written after `python -m MODULE` on the same command (a code
  block line with its `\\` continuations, or one inline code span) is defined
  by that module: `flags.DEFINE_*("name"` or `add_argument("--name"` in its
  source, the fields of a settings dataclass whose flags it derives
  (`module.SomeConfig.define_flags(`, read from that class's source), plus
  absl's own flags for absl commands;
- every relative link `[text](path)` or `![alt](path)` resolves to a file or
  folder, and its `#anchor`, if any, to a heading of the target Markdown file.
"""

import ast
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

DOC_FILES = sorted(
    [ROOT / "README.md", ROOT / "BUILD_NOTES.md", ROOT / "saved_models" / "README.md"]
    + list((ROOT / "docs").rglob("*.md")))

# Files whose commands and flags are checked: all of them.
COMMAND_FILES = DOC_FILES

# The README's first two commands: what a newcomer runs, and what .ci/run runs.
FIRST_COMMANDS = (
    'pip install -e ".[cpu]" && python -m elegant_tf.train --flagfile=elegant_tf/configs/demo.flags',
    'pip install -e ".[cpu,test]" && python -m pytest -q',
)

# Flags absl defines for every absl.app program.
ABSL_FLAGS = {"flagfile", "undefok", "help", "helpfull", "helpshort", "helpxml",
              "only_check_args", "pdb", "pdb_post_mortem", "run_with_pdb",
              "run_with_profiling", "profile_file", "use_cprofile_for_profiling",
              "logtostderr", "alsologtostderr", "log_dir", "verbosity", "v",
              "stderrthreshold", "showprefixforinfo", "logger_levels"}

_DEFINE = re.compile(r"""flags\.DEFINE_\w+\(\s*["']([A-Za-z0-9_]+)["']""")
_COMMAND = re.compile(r"python3? -m ([A-Za-z_][\w.]*)(.*)")
_FLAG = re.compile(r"(?<![\w-])--([A-Za-z][\w-]*)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _command_lines(text: str):
  """Yields (line number, command text) for every line or span holding `python -m`.

  Code blocks: a line and its backslash continuations form one command. Prose:
  each inline code span is one command.
  """
  lines = text.splitlines()
  in_block = False
  i = 0
  while i < len(lines):
    line = lines[i]
    if line.lstrip().startswith("```"):
      in_block = not in_block
      i += 1
      continue
    if in_block:
      start = i
      joined = line
      while joined.rstrip().endswith("\\") and i + 1 < len(lines):
        i += 1
        joined = joined.rstrip()[:-1] + " " + lines[i]
      if "python" in joined and " -m " in joined:
        yield start + 1, joined
    else:
      for span in re.findall(r"`([^`]+)`", line):
        if " -m " in span:
          yield i + 1, span
    i += 1
  # An inline span broken over two prose lines.
  for match in re.finditer(r"`([^`\n]*\n[^`\n]*)`", text):
    if " -m " in match.group(1):
      yield text.count("\n", 0, match.start()) + 1, match.group(1).replace("\n", " ")


def _commands(path: pathlib.Path):
  """Yields (line, module, [flags]) for every `python -m` command in a file."""
  for line_number, command in _command_lines(path.read_text()):
    for match in _COMMAND.finditer(command):
      if match.group(1).endswith(".") or match.group(2).startswith("<"):
        continue  # a placeholder such as `python -m elegant_tf.<command>`
      rest = match.group(2)
      # The command ends at a shell separator or a comment.
      rest = re.split(r"\s(?:&&|\|\||\||;|&|#)(?:\s|$)|\spython3? -m\s", rest + " ")[0]
      yield line_number, match.group(1), _FLAG.findall(rest)


def _module_source(module: str) -> pathlib.Path | None:
  spec = importlib.util.find_spec(module)
  if spec is None or spec.origin is None:
    return None
  return pathlib.Path(spec.origin)


def _is_ours(module: str) -> bool:
  return module.split(".")[0] in ("elegant_tf", "pipelines")


def _derived_flags(source: str) -> set[str]:
  """The field names of the settings dataclasses whose flags `source` derives with
  `alias.SomeConfig.define_flags(...)` (dataclass_flags), read from the class's source."""
  tree = ast.parse(source)
  modules = {alias.asname or alias.name: f"{node.module}.{alias.name}"
             for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             for alias in node.names}
  names = set()
  for node in ast.walk(tree):
    function = getattr(node, "func", None)
    if not (isinstance(function, ast.Attribute) and function.attr == "define_flags"
            and isinstance(function.value, ast.Attribute)
            and isinstance(function.value.value, ast.Name)):
      continue
    class_name, module = function.value.attr, modules[function.value.value.id]
    for definition in ast.parse(_module_source(module).read_text()).body:
      if isinstance(definition, ast.ClassDef) and definition.name == class_name:
        names |= {statement.target.id for statement in definition.body
                  if isinstance(statement, ast.AnnAssign)}
  return names


def _defined_flags(module: str) -> set[str]:
  """The flags a command of this repository defines, read from its source."""
  source = _module_source(module).read_text()
  names = set(_DEFINE.findall(source)) | _derived_flags(source)
  if "absl" in source:
    names |= ABSL_FLAGS
  return names


def _all_commands():
  for path in COMMAND_FILES:
    for line_number, module, flags in _commands(path):
      yield f"{path.relative_to(ROOT)}:{line_number}", module, flags


def test_the_readme_starts_with_the_two_commands():
  text = (ROOT / "README.md").read_text()
  first_block = text.split("```", 2)[1]
  commands = [line for line in first_block.splitlines()[1:] if line.strip()]
  assert tuple(commands[:2]) == FIRST_COMMANDS
  assert FIRST_COMMANDS[1].split(" && ")[1] in (ROOT / ".ci" / "run").read_text()


def test_the_docs_name_commands():
  found = list(_all_commands())
  # The reader guide must keep giving commands; an empty parse means a broken parser.
  assert len(found) >= 20, found
  assert any(module == "elegant_tf.train" for _, module, _ in found)


@pytest.mark.parametrize("where,module,flags", list(_all_commands()),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_command_exists_and_defines_its_flags(where, module, flags):
  spec = importlib.util.find_spec(module)
  assert spec is not None, f"{where}: `python -m {module}`: no such module"
  if not _is_ours(module):
    return
  source = _module_source(module).read_text()
  assert 'if __name__ == "__main__":' in source, (
      f"{where}: `python -m {module}` has no __main__ block")
  defined = _defined_flags(module)
  unknown = sorted({f for f in flags if f not in defined and f.replace("-", "_") not in defined})
  assert not unknown, f"{where}: `python -m {module}` defines no flag " + ", ".join(
      "--" + f for f in unknown)


def _slug(heading: str) -> str:
  """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
  text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
  text = text.strip().lower()
  text = re.sub(r"[^\w\- ]", "", text)
  return text.replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
  anchors, in_block = set(), False
  for line in path.read_text().splitlines():
    if line.lstrip().startswith("```"):
      in_block = not in_block
    elif not in_block and (match := _HEADING.match(line)):
      slug = _slug(match.group(1))
      n = 1
      candidate = slug
      while candidate in anchors:
        candidate = f"{slug}-{n}"
        n += 1
      anchors.add(candidate)
  return anchors


def _links():
  for path in DOC_FILES:
    in_block = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
      if line.lstrip().startswith("```"):
        in_block = not in_block
        continue
      if in_block:
        continue
      for target in _LINK.findall(line):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
          continue
        yield f"{path.relative_to(ROOT)}:{number}", path, target


def test_the_docs_have_links():
  assert len(list(_links())) >= 10


@pytest.mark.parametrize("where,path,target", list(_links()),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_relative_link_resolves(where, path, target):
  file_part, _, anchor = target.partition("#")
  resolved = (path.parent / file_part).resolve() if file_part else path
  assert resolved.exists(), f"{where}: link to {target}: no such file"
  assert ROOT in resolved.parents or resolved == ROOT, f"{where}: {target} leaves the repository"
  if anchor and resolved.suffix == ".md":
    assert anchor in _anchors(resolved), (
        f"{where}: link to {target}: {resolved.name} has no heading with anchor #{anchor}")
