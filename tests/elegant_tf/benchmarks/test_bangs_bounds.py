import numpy as np

from elegant_tf.benchmarks import bangs_bounds
from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import psnr
from pipelines import synthetic


def _values(rows):
  return {row["oracle"]: row["value"] for row in rows}


def test_oracles_that_know_more_come_closer_and_copy_is_the_floor():
  rows = bangs_bounds.bound_rows(synthetic.open_source("", 32, seed=0), 24, samples=3)
  assert [row["output"] for row in rows].count("hidden") == 1
  value = _values(rows)
  assert all(np.isfinite(v) for v in value.values())
  assert 0.0 <= value["share of the brows' pixels under A's bangs"] <= 1.0
  c_copy, d_copy = value["copy (A unchanged)"], value["copy (B unchanged)"]
  # Knowing all but the brows beats leaving the bangs on A.
  assert value["exact but for the brows: the mean face's"] > c_copy + 3
  # A's fringe shape is worth more than any strand guess on the mean shape.
  exact_shape = value["A's shape, mean strand frequency"]
  assert exact_shape > value["mean shape, A's strand frequency"] + 3
  assert value["generic: mean shape, mean strand frequency"] > d_copy
  assert exact_shape > d_copy


def test_the_generic_row_is_the_evaluations_oracle():
  source = synthetic.open_source("", 32, seed=0)
  rows = _values(bangs_bounds.bound_rows(source, 8, samples=2))
  pairs = ground_truth_eval.swap_ground_truth(source, "Bangs", 8)
  assert rows["generic: mean shape, mean strand frequency"] == psnr.psnr(
      pairs["generic_d"], pairs["truth_d"], pairs["region_d"])
