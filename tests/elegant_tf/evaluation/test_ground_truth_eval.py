"""Tests of the ground-truth swap evaluation with stand-in transfers (no training)."""

import numpy as np
import pytest

from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.evaluation import psnr
from pipelines import synthetic

ATTRIBUTES = ("Eyeglasses", "Bangs")


@pytest.fixture(scope="module")
def source():
  return synthetic.SyntheticFaces(32, split_sizes={"test": 60})


class CopyModel:
  """A TransferModel-like object that returns its inputs unchanged."""

  attribute_names = ATTRIBUTES

  def transfer(self, image, exemplar, attributes):
    return {"edited": image, "exemplar_edited": exemplar}


def keras_like_copy(inputs):
  """The Keras generator's calling convention: one dict in, a dict out."""
  return {"edited": inputs["image"], "exemplar_edited": inputs["exemplar"]}


def test_identity_transfer_equals_the_copy_baseline(source):
  rows = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 6)
  for row in rows:
    for output in ("C", "D"):
      for region in ("in", "out"):
        for metric in ("psnr", "ssim"):
          model = row[ground_truth_eval.metric_key("model", output, region, metric)]
          copy = row[ground_truth_eval.metric_key("copy", output, region, metric)]
          assert model == copy
    assert row["reconstruction"] == float("inf") and row["ssim_reconstruction"] > 0.999
    # A copy is wrong inside the region and right outside it.
    assert row["C_in"] < row["C_out"]


def test_keras_style_generator_and_transfer_model_agree(source):
  from_model = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4,
                                                with_ssim=False)
  from_keras = ground_truth_eval.evaluate_swaps(keras_like_copy, source, ATTRIBUTES, 4,
                                                with_ssim=False)
  assert from_model == from_keras


def test_oracle_paste_changes_only_the_region_and_helps_inside(source):
  pairs = ground_truth_eval.swap_ground_truth(source, "Eyeglasses", 8)
  outside = ~pairs["region_c"]
  np.testing.assert_array_equal(pairs["paste_c"][outside], pairs["image_a"][outside])
  inside_paste = psnr.psnr(pairs["paste_d"], pairs["truth_d"], pairs["region_d"])
  inside_copy = psnr.psnr(pairs["image_b"], pairs["truth_d"], pairs["region_d"])
  assert inside_paste > inside_copy


def test_multi_attribute_swap_exchanges_both_and_covers_both_regions(source):
  single = [ground_truth_eval.swap_ground_truth(source, name, 8) for name in ATTRIBUTES]
  both = ground_truth_eval.swap_ground_truth(source, "Eyeglasses+Bangs", 8)
  # Pairs are chosen on the first attribute, so A and B match the single swap's.
  np.testing.assert_array_equal(both["index_a"], single[0]["index_a"])
  assert np.all(both["region_c"] >= single[0]["region_c"])
  assert both["region_d"].sum() > single[0]["region_d"].sum()
  expected_d, _ = synthetic.render_faces(
      synthetic.exchange_attributes(source.params("test", both["index_b"]),
                                    source.params("test", both["index_a"]),
                                    list(ATTRIBUTES)), 32)
  np.testing.assert_array_equal(both["truth_d"], expected_d)
  rows = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4,
                                          swaps=["Eyeglasses+Bangs"], with_ssim=False)
  assert [row["attribute"] for row in rows] == ["Eyeglasses+Bangs"]


def test_markdown_table_keeps_the_training_columns(source):
  rows = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4, with_ssim=False)
  table = ground_truth_eval.markdown_table(rows)
  assert table.splitlines()[0] == "| " + " | ".join(ground_truth_eval.COLUMNS) + " |"
  assert len(table.splitlines()) == 2 + len(ATTRIBUTES)
  assert "paste_C_in" in ground_truth_eval.full_columns("psnr")
  assert "ssim_paste_D_out" in ground_truth_eval.full_columns("ssim")


class GenericOracleModel:
  """Returns the generic oracle as D (and copies A as C): D_gain must be 100%."""

  attribute_names = ATTRIBUTES

  def __init__(self, source):
    self.source = source

  def transfer(self, image, exemplar, attributes):
    pairs = ground_truth_eval.swap_ground_truth(self.source, "Eyeglasses", len(image))
    assert np.array_equal(pairs["image_b"], exemplar)
    return {"edited": image, "exemplar_edited": pairs["generic_d"]}


def test_generic_oracle_draws_the_mean_style_at_the_exemplar_geometry(source):
  pairs = ground_truth_eval.swap_ground_truth(source, "Eyeglasses", 8)
  style = synthetic.mean_style(source.seed)
  params_b = synthetic.with_generic_attributes(source.params("test", pairs["index_b"]),
                                               ["Eyeglasses"], style)
  assert params_b.states[:, 0].all()
  np.testing.assert_array_equal(params_b.appearance[:, 0], np.broadcast_to(
      style[0], params_b.appearance[:, 0].shape))
  generic_images, generic_masks = synthetic.render_faces(params_b, 32)
  np.testing.assert_array_equal(pairs["generic_d"], generic_images)
  # It changes B only where its own generic glasses are drawn (their shape is
  # the mean one, not the exemplar's), and gets closer to the truth inside.
  outside = generic_masks[..., 0] == 0
  np.testing.assert_array_equal(pairs["generic_d"][outside], pairs["image_b"][outside])
  generic = psnr.psnr(pairs["generic_d"], pairs["truth_d"], pairs["region_d"])
  copy = psnr.psnr(pairs["image_b"], pairs["truth_d"], pairs["region_d"])
  assert generic > copy


def test_d_gain_is_the_share_of_the_generic_oracles_gain(source):
  copy_row = ground_truth_eval.evaluate_swaps(CopyModel(), source, ("Eyeglasses",), 8,
                                              with_ssim=False)[0]
  assert copy_row["D_gain"] == pytest.approx(0.0)
  oracle_row = ground_truth_eval.evaluate_swaps(GenericOracleModel(source), source,
                                                ("Eyeglasses",), 8, with_ssim=False,
                                                batch_size=8)[0]
  assert oracle_row["D_in"] == pytest.approx(oracle_row["generic_D_in"])
  assert oracle_row["D_gain"] == pytest.approx(100.0)
  assert ground_truth_eval.gain_percent(31.0, 30.0, 34.0) == pytest.approx(25.0)
  assert np.isnan(ground_truth_eval.gain_percent(31.0, 30.0, 29.0))


def test_scales_give_one_row_per_swap_and_scale_and_refuse_keeping_outputs(source):
  plain = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4, with_ssim=False)
  assert all("scale" not in row for row in plain)
  scaled = ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4,
                                            with_ssim=False, scales=(1.0, 0.5))
  assert [(row["attribute"], row["scale"]) for row in scaled] == [
      ("Eyeglasses", 1.0), ("Eyeglasses", 0.5), ("Bangs", 1.0), ("Bangs", 0.5)]
  assert scaled[0]["C_in"] == plain[0]["C_in"]
  with pytest.raises(ValueError, match="at most one scale"):
    ground_truth_eval.evaluate_swaps(CopyModel(), source, ATTRIBUTES, 4, keep_outputs={},
                                     scales=(1.0, 0.5))
