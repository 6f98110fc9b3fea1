"""Export from a run (export_lib through the train command's end of run): a bfloat16 run
exports its float32 twin, with the run's own weights, and converts."""

import os

import numpy as np
import pytest
import tensorflow as tf

from elegant_tf.exporting import tflite_convert
from elegant_tf.inference import litert_model
from elegant_tf.inference import model_loading
from pipelines import atomic_files


@pytest.mark.slow
def test_a_bfloat16_trained_model_exports_float32_signatures_and_converts(tiny_bf16_run,
                                                                         tmp_path):
  config, version_dir = tiny_bf16_run["config"], tiny_bf16_run["version_dir"]
  # The end-of-run evaluation ran too.
  assert "| Eyeglasses |" in open(os.path.join(config.run_dir, "evaluation.md")).read()
  signatures = tf.saved_model.load(version_dir).signatures
  assert set(signatures) == {"serving_default", "transfer_bytes", "encode", "decode",
                             "add_attribute", "remove_attribute", "metadata"}
  for key in ("serving_default", "encode", "decode", "add_attribute"):
    inputs = signatures[key].structured_input_signature[1]
    assert {spec.dtype for spec in inputs.values()} == {tf.float32}, key
    # A bfloat16 graph would hand out its bfloat16 latent and skips here.
    assert {spec.dtype for spec in signatures[key].structured_outputs.values()} == {
        tf.float32}, key
  # The export is the checkpoint's weights computed in float32: the same numbers
  # as the run directory loaded for inference (always float32).
  images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
  image, exemplar = images[:2], images[2:]
  weights = np.array([[1, 0], [1, 1]], np.float32)
  served = signatures["serving_default"](image=tf.constant(image),
                                         exemplar=tf.constant(exemplar),
                                         attributes=tf.constant(weights),
                                         strength=tf.ones([2, 2]))
  expected = model_loading.load_run_dir(config.run_dir).transfer(image, exemplar, weights)
  for key in ("edited", "exemplar_edited"):
    np.testing.assert_allclose(served[key].numpy(), expected[key], atol=1e-5)
  # And it converts to TFLite with builtin ops as before, matching the SavedModel.
  path = str(tmp_path / "bf16_trained.tflite")
  atomic_files.write_atomically(path, tflite_convert.convert(config.export_dir, "none"))
  converted = litert_model.load(path).transfer(image, exemplar, weights)
  for key in ("edited", "exemplar_edited"):
    np.testing.assert_allclose(converted[key], served[key].numpy(), atol=1e-4)
