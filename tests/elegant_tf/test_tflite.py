"""TFLite conversion: builtin ops only, float32 parity with the SavedModel, quantized modes."""

import os
import subprocess
import sys

import numpy as np
import pytest

from elegant_tf.serving import model_loading
from elegant_tf.serving import layout
from elegant_tf.serving import tflite_convert
from pipelines import atomic_files
from tests.elegant_tf import tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tiny_export(directory):
  """A tiny generator exported with (random) prototypes; parity does not need training."""
  rng = np.random.default_rng(0)
  prototypes = rng.normal(size=(4, 4, 16)).astype(np.float32)
  absence_prototypes = rng.normal(size=(4, 4, 16)).astype(np.float32)
  return tiny.untrained_export(directory, prototypes=prototypes, training_data="synthetic",
                               absence_prototypes=absence_prototypes)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
  tmp_path = tmp_path_factory.mktemp("tflite")
  version_dir = _tiny_export(tmp_path / "models")
  path = str(tmp_path / "float32.tflite")
  atomic_files.write_atomically(path, tflite_convert.convert(str(tmp_path / "models"), "none"))
  return {"version_dir": version_dir, "path": path, "tmp": tmp_path,
          "reference": model_loading.load_saved_model(version_dir)}


def _pairs(count=3):
  rng = np.random.default_rng(1)
  images = rng.uniform(-1, 1, (2 * count, 32, 32, 3)).astype(np.float32)
  weights = np.array([[1, 0], [0, 1], [1, 1]], np.float32)[:count]
  return images[:count], images[count:], weights


def test_float32_matches_the_saved_model_in_every_signature(converted):
  reference, candidate = converted["reference"], model_loading.load(converted["path"])
  assert candidate.kind == "tflite" and candidate.attribute_names == ("Eyeglasses", "Bangs")
  images, exemplars, weights = _pairs()
  strength = np.full_like(weights, 0.7)
  expected = reference.transfer(images, exemplars, weights, strength)
  actual = candidate.transfer(images, exemplars, weights, strength)
  for key in ("edited", "exemplar_edited"):
    np.testing.assert_allclose(actual[key], expected[key], atol=1e-4)
  latent, skips = candidate.encode(images)
  ref_latent, ref_skips = reference.encode(images)
  np.testing.assert_allclose(latent, ref_latent, atol=1e-4)
  for skip, ref_skip in zip(skips, ref_skips):
    np.testing.assert_allclose(skip, ref_skip, atol=1e-4)
  np.testing.assert_allclose(candidate.decode(images, latent[::-1], latent, skips),
                             reference.decode(images, latent[::-1], latent, skips), atol=1e-4)
  np.testing.assert_allclose(candidate.add_attribute(images, weights, strength),
                             reference.add_attribute(images, weights, strength), atol=1e-4)
  np.testing.assert_allclose(candidate.remove_attribute(images, weights, strength),
                             reference.remove_attribute(images, weights, strength), atol=1e-4)


def _op_names(path):
  from ai_edge_litert import interpreter as litert
  interpreter = litert.Interpreter(model_path=path)
  return {op["op_name"] for op in interpreter._get_ops_details()}


@pytest.mark.parametrize("quantize,min_psnr", [("float16", 60), ("dynamic", 35), ("int8", 20)])
def test_quantized_files_use_builtin_ops_and_stay_close(converted, quantize, min_psnr):
  path = str(converted["tmp"] / f"{quantize}.tflite")
  atomic_files.write_atomically(path, tflite_convert.convert(converted["version_dir"], quantize,
                                               calibration_samples=4))
  names = _op_names(path)
  assert not any(name.startswith("Flex") or name == "CUSTOM" for name in names), names
  assert os.path.getsize(path) < os.path.getsize(converted["path"])
  images, exemplars, _ = _pairs()
  row = tflite_convert.verify(path, converted["version_dir"], images, exemplars,
                      converted["reference"], repeats=2)
  assert row["psnr_db"] > min_psnr and row["latency_ms"] > 0
  assert layout.read_tflite_metadata(open(path, "rb").read())["quantize"] == quantize


