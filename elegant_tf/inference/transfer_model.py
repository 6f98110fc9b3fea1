"""TransferModel: one interface over every form a trained ELEGANT comes in.

The CLIs, evaluation and benchmarks call `transfer`, `encode`, `decode`,
`add_attribute` and `remove_attribute` on numpy batches and need not care whether a SavedModel, a
run directory or a .tflite file answers (see model_loading.py).
"""

import dataclasses
from typing import Callable, Optional

import numpy as np


@dataclasses.dataclass
class TransferModel:
  """transfer(image, exemplar, attributes, strength=None) -> {"edited", "exemplar_edited"}.

  All numpy. image, exemplar: float32 [b, S, S, 3] in [-1, 1]; attributes: float32
  [b, n] slab weights (1 = take from the exemplar); strength: optional [b, n] in
  [0, 1] multiplying them.
  `generator` is the Keras generator when loaded from a run directory (None otherwise).
  encode(image) -> (latent, [skips]); decode(image, edited_latent, latent, skips) ->
  edited image; add_attribute(image, attributes, strength) -> edited image, or None
  when the model has no prototype slabs; remove_attribute likewise with the absence
  prototypes.
  """
  attribute_names: tuple
  image_size: int
  transfer: Callable
  source: str
  generator: object = None
  encode: Optional[Callable] = None
  decode: Optional[Callable] = None
  add_attribute: Optional[Callable] = None
  remove_attribute: Optional[Callable] = None
  kind: str = "saved_model"
  # The loaded SavedModel or interpreter, held so its variables live as long as the model.
  backend: object = None


def strength_or_ones(attributes, strength) -> np.ndarray:
  """float32 strength [b, n]; omitted means full strength (1) for every attribute."""
  attributes = np.asarray(attributes, np.float32)
  return np.ones_like(attributes) if strength is None else np.asarray(strength, np.float32)
