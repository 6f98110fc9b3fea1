"""Every network and layer of the project goes through model_checks.run_layer_test.

Found by reading the source: each Keras Layer/Model subclass defined in
elegant_tf/ and each builder listed in BUILDERS must appear in the first
argument of some run_layer_test call under tests/. A new network without the
shared checks fails here.
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil

import keras

import elegant_tf

TESTS = pathlib.Path(__file__).resolve().parents[1]
# Functions that return a network rather than a class that is one.
BUILDERS = ("downsampling_block", "build_classifier")
# A keras.Model only so that training can use fit(); it has no call of its own to
# check, and training/test_gan_trainer.py runs its train steps.
NOT_NETWORKS = ("ElegantGAN",)


def project_networks() -> set:
  names = set(BUILDERS)
  for info in pkgutil.walk_packages(elegant_tf.__path__, "elegant_tf."):
    if ".benchmarks" in info.name or info.ispkg:
      continue
    module = importlib.import_module(info.name)
    for name, value in vars(module).items():
      if (inspect.isclass(value) and value.__module__ == module.__name__
          and issubclass(value, keras.layers.Layer)):
        names.add(name)
  return names


def names_under_shared_checks() -> set:
  names = set()
  for path in TESTS.rglob("test_*.py"):
    for node in ast.walk(ast.parse(path.read_text())):
      if (isinstance(node, ast.Call) and node.args
          and ast.unparse(node.func).endswith("run_layer_test")):
        names.update(n.attr if isinstance(n, ast.Attribute) else n.id
                     for n in ast.walk(node.args[0])
                     if isinstance(n, (ast.Attribute, ast.Name)))
  return names


def test_every_network_and_layer_runs_the_shared_checks():
  missing = sorted(project_networks() - names_under_shared_checks() - set(NOT_NETWORKS))
  assert not missing, f"not checked by model_checks.run_layer_test: {missing}"
