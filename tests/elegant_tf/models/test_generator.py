"""The generator (encoder + slab exchange + decoder) through the shared checks."""

import numpy as np

from elegant_tf.models import generator
from tests.elegant_tf import model_checks


def test_shared_layer_checks(tmp_path):
  rng = np.random.default_rng(3)
  images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  inputs = {"image": images, "exemplar": images[::-1].copy(),
            "attributes": np.array([[1, 0], [0, 1]], "float32")}
  model_checks.run_layer_test(lambda: generator.ElegantGenerator(2, [4, 8, 8]), (inputs,),
                              tmp_path, expected_shapes=[(2, 32, 32, 3), (2, 32, 32, 3)])