def test_metadata_travels_inside_the_file(converted):
  metadata = layout.read_tflite_metadata(open(converted["path"], "rb").read())
  assert metadata["attribute_names"] == ["Eyeglasses", "Bangs"] and metadata["image_size"] == 32
  with pytest.raises(ValueError, match="no elegant_metadata"):
    layout.read_tflite_metadata(open(converted["path"], "rb").read().replace(
        b"elegant_metadata", b"other_metadata__"))


def test_add_attribute_refuses_an_attribute_without_prototype(converted, tmp_path):
  # The converted graph has a zero slab there: it must refuse, as the SavedModel does.
  content = open(converted["path"], "rb").read()
  recorded = b'"prototype_attributes": ["Eyeglasses", "Bangs"]'
  assert recorded in content
  # Same length (JSON allows the trailing spaces), so the flatbuffer stays valid.
  path = str(tmp_path / "no_bangs_prototype.tflite")
  with open(path, "wb") as f:
    f.write(content.replace(recorded, b'"prototype_attributes": ["Eyeglasses"]'.ljust(
        len(recorded))))
  model = model_loading.load(path)
  image = _pairs(1)[0]
  assert model.add_attribute(image, np.array([[1.0, 0.0]], np.float32)).shape == image.shape
  with pytest.raises(ValueError, match="add_attribute: no prototype for Bangs"):
    model.add_attribute(image, np.array([[1.0, 1.0]], np.float32))


def test_remove_attribute_refuses_an_attribute_without_absence_prototype(converted, tmp_path):
  content = open(converted["path"], "rb").read()
  recorded = b'"absence_prototype_attributes": ["Eyeglasses", "Bangs"]'
  assert recorded in content
  path = str(tmp_path / "no_eyeglasses_absence_prototype.tflite")
  with open(path, "wb") as f:
    f.write(content.replace(recorded, b'"absence_prototype_attributes": ["Bangs"]'.ljust(
        len(recorded))))
  model = model_loading.load(path)
  image = _pairs(1)[0]
  assert model.remove_attribute(image, np.array([[0.0, 1.0]], np.float32)).shape == image.shape
  with pytest.raises(ValueError,
                     match="remove_attribute: no prototype for Eyeglasses .*training negative"):
    model.remove_attribute(image, np.array([[1.0, 0.0]], np.float32))


def test_cli_converts_verifies_and_rejects_bad_use(converted):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
  out = converted["tmp"] / "cli.tflite"
  result = subprocess.run(
      [sys.executable, "-m", "elegant_tf.tflite", f"--saved_model={converted['version_dir']}",
       f"--out={out}", "--verify_pairs=2"], cwd=REPO, env=env, capture_output=True, text=True,
      timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "| max abs diff |" in result.stdout and out.exists()
  bad = subprocess.run(
      [sys.executable, "-m", "elegant_tf.tflite", f"--saved_model={converted['tmp']}",
       f"--out={converted['tmp'] / 'x.tflite'}", "--verify_pairs=0"], cwd=REPO, env=env,
      capture_output=True, text=True, timeout=300)
  assert bad.returncode == 2 and "neither a SavedModel" in bad.stderr
  assert not (converted["tmp"] / "x.tflite").exists()


def test_an_out_that_cannot_be_written_is_refused_before_converting(tmp_path):
  from elegant_tf import tflite
  from elegant_tf import usage
  with pytest.raises(usage.UsageError, match="is a directory; give a .tflite file name"):
    tflite.check_out(str(tmp_path))
  (tmp_path / "a_file").write_text("in the way")
  with pytest.raises(usage.UsageError, match="a_file is a file, not a folder"):
    tflite.check_out(str(tmp_path / "a_file" / "model.tflite"))
  tflite.check_out(str(tmp_path / "new" / "model.tflite"))

