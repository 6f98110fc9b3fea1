"""Tests of the AttGAN-style attribute classifier network."""

import numpy as np
import pytest

from elegant_tf.evaluation import attribute_classifier
from tests.elegant_tf import model_checks


def test_paper_structure_five_double_conv_blocks_fc512():
  model = attribute_classifier.build_classifier(13, 128)
  kinds = [type(layer).__name__ for layer in model.layers]
  assert kinds.count("Conv2D") == 10 and kinds.count("BatchNormalization") == 10
  assert kinds.count("MaxPooling2D") == 5
  assert model.get_layer("fc").units == 512
  assert [model.get_layer(f"block{k}_conv2").filters for k in range(1, 6)] == [
      64, 128, 256, 512, 512]
  assert model.output_shape == (None, 13)


def test_small_widths_and_logits_shape():
  assert attribute_classifier.block_widths(8, 32) == (8, 16, 32, 32, 32)
  model = attribute_classifier.build_classifier(3, 32, widths=(4, 4, 4, 4, 4), dense_units=8)
  logits = model(np.zeros((2, 32, 32, 3), np.float32), training=False)
  assert logits.shape == (2, 3)


def test_image_size_must_survive_five_pools():
  with pytest.raises(ValueError, match="multiple of 32"):
    attribute_classifier.build_classifier(2, 48)


def test_shared_layer_checks(tmp_path):
  x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
  model_checks.run_layer_test(
      lambda: attribute_classifier.build_classifier(2, 32, (4, 4, 8, 8, 8), 16), (x,),
      tmp_path, expected_shapes=[(2, 2)])
