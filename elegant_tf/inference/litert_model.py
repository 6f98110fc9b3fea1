"""A .tflite file written by `python -m elegant_tf.tflite`, run with the LiteRT interpreter.

Its signatures take batch 1 (phones fix shapes at build time); `load` loops
over a batch one example at a time so callers see the same TransferModel as
for a SavedModel.
"""

from typing import Optional

import numpy as np

from elegant_tf.inference import layout
from elegant_tf.inference import transfer_model


class MissingPrototypeError(ValueError):
  """add_attribute or remove_attribute asked for an attribute that has no prototype slab."""


# Per label-only signature: the metadata list of attributes it has a prototype for, and
# the examples that prototype averages.
LABEL_ONLY_PROTOTYPES = {"add_attribute": ("prototype_attributes", "positive"),
                         "remove_attribute": ("absence_prototype_attributes", "negative")}


def check_prototypes(metadata: dict, attributes, strength,
                     signature: str = "add_attribute") -> None:
  """MissingPrototypeError when a weight asks for an attribute without a prototype.

  The converted graph holds a zero slab for such an attribute, which would silently
  apply a blank one; the SavedModel's signatures refuse in the graph, the same words.
  """
  listed, example_kind = LABEL_ONLY_PROTOTYPES[signature]
  available = metadata.get(listed)
  if available is None:  # Written before the list was recorded: nothing to check against.
    return
  weights = np.asarray(attributes, np.float32) * np.asarray(strength, np.float32)
  missing = [i for i, name in enumerate(metadata["attribute_names"]) if name not in available]
  if missing and np.any(weights[..., missing] != 0):
    names = ", ".join(metadata["attribute_names"][i] for i in missing)
    raise MissingPrototypeError(f"{signature}: no prototype for {names} (no usable training "
                                f"{example_kind}); its attributes or strength must be 0")


def load(path: str, num_threads: Optional[int] = None) -> transfer_model.TransferModel:
  """TransferModel over a .tflite file's signature runners (batch 1, looped over batches)."""
  # Deferred on purpose: ai-edge-litert is an optional dependency (the `test` extra),
  # needed only by whoever opens a .tflite file.
  from ai_edge_litert import interpreter as litert
  with open(path, "rb") as f:
    content = f.read()
  metadata = layout.read_tflite_metadata(content, path)
  try:
    interpreter = litert.Interpreter(model_content=content, num_threads=num_threads)
  except ValueError as error:  # LiteRT's words for a flatbuffer it cannot build.
    raise layout.ModelFileError(f"{path} is not a TFLite model LiteRT can run "
                                "(truncated or corrupt)") from error
  runners = {key: interpreter.get_signature_runner(key)
             for key in interpreter.get_signature_list()}
  num_skips = len(metadata["skip_shapes"])

  def per_example(key, inputs: dict) -> dict:
    """Run a batch-1 signature over a batch, one example at a time."""
    batch = len(next(iter(inputs.values())))
    rows = [runners[key](**{k: np.asarray(v[i:i + 1], np.float32) for k, v in inputs.items()})
            for i in range(batch)]
    return {k: np.concatenate([row[k] for row in rows]) for k in rows[0]}

  def transfer(image, exemplar, attributes, strength=None):
    return per_example("transfer", {
        "image": image, "exemplar": exemplar, "attributes": attributes,
        "strength": transfer_model.strength_or_ones(attributes, strength)})

  def encode(image):
    outputs = per_example("encode", {"image": image})
    return outputs["latent"], [outputs[f"skip_{k}"] for k in range(num_skips)]

  def decode(image, edited_latent, latent, skips):
    return per_example("decode", {"image": image, "edited_latent": edited_latent,
                                  "latent": latent,
                                  **{f"skip_{k}": s for k, s in enumerate(skips)}})["edited"]

  def label_only_edit(key):
    """The batch form of a label-only signature, or None if the file lacks it."""
    if key not in runners:
      return None

    def edit(image, attributes, strength=None):
      strength = transfer_model.strength_or_ones(attributes, strength)
      check_prototypes(metadata, attributes, strength, key)
      return per_example(key, {
          "image": image, "attributes": attributes, "strength": strength})["edited"]
    return edit

  return transfer_model.TransferModel(
      tuple(metadata["attribute_names"]), int(metadata["image_size"]), transfer, path,
      encode=encode, decode=decode, add_attribute=label_only_edit("add_attribute"),
      remove_attribute=label_only_edit("remove_attribute"), kind="tflite",
      backend=interpreter)
