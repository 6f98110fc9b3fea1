"""Tests of the procedural synthetic faces (pipelines/synthetic.py)."""

import numpy as np
import pytest
import tensorflow as tf

from pipelines import synthetic
from pipelines.synthetic import ATTRIBUTES

GLASSES = ATTRIBUTES.index("Eyeglasses")


def _render(params, size=64):
  return synthetic.render_faces(params, size)


def _with(params, j, value):
  """First index whose state of attribute j equals value."""
  return int(np.flatnonzero(params.states[:, j] == value)[0])


def test_attribute_names_in_celeba_order():
  assert ATTRIBUTES == ("Eyeglasses", "Bangs", "Smiling", "Mustache",
                        "Blond_Hair", "Wearing_Hat")


def test_same_index_renders_identically_in_any_batch():
  # 70 faces at 32 px span two render chunks and are reordered internally.
  big = synthetic.sample_faces(3, np.arange(70))
  images, masks = synthetic.render_faces(big, 32)
  picked = np.array([69, 5, 33, 0])
  small = synthetic.sample_faces(3, picked)
  images2, masks2 = synthetic.render_faces(small, 32)
  np.testing.assert_array_equal(images[picked], images2)
  np.testing.assert_array_equal(masks[picked], masks2)
  one, _ = synthetic.render_faces(synthetic.sample_faces(3, [33]), 32)
  np.testing.assert_array_equal(images[33], one[0])


def test_different_seeds_and_indices_differ():
  a, _ = _render(synthetic.sample_faces(0, np.arange(4)))
  b, _ = _render(synthetic.sample_faces(1, np.arange(4)))
  assert np.abs(a - b).mean(axis=(1, 2, 3)).min() > 0.05
  assert np.abs(a[0] - a[1]).mean() > 0.05


@pytest.mark.parametrize("size", [32, 64, 256])
def test_shapes_and_value_range(size):
  params = synthetic.sample_faces(0, np.arange(3))
  images, masks = synthetic.render_faces(params, size)
  assert images.shape == (3, size, size, 3) and images.dtype == np.float32
  assert masks.shape == (3, size, size, len(ATTRIBUTES))
  assert masks.dtype == np.float32
  assert images.min() >= -1.0 and images.max() <= 1.0
  assert masks.min() >= 0.0 and masks.max() <= 1.0
  # Not a blank image: faces have real contrast.
  assert images.std() > 0.2


def test_bad_image_size_raises():
  params = synthetic.sample_faces(0, np.arange(1))
  for size in (31, 257):
    with pytest.raises(ValueError, match="32"):
      synthetic.render_faces(params, size)
  with pytest.raises(ValueError):
    synthetic.SyntheticFaces(16)


def test_labels_match_states_and_frequencies():
  params = synthetic.sample_faces(0, np.arange(5000),
                                  {"Eyeglasses": 0.2, "Bangs": 0.0,
                                   "Mustache": 1.0})
  labels = synthetic.labels_of(params)
  assert labels.dtype == np.uint8 and labels.shape == (5000, len(ATTRIBUTES))
  np.testing.assert_array_equal(labels, params.states.astype(np.uint8))
  freq = labels.mean(axis=0)
  assert abs(freq[GLASSES] - 0.2) < 0.025
  assert freq[ATTRIBUTES.index("Bangs")] == 0.0
  assert freq[ATTRIBUTES.index("Mustache")] == 1.0
  assert abs(freq[ATTRIBUTES.index("Smiling")] - 0.5) < 0.03  # Default.
  # Attributes are drawn independently of each other.
  smile, hat = labels[:, 2], labels[:, 5]
  assert abs(np.corrcoef(smile, hat)[0, 1]) < 0.05


def test_unknown_attribute_names_raise_with_valid_names():
  with pytest.raises(ValueError, match="Eyeglasses.*Wearing_Hat"):
    synthetic.sample_faces(0, np.arange(2), {"Beard": 0.3})
  params = synthetic.sample_faces(0, np.arange(2))
  with pytest.raises(ValueError, match="Eyeglasses.*Wearing_Hat"):
    synthetic.exchange_attributes(params, params, ["Hat"])


@pytest.mark.parametrize("layout", synthetic.LAYOUTS)
def test_exchange_changes_only_the_attribute_region_and_is_reversible(layout):
  params = synthetic.sample_faces(5, np.arange(200), layout=layout)
  for j, name in enumerate(ATTRIBUTES):
    # A without the attribute and B with it (for Smiling / Blond_Hair the
    # states differ as well, so the swap is a visible change).
    a = params.take([_with(params, j, False)])
    b = params.take([_with(params, j, True)])
    ab = synthetic.exchange_attributes(a, b, [name])
    assert ab.states[0, j] and labels_equal_except(ab, a, j)
    img_a, mask_a = _render(a)
    img_ab, mask_ab = _render(ab)
    changed = np.abs(img_a - img_ab).max(axis=-1)[0]
    region = np.maximum(mask_a[0, ..., j], mask_ab[0, ..., j]) > 0
    assert changed.max() > 0.3, name  # The swap is visible.
    assert changed[~region].max() < 1e-6, name
    # Exchanging back restores A exactly.
    back = synthetic.exchange_attributes(ab, a, name)
    np.testing.assert_array_equal(_render(back)[0], img_a)


