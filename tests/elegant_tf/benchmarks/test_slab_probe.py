import numpy as np
import pytest

from elegant_tf.benchmarks import slab_probe
from pipelines import synthetic
from tests.elegant_tf import tiny


def test_slab_gaps_measure_only_the_slab_and_purity_compares_with_the_pair():
  zeros = np.zeros((2, 1, 1, 4), np.float32)
  latents = {"A": zeros + [0, 1, 1, 9], "B": zeros + [0, 0, 0, 5], "C": zeros + [0, 0.5, 0.5, 9],
             "C*": zeros + [0, 0.25, 0.25, 0]}
  row = slab_probe.slab_gaps(latents, (1, 3))  # channels 1 and 2 only
  assert row["A-B"] == pytest.approx(1.0) and row["C*-B"] == pytest.approx(0.25)
  assert row["C*-A"] == pytest.approx(0.75)
  assert row["C-A"] == pytest.approx(0.5) and row["C-B"] == pytest.approx(0.5)
  assert row["purity"] == pytest.approx(0.75)
  # A pure slab: the exact removal brings the slab all the way to B's.
  assert slab_probe.slab_gaps({**latents, "C*": latents["B"]}, (1, 3))["purity"] == 1.0


def test_probe_rows_encode_the_pairs_and_the_exact_removal():
  generator = tiny.untrained_generator()
  source = synthetic.open_source("", 32, seed=0)
  rows = slab_probe.probe_rows(generator, source, ["Eyeglasses", "Bangs"], 4)
  assert [row["attribute"] for row in rows] == ["Eyeglasses", "Bangs"]
  for row in rows:
    assert set(slab_probe.COLUMNS) <= set(row)
    assert all(np.isfinite(row[c]) for c in slab_probe.COLUMNS)
    assert row["A-B"] > 0 and row["C*-A"] > 0  # different faces, and a real removal
