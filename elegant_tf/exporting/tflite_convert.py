"""Convert the exported SavedModel to TFLite for phones, and verify the result.

The library behind `python -m elegant_tf.tflite`; litert_model.py loads the file back.

Builtin TFLite ops only (no Flex). The file carries four batch-1 signatures:
`transfer` (image, exemplar, attributes, strength -> edited, exemplar_edited),
`encode`, `decode` and, when the SavedModel has prototypes, `add_attribute`; and
the SavedModel's metadata JSON (attribute names, image size, value range,
version) as a TFLite metadata entry named "elegant_metadata".

The SavedModel's serving signatures take unknown-rank inputs (they check shapes
themselves); TFLite wants static shapes, so conversion goes through a thin
batch-1 wrapper around those same signatures and weights. Its shape checks are
dropped by the converter (a phone app fixes the shapes at build time).

Quantization modes: none = float32; float16 = float16 weights; dynamic = int8
weights, float activations; int8 = int8 weights and activations calibrated on
pairs from the training pipeline, float32 inputs/outputs, ops without an int8
kernel left in float (still builtin).
"""

import os
import shutil
import tempfile
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from elegant_tf.evaluation import psnr as psnr_lib
from elegant_tf.inference import layout
from elegant_tf.inference import litert_model
from elegant_tf.inference import model_loading
from pipelines import data_spec
from pipelines import markdown
from pipelines import pairs

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def _batch_one_wrapper(loaded, metadata: dict) -> tuple[tf.Module, list]:
  """tf.Module with static batch-1 functions calling the SavedModel's signatures."""
  size, n = metadata["image_size"], len(metadata["attribute_names"])
  latent = metadata["latent_shape"]
  image_spec = lambda name: tf.TensorSpec([1, size, size, 3], tf.float32, name=name)
  weights_spec = lambda name: tf.TensorSpec([1, n], tf.float32, name=name)
  latent_spec = lambda name: tf.TensorSpec([1] + latent, tf.float32, name=name)
  skip_specs = [tf.TensorSpec([1] + shape, tf.float32, name=f"skip_{k}")
                for k, shape in enumerate(metadata["skip_shapes"])]
  signatures = loaded.signatures
  module = tf.Module()
  module.loaded = loaded  # Tracks the variables so they are saved with the wrapper.

  module.transfer = tf.function(
      lambda image, exemplar, attributes, strength: signatures["serving_default"](
          image=image, exemplar=exemplar, attributes=attributes, strength=strength),
      input_signature=[image_spec("image"), image_spec("exemplar"), weights_spec("attributes"),
                       weights_spec("strength")], autograph=False)
  module.encode = tf.function(lambda image: signatures["encode"](image=image),
                              input_signature=[image_spec("image")], autograph=False)

  def decode(image, edited_latent, latent, *skips):
    return signatures["decode"](image=image, edited_latent=edited_latent, latent=latent,
                                **{f"skip_{k}": skip for k, skip in enumerate(skips)})

  module.decode = tf.function(decode, input_signature=[
      image_spec("image"), latent_spec("edited_latent"), latent_spec("latent")] + skip_specs,
                              autograph=False)
  keys = ["transfer", "encode", "decode"]
  def label_only_edit(signature):
    # A closure, not a default argument: tf.function would take that for an input.
    return lambda image, attributes, strength: signature(
        image=image, attributes=attributes, strength=strength)

  for key in ("add_attribute", "remove_attribute"):
    if key in signatures:
      setattr(module, key, tf.function(
          label_only_edit(signatures[key]),
          input_signature=[image_spec("image"), weights_spec("attributes"),
                           weights_spec("strength")], autograph=False))
      keys.append(key)
  return module, keys


def calibration_pairs(data: str, attributes, image_size: int, count: int, split: str = "train",
                      seed: int = 0):
  """`count` (image, exemplar, labels_a) batch-1 pairs from the training pipeline."""
  source = data_spec.open_source(data, image_size, seed=seed)
  stream = pairs.attribute_pairs(source, list(attributes), 1, split=split, seed=seed)
  for batch in stream.take(count):
    yield batch["image_a"].numpy(), batch["image_b"].numpy()


