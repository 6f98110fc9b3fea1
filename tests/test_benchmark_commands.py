"""Every benchmark is an absl command like the others: bad use is one line and exit 2.

The benchmarks are run by hand, never by the suite, so nothing else would notice one
going back to argparse (exit 2 but several lines of usage), to flags defined on import
(two benchmarks in one process then clash) or to absl's app.run alone ("FATAL Flags
parsing error", exit 1).
"""

import ast
import importlib
import pathlib

import pytest

from pipelines import usage
from tests import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCHMARK_FOLDERS = (ROOT / "elegant_tf" / "benchmarks", ROOT / "pipelines" / "benchmarks")
BENCHMARKS = sorted(path for folder in BENCHMARK_FOLDERS for path in folder.glob("*.py")
                    if path.name != "__init__.py")


def _is_main_guard(node) -> bool:
  return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
          and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
          and isinstance(node.test.comparators[0], ast.Constant)
          and node.test.comparators[0].value == "__main__")


def _call_source(node) -> str:
  return ast.unparse(node.value) if isinstance(node, ast.Expr) else ""


def command_problems(source: str, name: str) -> list:
  """What keeps the module `source` from being the absl command `name`: argparse, no
  define_flags() or main(argv), a flag defined anywhere else than in define_flags (on
  import, or inside main where no test can reach it), or a __main__ block other than
  define_flags(); usage.run(name, main)."""
  tree = ast.parse(source)
  problems = []
  for node in ast.walk(tree):
    if (isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names)
        or isinstance(node, ast.ImportFrom) and node.module == "argparse"):
      problems.append(f"line {node.lineno}: imports argparse")
  functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
  if "define_flags" not in functions:
    problems.append("no define_flags()")
  main = functions.get("main")
  if main is None or len(main.args.args) != 1 or main.args.defaults:
    problems.append("no main(argv)")
  defining = {id(node) for node in ast.walk(functions.get("define_flags", ast.Pass()))}
  for node in ast.walk(tree):
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith("DEFINE_") and id(node) not in defining):
      problems.append(f"line {node.lineno}: a flag defined outside define_flags()")
  guards = [node for node in tree.body if _is_main_guard(node)]
  calls = [_call_source(node) for node in guards[0].body] if guards else []
  if calls != ["define_flags()", f"usage.run('{name}', main)"]:
    problems.append(f"__main__ block is not define_flags(); usage.run(\"{name}\", main)")
  return problems


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.stem)
def test_every_benchmark_is_an_absl_command(path):
  assert command_problems(path.read_text(), path.stem) == []


def test_there_are_benchmarks_to_check():
  # An empty list would pass the test above; a moved folder must not do that.
  assert {"synthetic_speed", "training_speed", "machine_table"} <= {p.stem for p in BENCHMARKS}


ARGPARSE_BENCHMARK = '''
import argparse

from absl import flags


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", type=int, default=256)
  args = parser.parse_args()


if __name__ == "__main__":
  main()
'''

FLAGS_ON_IMPORT = '''
from absl import app
from absl import flags

flags.DEFINE_integer("batch", 256, "Faces per call.")


def define_flags():
  pass


def main(argv=None):
  pass


if __name__ == "__main__":
  define_flags()
  app.run(main)
'''


def test_the_check_can_fail():
  assert command_problems(ARGPARSE_BENCHMARK, "old") == [
      "line 2: imports argparse", "no define_flags()", "no main(argv)",
      "__main__ block is not define_flags(); usage.run(\"old\", main)"]
  assert command_problems(FLAGS_ON_IMPORT, "eager") == [
      "no main(argv)", "line 5: a flag defined outside define_flags()",
      "__main__ block is not define_flags(); usage.run(\"eager\", main)"]


@pytest.mark.parametrize("module, args, named", [
    ("pipelines.benchmarks.synthetic_speed", ["--batch=many"], "--batch"),
    ("pipelines.benchmarks.synthetic_speed", ["--seconds=2", "stray"], "stray"),
    ("pipelines.benchmarks.synthetic_contact_sheet", ["--layout=tilted"], "--layout"),
    ("elegant_tf.benchmarks.training_speed", ["--preset=huge"], "--preset"),
    ("elegant_tf.benchmarks.training_speed", ["--no_such_flag"], "no_such_flag"),
    ("elegant_tf.benchmarks.edit_scale", [], "--model"),
    ("elegant_tf.benchmarks.discriminator_probe", ["--model=nowhere", "--split_by=Freckles"],
     "--split_by"),
    ("elegant_tf.benchmarks.edit_scale", ["--model=nowhere", "--split_by=Freckles"],
     "--split_by"),
])
def test_bad_use_of_a_benchmark_is_one_line_and_exit_2(module, args, named, capsys):
  # What `python -m module args` runs, in this process; flags are checked before any
  # measuring starts.
  benchmark = importlib.import_module(module)
  name = module.rpartition(".")[2]

  def command():
    benchmark.define_flags()
    usage.run(name, benchmark.main)

  result = helpers.run_in_process(command, *args, capsys=capsys)
  assert result.returncode == 2, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"{name}: ") and named in lines[0], lines
  assert result.stdout == ""
