import numpy as np

from elegant_tf.benchmarks import label_only_edits
from elegant_tf.models import latent_swap
from pipelines import synthetic
from tests.elegant_tf import tiny


def test_label_only_edits_swap_in_the_prototype_slabs_and_are_scored_like_transfers():
  generator = tiny.untrained_generator()
  rng = np.random.default_rng(0)
  presence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  absence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  add, remove = label_only_edits.generator_label_only_edits(generator, presence, absence)
  image = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  weights = np.array([[1, 0], [0, 1]], np.float32)
  latent, skips = generator.encode(image)
  expected = generator.edit(image, latent_swap.swap_latent_slabs(
      latent, np.broadcast_to(absence, latent.shape), weights), latent, skips)
  np.testing.assert_allclose(remove(image, weights), np.asarray(expected), atol=1e-5)
  own = generator.edit(image, latent, latent, skips)
  np.testing.assert_allclose(add(image, np.zeros_like(weights)), np.asarray(own), atol=1e-5)
  assert not np.allclose(add(image, weights), remove(image, weights), atol=1e-4)

  source = synthetic.open_source("", 32, seed=0)
  rows = label_only_edits.comparison_rows(generator, source, ["Eyeglasses", "Bangs"], 4, add,
                                          remove)
  assert [row["attribute"] for row in rows] == ["Eyeglasses", "Bangs"]
  for row in rows:
    assert all(np.isfinite(value) for key, value in row.items() if key != "attribute")
    # Two different edits of the same pairs.
    assert row["C-copy example"] != row["C-copy label"]
