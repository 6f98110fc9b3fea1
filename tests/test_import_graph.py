"""The import graph of the project's own modules has no cycles.

A cycle (a imports b imports a) works only while someone keeps one of the
imports inside a function, and breaks as soon as that import moves to the top
of the file; it also means the two modules are one idea split in two. The
graph is read from the source with `ast`, so imports inside functions count
as much as those at the top: hiding an import in a function does not hide
the arrow.

Run as a script to print the figures (modules, arrows, levels, imports
inside functions): `python tests/test_import_graph.py [ROOT]`.
"""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("elegant_tf", "pipelines")


def project_modules(root=ROOT) -> dict:
  """{dotted module name: path} of every .py file in the project's packages."""
  modules = {}
  for package in PACKAGES:
    for path in sorted((root / package).rglob("*.py")):
      parts = path.relative_to(root).with_suffix("").parts
      if parts[-1] == "__init__":
        parts = parts[:-1]
      modules[".".join(parts)] = path
  return modules


def _imported_names(node, module: str, is_package: bool, modules=()) -> list:
  """Dotted names an import statement refers to, made absolute.

  `from a import b` names module a.b when that is one of `modules`, else
  attribute b of module a (then the arrow goes to a).
  """
  if isinstance(node, ast.Import):
    return [alias.name for alias in node.names]
  base = node.module or ""
  if node.level:
    # A package's own name is its __init__'s "current package".
    anchor = module.split(".")
    if not is_package:
      anchor = anchor[:-1]
    anchor = anchor[:len(anchor) - (node.level - 1)]
    base = ".".join(anchor + ([base] if base else []))
  return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
          for alias in node.names]


def _resolve(name: str, modules: dict):
  """The longest project module that `name` is, or is inside; else None."""
  while name and name not in modules:
    name = name.rpartition(".")[0]
  return name or None


