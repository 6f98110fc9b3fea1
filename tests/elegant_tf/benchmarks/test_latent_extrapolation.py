import numpy as np
import pytest

from elegant_tf.benchmarks import latent_extrapolation
from pipelines import synthetic
from tests.elegant_tf import tiny


def test_scaled_exchange_multiplies_the_weights_it_passes_on():
  seen = []

  class Recorder:
    def transfer(self, image, exemplar, attributes):
      seen.append(np.asarray(attributes))
      return {"edited": image, "exemplar_edited": exemplar}

  scaled = latent_extrapolation.ScaledExchange(Recorder(), 1.5)
  images = np.zeros((2, 8, 8, 3), np.float32)
  scaled.transfer(images, images, np.array([[1, 0], [0, 0]], np.float32))
  np.testing.assert_allclose(seen[0], [[1.5, 0], [0, 0]])


def test_rows_cover_every_scale_and_attribute_and_scale_changes_the_edit():
  generator = tiny.untrained_generator()
  source = synthetic.open_source("", 32, seed=0)
  rows = latent_extrapolation.extrapolation_rows(generator, source, ["Eyeglasses", "Bangs"],
                                                 [1.0, 2.0], 4)
  assert [(row["scale"], row["attribute"]) for row in rows] == [
      (1.0, "Eyeglasses"), (1.0, "Bangs"), (2.0, "Eyeglasses"), (2.0, "Bangs")]
  for row in rows:
    assert all(np.isfinite(row[c]) for c in latent_extrapolation.COLUMNS)
  # Past the exemplar's slab the edit differs: the weight reaches the generator.
  assert rows[0]["C-copy in"] != pytest.approx(rows[2]["C-copy in"], abs=1e-6)