def labels_equal_except(x, y, j):
  keep = np.ones(len(ATTRIBUTES), bool)
  keep[j] = False
  return np.array_equal(x.states[:, keep], y.states[:, keep])


def test_donor_appearance_matters():
  params = synthetic.sample_faces(7, np.arange(100))
  wearers = np.flatnonzero(params.states[:, GLASSES])
  a = params.take([_with(params, GLASSES, False)])
  b, c = params.take([wearers[0]]), params.take([wearers[1]])
  with_b, mask_b = _render(synthetic.exchange_attributes(a, b, ["Eyeglasses"]))
  with_c, mask_c = _render(synthetic.exchange_attributes(a, c, ["Eyeglasses"]))
  region = np.maximum(mask_b[0, ..., GLASSES], mask_c[0, ..., GLASSES]) > 0.5
  assert np.abs(with_b - with_c).max(axis=-1)[0][region].mean() > 0.1


def test_masks_zero_for_absent_attributes_except_always_present_regions():
  params = synthetic.sample_faces(2, np.arange(40))
  _, masks = _render(params, 32)
  area = masks.reshape(len(params), -1, len(ATTRIBUTES)).max(axis=1)
  for j, name in enumerate(ATTRIBUTES):
    present = params.states[:, j]
    if name in ("Smiling", "Blond_Hair"):
      # The mouth and the hair exist in both states.
      assert (area[:, j] > 0.9).all(), name
    else:
      assert (area[~present, j] == 0).all(), name
      # Thin drawings (a mustache at 32 px) peak below full coverage.
      assert (area[present, j] > 0.5).all(), name


def test_masks_cover_a_reasonable_area_at_64px():
  params = synthetic.sample_faces(4, np.arange(60),
                                  {name: 1.0 for name in ATTRIBUTES})
  _, masks = _render(params, 64)
  pixels = (masks > 0.5).sum(axis=(1, 2))
  # Every attribute is clearly visible at 64 px: at least ~10 pixels each.
  assert (np.median(pixels, axis=0) >= 10).all(), np.median(pixels, axis=0)


def test_take_and_len():
  params = synthetic.sample_faces(0, np.arange(5))
  sub = params.take([4, 1])
  assert len(params) == 5 and len(sub) == 2
  np.testing.assert_array_equal(sub.identity[0], params.identity[4])
  np.testing.assert_array_equal(sub.appearance[1], params.appearance[1])


def test_source_batches_match_labels():
  source = synthetic.SyntheticFaces(32, seed=1,
                                    split_sizes={"train": 300, "val": 50,
                                                 "test": 50})
  assert source.attribute_names == ATTRIBUTES
  labels = source.labels("train")
  assert labels.shape == (300, len(ATTRIBUTES)) and labels.dtype == np.uint8
  indices = np.array([7, 250, 3, 99, 120, 11, 0], np.int64)
  ds = source.batches("train", tf.data.Dataset.from_tensor_slices(indices), 3)
  assert ds.element_spec[0].shape == (3, 32, 32, 3)
  assert ds.element_spec[1].shape == (3, len(ATTRIBUTES))
  batches = list(ds.as_numpy_iterator())
  assert len(batches) == 2  # The remainder of 1 is dropped.
  got = np.concatenate([lab for _, lab in batches])
  np.testing.assert_array_equal(got, labels[indices[:6]].astype(np.float32))
  images = np.concatenate([img for img, _ in batches])
  expected, _ = synthetic.render_faces(source.params("train", indices[:6]), 32)
  np.testing.assert_array_equal(images, expected)


def test_splits_are_disjoint_and_labels_cheap():
  source = synthetic.SyntheticFaces(64)
  train = source.params("train", np.arange(20))
  val = source.params("val", np.arange(20))
  test = source.params("test", np.arange(20))
  for x, y in ((train, val), (train, test), (val, test)):
    assert not np.isin(x.identity[:, 4], y.identity[:, 4]).any()
  labels = source.labels("train")
  assert labels.shape == (100_000, len(ATTRIBUTES))
  np.testing.assert_array_equal(labels[:20], synthetic.labels_of(train))
  with pytest.raises(ValueError, match="train, val, test"):
    source.labels("validation")
  with pytest.raises(ValueError):
    source.params("val", [2_000])


