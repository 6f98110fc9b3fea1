"""Every command has a console script, and the script runs what `python -m` runs.

A console script calls `module:function` with no arguments; `python -m module`
runs the module's `if __name__ == "__main__":` block. The two stay the same
command only if that block calls the same function, which this checks in the
source, without importing TensorFlow.
"""

import ast
import configparser
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def commands() -> list:
  """The command modules: every top-level module of elegant_tf/ and pipelines/ that
  `python -m` can run (benchmarks and tools below them are run with `python -m` only)."""
  found = []
  for package in ("elegant_tf", "pipelines"):
    for path in sorted((ROOT / package).glob("*.py")):
      if main_block_calls(f"{package}.{path.stem}"):
        found.append(f"{package}.{path.stem}")
  return found


def console_scripts() -> dict:
  config = configparser.ConfigParser()
  config.read(ROOT / "setup.cfg")
  scripts = {}
  for line in config["options.entry_points"]["console_scripts"].strip().splitlines():
    name, target = (part.strip() for part in line.split("="))
    scripts[name] = target
  return scripts


def main_block_calls(module: str) -> set:
  """Names of the functions the module's `if __name__ == "__main__":` block calls."""
  path = ROOT / (module.replace(".", "/") + ".py")
  for node in ast.parse(path.read_text()).body:
    if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
      return {call.func.id for call in ast.walk(node)
              if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)}
  return set()


def test_every_command_has_a_script():
  found = commands()
  assert {"elegant_tf.train", "pipelines.inspect", "pipelines.prepare"} <= set(found)
  targets = set(console_scripts().values())
  for command in found:
    assert any(target.startswith(f"{command}:") for target in targets), command


@pytest.mark.parametrize("name, target", sorted(console_scripts().items()))
def test_script_runs_what_python_m_runs(name, target):
  module, function = target.split(":")
  assert function in main_block_calls(module), (
      f"{name} calls {target}, but `python -m {module}` does not")
  assert callable(getattr(importlib.import_module(module), function))
