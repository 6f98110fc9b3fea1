"""tests/helpers.py: building a session model once for all pytest-xdist workers (built_once)."""

import shutil
import uuid

import pytest

from tests import helpers


@pytest.fixture
def as_xdist_worker(monkeypatch, tmp_path_factory):
  """Run as xdist worker gw9 would; yields a folder name unique to this test, removed after."""
  monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw9")
  name = f"built_once_{uuid.uuid4().hex}"
  yield name
  shared = tmp_path_factory.getbasetemp().parent
  shutil.rmtree(shared / name, ignore_errors=True)
  (shared / f"{name}.lock").unlink(missing_ok=True)


def test_a_shared_directory_is_built_once_and_then_read(tmp_path_factory, as_xdist_worker):
  calls = []

  def build(directory):
    calls.append(directory)
    (directory / "weights").write_text("1")

  first = helpers.built_once(tmp_path_factory, as_xdist_worker, build)
  second = helpers.built_once(tmp_path_factory, as_xdist_worker, build)
  assert first == second and calls == [first]
  assert (second / "weights").read_text() == "1"


def test_a_failed_build_is_built_again_from_nothing(tmp_path_factory, as_xdist_worker):
  def broken(directory):
    (directory / "half_written").write_text("x")
    raise RuntimeError("build failed")

  with pytest.raises(RuntimeError, match="build failed"):
    helpers.built_once(tmp_path_factory, as_xdist_worker, broken)
  directory = helpers.built_once(tmp_path_factory, as_xdist_worker,
                                  lambda d: (d / "weights").write_text("2"))
  assert sorted(p.name for p in directory.iterdir()) == [".built", "weights"]
