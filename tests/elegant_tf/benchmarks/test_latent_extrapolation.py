import numpy as np
import pytest

from elegant_tf.benchmarks import latent_extrapolation
from elegant_tf.evaluation import ground_truth_eval
from pipelines import synthetic
from tests.elegant_tf import tiny


def test_pairs_are_rendered_once_per_attribute_and_each_scale_multiplies_the_weight(
    monkeypatch):
  seen, rendered = [], []

  class Recorder:
    def transfer(self, image, exemplar, attributes):
      seen.append(np.asarray(attributes)[0].tolist())
      return {"edited": image, "exemplar_edited": exemplar}

  render = ground_truth_eval.swap_ground_truth
  monkeypatch.setattr(ground_truth_eval, "swap_ground_truth",
                      lambda source, names, *args: rendered.append(names) or render(
                          source, names, *args))
  source = synthetic.open_source("", 32, seed=0)
  rows = latent_extrapolation.extrapolation_rows(Recorder(), source, ["Eyeglasses", "Bangs"],
                                                 [1.0, 1.5], 3)
  assert rendered == [("Eyeglasses",), ("Bangs",)]
  # Per attribute: the reconstruction (weight 0) once, then one edit per scale.
  assert seen == [[0, 0], [1, 0], [1.5, 0], [0, 0], [0, 1], [0, 1.5]]
  assert [(row["scale"], row["attribute"]) for row in rows] == [
      (1.0, "Eyeglasses"), (1.0, "Bangs"), (1.5, "Eyeglasses"), (1.5, "Bangs")]


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