def _representative_dataset(loaded, metadata: dict, data: str, count: int, keys: list):
  """Calibration samples for every signature: (signature key, inputs) as the converter wants."""
  n = len(metadata["attribute_names"])
  rng = np.random.default_rng(0)

  def generate():
    for image, exemplar in calibration_pairs(data, metadata["attribute_names"],
                                             metadata["image_size"], count):
      attributes = rng.integers(0, 2, (1, n)).astype(np.float32)
      strength = rng.uniform(0, 1, (1, n)).astype(np.float32)
      yield "transfer", {"image": image, "exemplar": exemplar, "attributes": attributes,
                         "strength": strength}
      yield "encode", {"image": image}
      encoded = {k: v.numpy() for k, v in loaded.signatures["encode"](image=image).items()}
      exemplar_latent = loaded.signatures["encode"](image=exemplar)["latent"].numpy()
      edited_latent = ((1 - strength.mean()) * encoded["latent"]
                       + strength.mean() * exemplar_latent).astype(np.float32)
      yield "decode", {"image": image, "edited_latent": edited_latent, **encoded}
      for key in ("add_attribute", "remove_attribute"):
        if key in keys:
          yield key, {"image": image, "attributes": attributes, "strength": strength}

  return generate


def convert(saved_model: str, quantize: str = "none", data: Optional[str] = None,
            calibration_samples: int = 32) -> bytes:
  """TFLite flatbuffer bytes of the SavedModel (model or version folder).

  data: --data spec for int8 calibration; default: the one the model was trained on.
  """
  if quantize not in QUANTIZATIONS:
    raise ValueError(f"quantize={quantize!r}; valid: {', '.join(QUANTIZATIONS)}")
  version_dir = layout.newest_version_dir(saved_model)
  metadata = layout.read_metadata(version_dir)
  loaded = tf.saved_model.load(version_dir)
  module, keys = _batch_one_wrapper(loaded, metadata)
  staging = tempfile.mkdtemp(prefix="elegant_tflite_")
  try:
    tf.saved_model.save(module, staging,
                        signatures={key: getattr(module, key) for key in keys})
    converter = tf.lite.TFLiteConverter.from_saved_model(staging, signature_keys=keys)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "float16":
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
      data = data or metadata.get("training_data")
      if not data:
        raise ValueError("int8 needs calibration data (a data spec such as synthetic); the "
                         "SavedModel does not record its training data")
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.representative_dataset = _representative_dataset(
          loaded, metadata, data, calibration_samples, keys)
      # Int8 kernels where they exist, float builtins for the rest (e.g. sqrt).
      converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                             tf.lite.OpsSet.TFLITE_BUILTINS]
    content = converter.convert()
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return layout.embed_tflite_metadata(content, {**metadata, "quantize": quantize})


def time_transfer(model, image, exemplar, attributes, repeats: int = 10) -> float:
  """Median wall seconds of one batch transfer (after one warm-up call)."""
  model.transfer(image, exemplar, attributes)
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    model.transfer(image, exemplar, attributes)
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def held_out_pairs(metadata: dict, data: str, count: int):
  """`count` pairs from the test split (never seen in training or calibration)."""
  pairs_list = list(calibration_pairs(data, metadata["attribute_names"],
                                      metadata["image_size"], count, split="test", seed=1))
  return (np.concatenate([p[0] for p in pairs_list]),
          np.concatenate([p[1] for p in pairs_list]))


def verify(tflite_path: str, saved_model_dir: str, images: np.ndarray, exemplars: np.ndarray,
           reference: Optional[model_loading.TransferModel] = None, repeats: int = 10) -> dict:
  """Compare a .tflite file with the SavedModel on the same pairs; return one table row."""
  reference = reference or model_loading.load_saved_model(
      layout.newest_version_dir(saved_model_dir))
  candidate = litert_model.load(tflite_path)
  n = len(reference.attribute_names)
  rng = np.random.default_rng(0)
  attributes = rng.integers(0, 2, (len(images), n)).astype(np.float32)
  attributes[:, 0] = 1  # At least one attribute swapped in every pair.
  expected = reference.transfer(images, exemplars, attributes)
  actual = candidate.transfer(images, exemplars, attributes)
  difference = max(float(np.max(np.abs(actual[k] - expected[k]))) for k in expected)
  quality = min(psnr_lib.psnr(actual[k], expected[k]) for k in expected)
  latency = time_transfer(candidate, images[:1], exemplars[:1], attributes[:1], repeats)
  return {"file": tflite_path, "size_bytes": os.path.getsize(tflite_path),
          "max_abs_diff": difference, "psnr_db": quality, "latency_ms": 1000 * latency}


def format_table(rows: list, reference_latency_ms: Optional[float] = None) -> str:
  cells = []
  if reference_latency_ms is not None:
    cells.append(["SavedModel (reference)", "-", 0, "inf", f"{reference_latency_ms:.2f}"])
  cells += [[row["file"], f"{row['size_bytes'] / 1024:.1f}", f"{row['max_abs_diff']:.2e}",
             f"{row['psnr_db']:.1f}", f"{row['latency_ms']:.2f}"] for row in rows]
  return markdown.table(["file", "size (KiB)", "max abs diff", "PSNR vs SavedModel (dB)",
                         "latency/transfer (ms)"], cells)