def test_open_source_options():
  source = synthetic.open_source("", 64, seed=3, attribute_frequencies=None,
                                 split_sizes={"val": 10}, unused_flag=None)
  assert source.seed == 3 and source.split_sizes["val"] == 10
  assert source.split_sizes["train"] == 100_000
  with pytest.raises(ValueError, match="seed"):
    synthetic.open_source("", 64, unknown_flag=1)
  with pytest.raises(ValueError, match="synthetic:wild"):
    synthetic.open_source("somewhere", 64)
  assert source.layout == "aligned"
  assert synthetic.open_source("wild", 64).layout == "wild"
  assert synthetic.open_source("aligned", 64).layout == "aligned"
  with pytest.raises(ValueError, match="Eyeglasses"):
    synthetic.open_source("", 64, attribute_frequencies={"Glasses": 0.1})


# ---------------------------------------------------------------------------
# Layouts: aligned faces on the template, wild faces through the aligner.


def test_aligned_landmarks_land_on_the_template():
  from pipelines import alignment
  params = synthetic.sample_faces(0, np.arange(2000))
  landmarks = synthetic.landmarks_of(params, 64)
  residual = np.linalg.norm(landmarks - alignment.template_landmarks(64), axis=-1)
  # The least-squares fit leaves a fraction of a pixel on the pupils and a
  # little more on the nose and mouth, whose proportions vary per face.
  assert residual[:, :2].mean() < 0.5 and np.percentile(residual[:, :2], 99) < 1.0
  assert residual[:, 2:].mean() < 0.8 and residual.max() < 2.0
  pupils = np.linalg.norm(landmarks[:, 1] - landmarks[:, 0], axis=-1) / 64
  assert abs(np.median(pupils) - 70 / 256) < 0.005  # 27% of the width, as the template.
  # The wild layout is what the aligner has to undo: pupils far off the template.
  wild = synthetic.landmarks_of(synthetic.sample_faces(0, np.arange(2000), layout="wild"), 64)
  wild_residual = np.linalg.norm(wild - alignment.template_landmarks(64), axis=-1)
  assert wild_residual[:, :2].mean() > 3.0


def test_layouts_are_the_same_faces_placed_differently():
  aligned = synthetic.sample_faces(4, np.arange(50))
  wild = synthetic.sample_faces(4, np.arange(50), layout="wild")
  placement = [synthetic.IDENTITY_FIELDS.index(name)
               for name in ("scale", "shift_x", "shift_y", "angle")]
  keep = np.setdiff1d(np.arange(len(synthetic.IDENTITY_FIELDS)), placement)
  np.testing.assert_array_equal(aligned.identity[:, keep], wild.identity[:, keep])
  np.testing.assert_array_equal(aligned.appearance, wild.appearance)
  np.testing.assert_array_equal(aligned.states, wild.states)
  assert np.abs(aligned.identity[:, placement] - wild.identity[:, placement]).max() > 0.1
  with pytest.raises(ValueError, match="aligned, wild"):
    synthetic.sample_faces(4, np.arange(2), layout="centred")


def test_wild_faces_aligned_by_their_landmarks_match_the_aligned_rendering():
  from pipelines import alignment
  indices = np.arange(12)
  wild = synthetic.sample_faces(6, indices, layout="wild")
  aligned = synthetic.sample_faces(6, indices)
  # Render the wild faces at 128 px so that aligning to 64 px shrinks them
  # rather than interpolating up.
  wild_images, _ = synthetic.render_faces(wild, 128)
  wild_landmarks = synthetic.landmarks_of(wild, 128)
  target_images, _ = synthetic.render_faces(aligned, 64)
  target_landmarks = synthetic.landmarks_of(aligned, 64)
  template = alignment.template_landmarks(64)
  for k in range(len(indices)):
    warped = alignment.align(wild_images[k], wild_landmarks[k], 64).numpy()
    params = alignment.similarity_params(wild_landmarks[k], template)
    moved = alignment.apply_similarity(params, wild_landmarks[k]).numpy()
    np.testing.assert_allclose(moved, target_landmarks[k], atol=0.05)
    # Pixels agree up to resampling blur (measured 32.5-40.8 dB on these 12
    # faces; two different aligned faces give 6-14 dB).
    mse = np.mean(np.square((warped - target_images[k]) / 2.0))
    assert 10 * np.log10(1.0 / mse) > 30.0, k


def test_eyeglass_frames_are_resolvable_at_64px():
  params = synthetic.sample_faces(1, np.arange(500))
  j = ATTRIBUTES.index("Eyeglasses")
  frame = params.appearance[:, j, synthetic.APPEARANCE_FIELDS["Eyeglasses"].index("frame_width")]
  scale = params.identity[:, synthetic.IDENTITY_FIELDS.index("scale")]
  # A local unit spans scale * 32 pixels at 64 px.
  assert (frame * scale * 32).min() >= 2.5
