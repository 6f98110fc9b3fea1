"""Test-wide setup: two logical CPU devices so MirroredStrategy can run 2 replicas."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # Devices already initialised by an earlier import.
  pass


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
  """The session's one tiny trained run, for tests that only need a trained run or its
  export to look at: tiny.TINY trained the way `python -m elegant_tf.train` does (4 steps,
  checkpoints at steps 2 and 4, no end-of-run evaluation), exported with prototypes.

  Returns {"config", "version_dir"}. Read it, never change it: a test that writes to the
  run directory works on tiny.copy_of_run(tiny_run, tmp_path).
  """
  from tests.elegant_tf import tiny
  root = tmp_path_factory.mktemp("tiny_run")
  config = tiny.tiny_config(root, eval_pairs=0, export_dir=str(root / "models" / "tiny"))
  result = tiny.train_as_command(config)
  return {"config": config, "version_dir": result["export"]}


def pytest_collection_modifyitems(items):
  """A test that needs the trained run is slow, like the training it waits for."""
  for item in items:
    if "tiny_run" in getattr(item, "fixturenames", ()):
      item.add_marker(pytest.mark.slow)
