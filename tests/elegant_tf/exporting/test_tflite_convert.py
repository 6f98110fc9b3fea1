"""TFLite conversion: builtin ops only, float32 parity with the SavedModel, quantized modes,
the metadata inside the file."""

import os

import numpy as np
import pytest

from elegant_tf.exporting import tflite_convert
from elegant_tf.inference import layout
from elegant_tf.inference import model_loading
from pipelines import atomic_files


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
