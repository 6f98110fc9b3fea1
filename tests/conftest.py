"""Test-wide setup: two logical CPU devices so MirroredStrategy can run 2 replicas; the
session's shared models, each built once and only by the tests that ask for it."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # Devices already initialised by an earlier import.
  pass


import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
  """The session's one tiny trained run, for tests that only need a trained run to look at
  or to resume: tiny.TINY trained the way `python -m elegant_tf.train` does (4 steps,
  checkpoints at steps 2 and 4), without export or end-of-run evaluation. Trained once per
  session, whatever the number of xdist workers (helpers.built_once).

  Returns {"config"}. Read it, never change it: a test that writes to the run directory
  works on tiny.copy_of_run(tiny_run, tmp_path).
  """
  from tests import helpers
  from tests.elegant_tf import tiny

  def config_in(root):
    return tiny.tiny_config(root, eval_pairs=0, export_dir=None)

  root = helpers.built_once(tmp_path_factory, "tiny_run",
                            lambda directory: tiny.train_as_command(config_in(directory)))
  return {"config": config_in(root)}


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
  """The session's tiny run exported once by the export command itself, in a subprocess
  as a user runs it: `python -m elegant_tf.export --run_dir=RUN --export_dir=DIR
  --version=7` (prototypes from the run's own data).

  Returns {"config", "export_dir", "version_dir", "stdout"}; stdout is the command's, for
  the test of the command. Read it, never change it.
  """
  from tests import helpers

  def export(directory):
    result = helpers.run_module("elegant_tf.export", f"--run_dir={tiny_run['config'].run_dir}",
                                f"--export_dir={directory / 'tiny'}", "--version=7")
    assert result.returncode == 0, result.stderr[-3000:]
    (directory / "stdout.txt").write_text(result.stdout)

  root = helpers.built_once(tmp_path_factory, "tiny_export", export)
  return {"config": tiny_run["config"], "export_dir": str(root / "tiny"),
          "version_dir": str(root / "tiny" / "7"), "stdout": (root / "stdout.txt").read_text()}


@pytest.fixture(scope="session")
def tiny_bf16_run(tmp_path_factory):
  """tiny.TINY trained 2 steps in mixed_bfloat16 the way `python -m elegant_tf.train` does,
  end-of-run export and evaluation included; once per session (helpers.built_once).

  Returns {"config", "version_dir"}; the evaluation table is run_dir/evaluation.md. Read
  it, never change it: tests that resume it work on tiny.copy_of_run(tiny_bf16_run, ...).
  """
  from tests import helpers
  from tests.elegant_tf import tiny

  def config_in(root):
    return tiny.tiny_config(root, train_steps=2, precision="mixed_bfloat16",
                            export_dir=str(root / "models" / "tiny"))

  root = helpers.built_once(tmp_path_factory, "tiny_bf16_run",
                            lambda directory: tiny.train_as_command(config_in(directory)))
  return {"config": config_in(root), "version_dir": str(root / "models" / "tiny" / "1")}


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory):
  """A tiny untrained generator (tiny.untrained_generator) exported with random presence
  and absence prototypes, training data "synthetic": the serving algebra, signatures,
  conversion and clients need no training.

  Returns {"generator", "version_dir", "prototypes", "absence_prototypes"}. Read it, never
  change it.
  """
  from tests.elegant_tf import tiny
  rng = np.random.default_rng(0)
  presence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  absence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  generator = tiny.untrained_generator()
  version_dir = tiny.untrained_export(tmp_path_factory.mktemp("untrained") / "models",
                                      prototypes=presence, training_data="synthetic",
                                      model=generator, absence_prototypes=absence)
  return {"generator": generator, "version_dir": version_dir, "prototypes": presence,
          "absence_prototypes": absence}


@pytest.fixture(scope="session")
def untrained_tflite(untrained_model, tmp_path_factory):
  """untrained_model converted to a float32 .tflite file; returns its path."""
  from elegant_tf.exporting import tflite_convert
  from pipelines import atomic_files
  path = str(tmp_path_factory.mktemp("untrained_tflite") / "float32.tflite")
  atomic_files.write_atomically(path, tflite_convert.convert(untrained_model["version_dir"],
                                                             "none"))
  return path


@pytest.fixture(scope="session")
def demo_model():
  """The committed demo model (helpers.DEMO_MODEL), loaded once; read it, never change it."""
  from elegant_tf.inference import model_loading
  from tests import helpers
  return model_loading.load(helpers.DEMO_MODEL)


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (setup.cfg): one worker per core the process may use, at most 4.

  Much of a test's time is single-threaded (Python, graph tracing, a subprocess
  importing TensorFlow), so two workers on 2 cores finish sooner than one. Each
  worker holds about 1 GB (its untrained session models are its own), hence the
  cap on machines with many cores.
  """
  return max(1, min(len(os.sched_getaffinity(0)), 4))


def pytest_collection_modifyitems(items):
  """A test that needs the trained run is slow, like the training it waits for."""
  for item in items:
    if {"tiny_run", "tiny_export", "tiny_bf16_run"} & set(getattr(item, "fixturenames", ())):
      item.add_marker(pytest.mark.slow)
