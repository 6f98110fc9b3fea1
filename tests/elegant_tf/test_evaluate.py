"""End-to-end tests of the evaluation suite on a tiny trained model."""

import csv
import os

import numpy as np
import pytest
import tensorflow as tf

from elegant_tf import evaluate as evaluate_command
from elegant_tf.evaluation import classifier_lib as classifier
from elegant_tf.evaluation import evaluate_lib as evaluate
from elegant_tf.evaluation import ground_truth_eval
from elegant_tf.inference import model_loading
from pipelines import synthetic
from pipelines import uint8_pixels
from pipelines import usage
from tests import helpers


@pytest.fixture(scope="module")
def setup(tiny_run, tmp_path_factory):
  root = tmp_path_factory.mktemp("evaluate")
  source = synthetic.SyntheticFaces(32, split_sizes={"train": 64, "val": 24, "test": 24})
  classifier_dir = str(root / "classifier")
  classifier.train_classifier(
      source, classifier.ClassifierConfig(
          attributes=("Eyeglasses", "Bangs", "Smiling"), out=classifier_dir, train_steps=2,
          batch_size=8, base_width=4, max_width=8, test_images=16), verbose=0)
  return model_loading.load(tiny_run["config"].run_dir), source, classifier_dir, root


class NoGroundTruth:
  """The synthetic faces seen as a source without ground truth (no `params`)."""

  def __init__(self, source):
    self._source = source
    self.attribute_names = source.attribute_names
    self.image_size = source.image_size

  def labels(self, split):
    return self._source.labels(split)

  def batches(self, split, indices, batch_size, deterministic=True):
    return self._source.batches(split, indices, batch_size, deterministic)


def test_full_report_on_synthetic(setup):
  model, source, classifier_dir, root = setup
  out = str(root / "report")
  result = evaluate.evaluate(model, source, out, num_pairs=4, classifier_dir=classifier_dir,
                             realism_images=3, inception_size=75, progress=False)
  sections = result["sections"]
  swaps = [row["attribute"] for row in sections["ground_truth"]]
  assert swaps == ["Eyeglasses", "Bangs", "Eyeglasses+Bangs"]
  for row in sections["ground_truth"]:
    assert np.isfinite(row["C_out"]) and np.isfinite(row["ssim_paste_D_in"])
    # The oracle's exactness outside the region is a property of pasting.
    assert row["paste_C_out"] == row["copy_C_out"]
  classifier_row = sections["classifier"][0]
  assert {"editing_accuracy", "preservation_error", "copy_editing_accuracy",
          "truth_editing_accuracy"} <= set(classifier_row)
  realism_names = [row["attribute"] for row in sections["realism"]]
  assert realism_names == ["Eyeglasses (added)", "Eyeglasses (removed)", "Bangs (added)",
                           "Bangs (removed)"]
  assert all(row["edited"] == 3 and row["real"] == 3 for row in sections["realism"])
  report = open(os.path.join(out, "results.md")).read()
  assert report == result["report"]
  assert "RANDOM weights" in report and "resized bilinearly to 75x75" in report
  with open(os.path.join(out, "results.csv")) as f:
    rows = list(csv.DictReader(f))
  assert {"ground_truth", "classifier", "classifier_accuracy", "realism"} == {
      row["section"] for row in rows}
  assert len(result["figures"]) == 4 and all(os.path.exists(p) for p in result["figures"])
  assert os.path.basename(result["figures"][-1]) == "overview.png"


def test_overview_stacks_two_pairs_of_each_one_attribute_swap_at_twice_the_size(tmp_path):
  rng = np.random.default_rng(0)
  keys = ("image_a", "image_b", "edited_c", "edited_d", "truth_c", "truth_d")
  outputs = {swap: {key: rng.uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32) for key in keys}
             for swap in ("Eyeglasses", "Bangs", "Eyeglasses+Bangs")}
  path = evaluate.overview_sheet(outputs, str(tmp_path))
  picture = tf.io.decode_png(tf.io.read_file(path)).numpy()
  # Four rows (two pairs of each single swap; the double swap is left out) of six
  # 16 px tiles, 4 px apart.
  assert picture.shape == (4 * 16 + 3 * 4, 6 * 16 + 5 * 4, 3)
  cell = 16 + 4
  bangs_second_pair_truth_d = picture[3 * cell:3 * cell + 16, 5 * cell:5 * cell + 16]
  expected = uint8_pixels.to_uint8(outputs["Bangs"]["truth_d"][1])
  np.testing.assert_array_equal(bangs_second_pair_truth_d[::2, ::2], expected)
  np.testing.assert_array_equal(bangs_second_pair_truth_d[1::2, 1::2], expected)
  assert evaluate.overview_sheet({"Eyeglasses+Bangs": outputs["Bangs"]}, str(tmp_path)) is None