def import_graph(modules: dict) -> tuple:
  """(arrows {module: set of modules}, [(module, line) of imports in functions])."""
  arrows = {name: set() for name in modules}
  in_functions = []
  for name, path in modules.items():
    tree = ast.parse(path.read_text(), str(path))
    nested = set()
    for node in ast.walk(tree):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        nested.update(id(sub) for sub in ast.walk(node)
                      if isinstance(sub, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
      if not isinstance(node, (ast.Import, ast.ImportFrom)):
        continue
      if id(node) in nested:
        in_functions.append((name, node.lineno))
      for target in _imported_names(node, name, path.name == "__init__.py", modules):
        target = _resolve(target, modules)
        # A package's __init__ is not an arrow to the package's own modules'
        # parent: importing pipelines.x.y runs pipelines/x/__init__ anyway.
        if target and target != name and not name.startswith(target + "."):
          arrows[name].add(target)
  return arrows, in_functions


def cycles(arrows: dict) -> list:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(arrows[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in sorted(arrows):
    if v not in index:
      visit(v)
  return found


def levels(arrows: dict) -> int:
  """Length of the longest import chain (a module importing nothing: 1)."""
  depth = {}

  def level(v, seen=()):
    if v not in depth:
      depth[v] = 1 + max((level(w, seen + (v,)) for w in arrows[v]
                          if w not in seen), default=0)
    return depth[v]

  return max(level(v) for v in arrows)


def test_no_cycles_among_project_modules():
  arrows, _ = import_graph(project_modules())
  found = cycles(arrows)
  assert not found, "import cycles: " + "; ".join(
      " <-> ".join(component) for component in found)


def test_the_check_sees_a_cycle_and_imports_inside_functions(tmp_path):
  # The check must be able to fail: a two-module cycle hidden in a function.
  package = tmp_path / "elegant_tf"
  package.mkdir()
  (tmp_path / "pipelines").mkdir()
  (package / "__init__.py").write_text("")
  (package / "a.py").write_text("from elegant_tf import b\n")
  (package / "b.py").write_text("def f():\n  from . import a\n")
  arrows, in_functions = import_graph(project_modules(tmp_path))
  assert cycles(arrows) == [["elegant_tf.a", "elegant_tf.b"]]
  assert in_functions == [("elegant_tf.b", 2)]


# Which folders a folder may not import: the layers of BUILD_NOTES' "One folder per
# idea". pipelines/ is the data layer under everything; training/ knows nothing of
# what is done with a trained model; inference/ runs models that exporting/ writes;
# apps/ use a loaded model and never build or train one.
FORBIDDEN_ARROWS = {
    "pipelines": ("elegant_tf",),
    "elegant_tf.models": ("elegant_tf.training", "elegant_tf.exporting",
                          "elegant_tf.inference", "elegant_tf.apps", "elegant_tf.evaluation"),
    "elegant_tf.training": ("elegant_tf.exporting", "elegant_tf.inference", "elegant_tf.apps",
                            "elegant_tf.evaluation"),
    "elegant_tf.inference": ("elegant_tf.exporting", "elegant_tf.apps"),
    "elegant_tf.apps": ("elegant_tf.exporting", "elegant_tf.training"),
}


def forbidden_arrows(arrows: dict) -> list:
  """["a -> b"] for every import that crosses FORBIDDEN_ARROWS."""

  def inside(module, package):
    return module == package or module.startswith(package + ".")

  found = []
  for source, targets in sorted(arrows.items()):
    for folder, banned in FORBIDDEN_ARROWS.items():
      if inside(source, folder):
        found += [f"{source} -> {target}" for target in sorted(targets)
                  if any(inside(target, b) for b in banned)]
  return found


def test_folders_import_only_the_layers_below_them():
  arrows, _ = import_graph(project_modules())
  found = forbidden_arrows(arrows)
  assert not found, "imports against the folder layers: " + "; ".join(found)


def test_the_layer_check_can_fail():
  arrows = {"elegant_tf.inference.layout": {"elegant_tf.exporting.saved_model"},
            "elegant_tf.apps.photo_edit": {"elegant_tf.inference.layout", "pipelines.markdown"},
            "pipelines.pairs": {"elegant_tf.dataclass_flags"}}
  assert forbidden_arrows(arrows) == [
      "elegant_tf.inference.layout -> elegant_tf.exporting.saved_model",
      "pipelines.pairs -> elegant_tf.dataclass_flags"]


def test_the_installed_packages_never_import_tests():
  # tests/ is not installed, so a library module that imports it works only
  # from a source checkout (benchmarks once did).
  for name, path in project_modules().items():
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.Import, ast.ImportFrom)):
        for target in _imported_names(node, name, path.name == "__init__.py"):
          assert not (target == "tests" or target.startswith("tests.")), (
              f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")


def undeclared_deferred_imports(modules: dict, root=ROOT) -> list:
  """Imports inside functions without a "Deferred" comment earlier in their function.

  Deferring an import is sometimes right (an optional dependency such as the LiteRT
  interpreter, or a benchmark that measures each step's own memory) and the comment
  says why; anything else belongs at the top of the file, where readers look.
  """
  found = []
  for name, path in modules.items():
    relative = str(path.relative_to(root))
    lines = path.read_text().split("\n")
    tree = ast.parse("\n".join(lines))
    for function in ast.walk(tree):
      if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        continue
      for node in ast.walk(function):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
          above = lines[function.lineno - 1:node.lineno]
          if not any("# deferred" in line.lower() for line in above):
            found.append(f"{relative}:{node.lineno}")
  return sorted(set(found))


def test_imports_inside_functions_say_why_they_are_deferred():
  found = undeclared_deferred_imports(project_modules())
  assert not found, "imports inside functions without a '# Deferred: why' comment: " + (
      ", ".join(found))


def test_the_deferred_check_can_fail(tmp_path):
  package = tmp_path / "pipelines"
  package.mkdir()
  (tmp_path / "elegant_tf").mkdir()
  (package / "a.py").write_text("def f():\n  import json\n\n\n"
                                "def g():\n  # Deferred: optional.\n  import csv\n")
  assert undeclared_deferred_imports(project_modules(tmp_path), tmp_path) == [
      "pipelines/a.py:2"]


def main(argv):
  root = pathlib.Path(argv[1]) if len(argv) > 1 else ROOT
  modules = project_modules(root)
  arrows, in_functions = import_graph(modules)
  print(f"modules {len(modules)}, arrows {sum(map(len, arrows.values()))}")
  found = cycles(arrows)
  print("cycles:", found or "none")
  if not found:
    print("levels:", levels(arrows))
  print(f"imports inside functions (any module): {len(in_functions)}")
  for name, line in in_functions:
    print(f"  {modules[name].relative_to(root)}:{line}")


if __name__ == "__main__":
  sys.exit(main(sys.argv))
