"""TFLite conversion: builtin ops only, float32 parity with the SavedModel, quantized modes."""

import os

import numpy as np
import pytest

from elegant_tf import tflite
from elegant_tf import usage
from elegant_tf.exporting import tflite_convert
from elegant_tf.inference import layout
from elegant_tf.inference import model_loading
from pipelines import atomic_files
from tests import helpers


@pytest.fixture(scope="module")
def converted(untrained_model, untrained_tflite):
  """The session's untrained export (random prototypes; parity needs no training) and its
  float32 .tflite file."""
  return {"version_dir": untrained_model["version_dir"], "path": untrained_tflite,
          "reference": model_loading.load_saved_model(untrained_model["version_dir"])}


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
def test_quantized_files_use_builtin_ops_and_stay_close(converted, tmp_path, quantize,
                                                         min_psnr):
  path = str(tmp_path / f"{quantize}.tflite")
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


@pytest.mark.parametrize("signature, recorded, kept, allowed, refused, message", [
    ("add_attribute", b'"prototype_attributes": ["Eyeglasses", "Bangs"]',
     b'"prototype_attributes": ["Eyeglasses"]', [1.0, 0.0], [1.0, 1.0],
     "add_attribute: no prototype for Bangs"),
    ("remove_attribute", b'"absence_prototype_attributes": ["Eyeglasses", "Bangs"]',
     b'"absence_prototype_attributes": ["Bangs"]', [0.0, 1.0], [1.0, 0.0],
     "remove_attribute: no prototype for Eyeglasses .*training negative"),
])
def test_an_attribute_without_its_prototype_is_refused(converted, tmp_path, signature, recorded,
                                                       kept, allowed, refused, message):
  # The converted graph has a zero slab there: it must refuse, as the SavedModel does.
  content = open(converted["path"], "rb").read()
  assert recorded in content
  # Same length (JSON allows the trailing spaces), so the flatbuffer stays valid.
  path = str(tmp_path / "one_prototype_less.tflite")
  with open(path, "wb") as f:
    f.write(content.replace(recorded, kept.ljust(len(recorded))))
  edit = getattr(model_loading.load(path), signature)
  image = _pairs(1)[0]
  assert edit(image, np.array([allowed], np.float32)).shape == image.shape
  with pytest.raises(ValueError, match=message):
    edit(image, np.array([refused], np.float32))


@pytest.mark.slow
def test_cli_converts_and_verifies(converted, tmp_path):
  # A subprocess: the one test that the command runs from `python -m`.
  out = tmp_path / "cli.tflite"
  result = helpers.run_module("elegant_tf.tflite", f"--saved_model={converted['version_dir']}",
                              f"--out={out}", "--verify_pairs=2")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "| max abs diff |" in result.stdout and out.exists()


def test_cli_bad_use_exits_2_and_writes_nothing(tmp_path, capsys):
  bad = helpers.run_in_process(tflite.run, f"--saved_model={tmp_path}",
                               f"--out={tmp_path / 'x.tflite'}", "--verify_pairs=0",
                               capsys=capsys)
  assert bad.returncode == 2 and "neither a SavedModel" in bad.stderr
  assert not (tmp_path / "x.tflite").exists()


def test_an_out_that_cannot_be_written_is_refused_before_converting(tmp_path):
  with pytest.raises(usage.UsageError, match="is a directory; give a .tflite file name"):
    tflite.check_out(str(tmp_path))
  (tmp_path / "a_file").write_text("in the way")
  with pytest.raises(usage.UsageError, match="a_file is a file, not a folder"):
    tflite.check_out(str(tmp_path / "a_file" / "model.tflite"))
  tflite.check_out(str(tmp_path / "new" / "model.tflite"))

