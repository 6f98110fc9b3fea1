"""A .tflite file through LiteRT: label-only edits refuse an attribute without a prototype."""

import numpy as np
import pytest

from elegant_tf.inference import model_loading


@pytest.mark.parametrize("signature, recorded, kept, allowed, refused, message", [
    ("add_attribute", b'"prototype_attributes": ["Eyeglasses", "Bangs"]',
     b'"prototype_attributes": ["Eyeglasses"]', [1.0, 0.0], [1.0, 1.0],
     "add_attribute: no prototype for Bangs"),
    ("remove_attribute", b'"absence_prototype_attributes": ["Eyeglasses", "Bangs"]',
     b'"absence_prototype_attributes": ["Bangs"]', [0.0, 1.0], [1.0, 0.0],
     "remove_attribute: no prototype for Eyeglasses .*training negative"),
])
def test_an_attribute_without_its_prototype_is_refused(untrained_tflite, tmp_path, signature,
                                                       recorded, kept, allowed, refused,
                                                       message):
  # The converted graph has a zero slab there: it must refuse, as the SavedModel does.
  content = open(untrained_tflite, "rb").read()
  assert recorded in content
  # Same length (JSON allows the trailing spaces), so the flatbuffer stays valid.
  path = str(tmp_path / "one_prototype_less.tflite")
  with open(path, "wb") as f:
    f.write(content.replace(recorded, kept.ljust(len(recorded))))
  edit = getattr(model_loading.load(path), signature)
  image = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
  assert edit(image, np.array([allowed], np.float32)).shape == image.shape
  with pytest.raises(ValueError, match=message):
    edit(image, np.array([refused], np.float32))
