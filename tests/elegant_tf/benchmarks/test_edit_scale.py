import math

import numpy as np
import pytest

from elegant_tf.benchmarks import edit_scale
from elegant_tf.evaluation import ground_truth_eval
from pipelines import synthetic


def test_along_exact_measures_how_far_and_which_way():
  rng = np.random.default_rng(0)
  exact = rng.normal(size=(3, 4, 4, 3))
  mask = np.ones((3, 4, 4), bool)
  half = edit_scale.along_exact(0.5 * exact, exact, mask)
  assert half["scale"] == pytest.approx(0.5) and half["cosine"] == pytest.approx(1.0)
  assert half["left"] == pytest.approx(0.0, abs=1e-12)
  assert half["error"] == pytest.approx(np.mean((0.5 * exact) ** 2))
  # A change across the exact one: no scale explains it, the cosine says so.
  across = np.zeros_like(exact)
  across[..., 0], across[..., 1] = exact[..., 1], -exact[..., 0]
  wrong = edit_scale.along_exact(0.5 * exact + across, exact, mask)
  assert wrong["cosine"] < 0.6 and wrong["left"] > 0.1
  # Only the masked pixels count, and no exact change there gives NaN.
  mask[:, :2] = False
  outside = edit_scale.along_exact(np.where(mask[..., None], exact, 9.0), exact, mask)
  assert outside["scale"] == pytest.approx(1.0)
  assert all(math.isnan(v) for v in edit_scale.along_exact(exact, 0 * exact, mask).values())


class _HalfWay:
  """A stand-in model that moves each input half way to its exact target (it is
  handed the pairs' targets in the order the evaluation edits them)."""
  attribute_names = ("Eyeglasses", "Bangs")

  def __init__(self, pairs):
    self.pairs, self.seen = pairs, 0

  def transfer(self, image, exemplar, attributes):
    rows = slice(self.seen, self.seen + len(image))
    self.seen += len(image)
    return {"edited": (image + self.pairs["truth_c"][rows]) / 2,
            "exemplar_edited": (exemplar + self.pairs["truth_d"][rows]) / 2}


def test_rows_and_groups_of_a_model_that_goes_half_way():
  source = synthetic.open_source("", 32, seed=0)
  pairs = ground_truth_eval.swap_ground_truth(source, "Bangs", 12)
  overall, groups = edit_scale.edit_scale_rows(_HalfWay(pairs), source, "Bangs", 12,
                                               ["Blond_Hair"])
  assert [row["output"] for row in overall] == ["C", "D"]
  for row in overall:
    assert row["scale"] == pytest.approx(0.5, abs=1e-5)
    assert row["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert row["model_in"] > row["copy_in"]
  for output in ("C", "D"):
    mine = [row for row in groups if row["output"] == output]
    assert sum(row["pairs"] for row in mine) == 12
    assert {row["group"] for row in mine} <= {"Blond_Hair=0", "Blond_Hair=1"}
    assert all(row["median_scale"] == pytest.approx(0.5, abs=1e-5) for row in mine)
  assert all(np.isnan(row["generic_in"]) == (row["output"] == "C") for row in groups)
