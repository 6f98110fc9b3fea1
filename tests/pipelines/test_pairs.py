
import numpy as np
import pytest
import tensorflow as tf

from pipelines import celeba
from pipelines import face_source
from pipelines import pairs
from tests import helpers


class CountingSource(face_source.FaceSource):
  """Images encode their own index: pixel value = index / 1000, so batches are traceable."""

  def __init__(self, labels, names=("Glasses", "Hat", "Smile")):
    super().__init__(names, image_size=4)
    self._labels = np.asarray(labels, np.uint8)

  def labels(self, split):
    return self._labels

  def batches(self, split, indices, batch_size, deterministic=True):
    labels = tf.constant(self._labels, tf.float32)

    def load(index):
      image = tf.fill([4, 4, 3], tf.cast(index, tf.float32) / 1000.0)
      return image, tf.gather(labels, index)

    return indices.map(load).batch(batch_size, drop_remainder=True)


def _labels(n=60, seed=0):
  return np.random.default_rng(seed).integers(0, 2, (n, 3))


def _take(dataset, count):
  return [{k: v.numpy() for k, v in element.items()} for element in dataset.take(count)]


def test_round_robin_positive_a_negative_b_and_labels_of_chosen_attributes():
  labels = _labels()
  source = CountingSource(labels)
  chosen = ("Smile", "Glasses")
  elements = _take(pairs.attribute_pairs(source, chosen, batch_size=4), 6)
  for step, element in enumerate(elements):
    position = step % 2
    np.testing.assert_array_equal(element["attribute"], [position] * 4)
    column = {"Smile": 2, "Glasses": 0}[chosen[position]]
    index_a = np.rint(element["image_a"][:, 0, 0, 0] * 1000).astype(int)
    index_b = np.rint(element["image_b"][:, 0, 0, 0] * 1000).astype(int)
    assert np.all(labels[index_a, column] == 1) and np.all(labels[index_b, column] == 0)
    np.testing.assert_array_equal(element["labels_a"], labels[index_a][:, [2, 0]])
    np.testing.assert_array_equal(element["labels_b"], labels[index_b][:, [2, 0]])
    assert element["image_a"].shape == (4, 4, 4, 3)


def test_resuming_at_a_step_continues_the_same_stream():
  source = CountingSource(_labels(seed=1))
  full = _take(pairs.attribute_pairs(source, ("Glasses", "Hat", "Smile"), 4, seed=3), 11)
  resumed = _take(pairs.attribute_pairs(source, ("Glasses", "Hat", "Smile"), 4, seed=3,
                                        start_step=7), 4)
  for a, b in zip(full[7:], resumed):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])


def test_batches_before_counts_round_robin_turns():
  assert [pairs.batches_before(7, p, 3) for p in range(3)] == [3, 2, 2]
  assert pairs.batches_before(0, 0, 3) == 0


def test_too_few_positives_fails_with_counts():
  labels = np.zeros((20, 3), np.uint8)
  labels[:2, 1] = 1
  with pytest.raises(ValueError, match=r"Hat: 2 with, 18 without"):
    pairs.attribute_pairs(CountingSource(labels), ("Hat",), batch_size=4)


def test_unknown_attribute_suggests_nearest_and_lists_valid():
  with pytest.raises(ValueError, match=r"did you mean 'Glasses'.*Glasses, Hat, Smile"):
    pairs.attribute_pairs(CountingSource(_labels()), ("Glases",), batch_size=4)


def test_shards_are_disjoint_and_keep_the_attribute_order():
  source = CountingSource(_labels(n=200, seed=2))
  seen = []
  for shard_index in range(2):
    elements = _take(pairs.attribute_pairs(source, ("Glasses", "Hat"), 4, shard_index=shard_index,
                                           num_shards=2), 6)
    assert [int(e["attribute"][0]) for e in elements] == [0, 1, 0, 1, 0, 1]
    seen.append({int(round(i * 1000)) for e in elements
                 for i in np.concatenate([e["image_a"][:, 0, 0, 0], e["image_b"][:, 0, 0, 0]])})
  assert seen[0] and seen[1] and not seen[0] & seen[1]