def test_copy_baseline_scores_are_the_classifier_errors_on_the_inputs(setup):
  model, source, classifier_dir, root = setup
  result = evaluate.evaluate(model, source, str(root / "copy"), num_pairs=4,
                             swaps=["Bangs"], classifier_dir=classifier_dir, progress=False)
  row = result["sections"]["classifier"][0]
  # Unedited, A still has Bangs and B still lacks it: every correct read of the
  # inputs is a failed edit, and every misread of another attribute an error.
  pairs = ground_truth_eval.swap_ground_truth(source, "Bangs", 4)
  network, _ = classifier.load(classifier_dir)
  read_a = classifier.predict_probabilities(network, pairs["image_a"]) > 0.5
  read_b = classifier.predict_probabilities(network, pairs["image_b"]) > 0.5
  reads_bangs = np.concatenate([read_a[:, 1], ~read_b[:, 1]]).mean()
  assert row["copy_editing_accuracy"] == pytest.approx(1.0 - reads_bangs)
  # Removal (C from A) and addition (D from B) are also reported apart.
  assert row["copy_editing_accuracy_C"] == pytest.approx(1.0 - read_a[:, 1].mean())
  assert row["copy_editing_accuracy_D"] == pytest.approx(read_b[:, 1].mean())
  others = [0, 2]  # Eyeglasses, Smiling against each image's own labels.
  labels = np.concatenate([pairs["labels_a"], pairs["labels_b"]])[:, others] > 0.5
  reads = np.concatenate([read_a, read_b])[:, others]
  assert row["copy_preservation_error"] == pytest.approx((reads != labels).mean())
  assert "realism" not in result["sections"]


def test_source_without_ground_truth_reports_reconstruction(setup):
  model, source, _, root = setup
  result = evaluate.evaluate(model, NoGroundTruth(source), str(root / "real"), num_pairs=4,
                             swaps=["Eyeglasses"], progress=False)
  row = result["sections"]["reconstruction"][0]
  assert row["pairs"] == 4 and np.isfinite(row["reconstruction"])
  assert "ground_truth" not in result["sections"]


def test_unknown_swap_is_a_usage_error(setup):
  model, source, _, root = setup
  with pytest.raises(evaluate.EvaluationRequestError,
                     match=r"^the swaps name \['Mustache'\], not attributes of the model: "
                     ) as raised:
    evaluate.evaluate(model, source, str(root / "bad"), swaps=["Mustache"], progress=False)
  assert raised.value.parameter == "swaps"  # The command adds the flag: --swaps.


def test_cli_names_the_flag_of_the_argument_evaluate_refuses(tmp_path, capsys):
  # evaluate_lib names its argument (EvaluationRequestError.parameter), the command the flag.
  out = tmp_path / "out"
  result = helpers.run_in_process(evaluate_command.run, f"--model={helpers.DEMO_MODEL}",
                                  "--swaps=Wings", f"--out={out}", capsys=capsys)
  assert result.returncode == 2, result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      "evaluate: --swaps: the swaps name ['Wings'], not attributes of the model: Eyeglasses, "
      "Bangs, Smiling, Mustache")


def test_importing_defines_no_flags():
  from absl import flags
  assert "realism_images" not in flags.FLAGS and "model" not in flags.FLAGS


@pytest.mark.slow
def test_cli_bad_use_exits_2_with_one_line(tmp_path):
  # A subprocess: the one test that the command runs from `python -m`.
  result = helpers.run_module("elegant_tf.evaluate", "--model=/nonexistent", f"--out={tmp_path}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith(
      "evaluate: --model: /nonexistent is neither a SavedModel")


def test_cli_refuses_a_non_empty_out_without_overwrite(tmp_path, capsys):
  (tmp_path / "results.md").write_text("earlier results")
  command = ["--model=/nonexistent", f"--out={tmp_path}"]
  result = helpers.run_in_process(evaluate_command.run, *command, capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f"evaluate: --out={tmp_path} is not empty; pass --overwrite to replace its results")
  assert (tmp_path / "results.md").read_text() == "earlier results"
  # With --overwrite the check passes (and the missing model is the next problem).
  result = helpers.run_in_process(evaluate_command.run, *command, "--overwrite", capsys=capsys)
  assert result.returncode == 2 and "evaluate: --model: /nonexistent is neither" in result.stderr


def test_cli_precision_other_than_float32_is_refused_for_an_export(tmp_path, capsys,
                                                                   monkeypatch):
  out = tmp_path / "out"
  monkeypatch.chdir(helpers.REPO)  # The model path is relative, as a user would type it.
  result = helpers.run_in_process(evaluate_command.run, "--model=saved_models/elegant_demo",
                                  "--precision=mixed_bfloat16", f"--out={out}", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      "evaluate: --precision=mixed_bfloat16: only a run directory computes in another "
      "precision than float32; saved_models/elegant_demo is an export")
  assert not out.exists()