@pytest.mark.parametrize("having, side", [(True, "with"), (False, "without")])
def test_stream_whose_every_positive_or_negative_is_unusable_fails_with_counts(
    tmp_path, monkeypatch, having, side):
  root = str(tmp_path)
  count = helpers.celeba_with_unusable(root, monkeypatch, having=having)
  source = celeba.open_source(root, 32)
  problems = []
  with pytest.raises(tf.errors.OpError, match=f"all {count} images {side} 'Eyeglasses'"):
    next(iter(pairs.attribute_pairs(source, ["Eyeglasses", "Bangs"], 4, problems=problems)))
  assert len(problems) == 1 and "no batch can ever be filled" in problems[0]
  assert "corrupt or truncated image" in problems[0]


def test_one_usable_positive_is_enough(tmp_path, monkeypatch):
  root = str(tmp_path)
  helpers.celeba_with_unusable(root, monkeypatch, keep=1)
  source = celeba.open_source(root, 32)
  batch = next(iter(pairs.attribute_pairs(source, ["Eyeglasses", "Bangs"], 4)))
  assert batch["image_a"].shape == (4, 32, 32, 3)
  assert (batch["labels_a"].numpy()[:, 0] == 1).all()


def test_training_pairs_run_without_the_autotuning_thread():
  # The iterator lives the whole run; with autotuning, deleting it at the end of fit
  # waited up to a minute on the tuning thread (pipelines/long_lived.py).
  dataset = pairs.attribute_pairs(CountingSource(_labels()), ["Glasses", "Smile"], batch_size=2)
  assert dataset.options().autotune.enabled is False
  assert len(_take(dataset, 3)) == 3


def test_pair_batch_spec_is_what_attribute_pairs_yields():
  source = CountingSource([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]] * 2)
  stream = pairs.attribute_pairs(source, ["Glasses", "Hat"], 2)
  assert stream.element_spec == pairs.pair_batch_spec(4, 2, batch_size=2)


def test_fake_pair_batch_fits_the_spec_and_a_has_what_b_lacks():
  batch = pairs.fake_pair_batch(8, 3, batch_size=2, seed=1, attribute=2)
  spec = pairs.pair_batch_spec(8, 3, batch_size=2)
  assert batch.keys() == spec.keys()
  assert all(spec[key].is_compatible_with(batch[key]) for key in spec)
  assert (batch["attribute"].numpy() == 2).all()
  assert (batch["labels_a"].numpy()[:, 2] == 1).all() and (batch["labels_b"].numpy()[:, 2] == 0).all()
  assert -1 <= float(tf.reduce_min(batch["image_a"])) and float(tf.reduce_max(batch["image_b"])) <= 1
  np.testing.assert_array_equal(batch["image_a"], pairs.fake_pair_batch(8, 3, 2, seed=1)["image_a"])


def test_kept_attributes_come_as_their_own_labels_and_fit_the_spec():
  labels = _labels()
  source = CountingSource(labels)
  stream = pairs.attribute_pairs(source, ["Glasses"], 2, kept_attributes=["Smile", "Hat"])
  assert stream.element_spec == pairs.pair_batch_spec(4, 1, batch_size=2, num_kept=2)
  for batch in _take(stream, 3):
    # Each image encodes its index (pixel = index / 1000): its kept labels are that row's.
    for side in ("a", "b"):
      index = np.rint(batch["image_" + side][:, 0, 0, 0] * 1000).astype(int)
      np.testing.assert_array_equal(batch["kept_" + side], labels[index][:, [2, 1]])
      np.testing.assert_array_equal(batch["labels_" + side], labels[index][:, [0]])
  assert "kept_a" not in pairs.attribute_pairs(source, ["Glasses"], 2).element_spec
  with pytest.raises(ValueError, match="unknown attribute 'Smiles'"):
    pairs.attribute_pairs(source, ["Glasses"], 2, kept_attributes=["Smiles"])


def test_fake_pair_batch_has_kept_labels_when_asked():
  batch = pairs.fake_pair_batch(8, 2, batch_size=2, num_kept=1)
  spec = pairs.pair_batch_spec(8, 2, batch_size=2, num_kept=1)
  assert batch.keys() == spec.keys() and {"kept_a", "kept_b"} <= batch.keys()
  assert all(spec[key].is_compatible_with(batch[key]) for key in spec)
