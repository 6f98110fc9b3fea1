"""Tests of training, saving, loading and the CLI of the attribute classifier."""

import json
import os

import numpy as np
import pytest

from elegant_tf import classifier as classifier_command
from elegant_tf.evaluation import classifier_lib as classifier
from pipelines import long_lived
from pipelines import synthetic
from pipelines import usage
from tests import helpers


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("classifier"))
  source = synthetic.SyntheticFaces(32, split_sizes={"train": 200, "test": 40})
  config = classifier.ClassifierConfig(attributes=("Bangs", "Wearing_Hat"), out=out,
                                       train_steps=3, batch_size=8, base_width=4, max_width=8,
                                       test_images=40)
  metadata = classifier.train_classifier(source, config, verbose=0)
  return out, source, metadata


def test_training_reads_its_batches_without_the_autotuning_thread(tmp_path, monkeypatch):
  # fit's iterator lives the whole run; deleting it waited on that thread (long_lived).
  seen, original = [], long_lived.without_autotuning

  def recording(dataset):
    seen.append(dataset)
    return original(dataset)

  monkeypatch.setattr(classifier.long_lived, "without_autotuning", recording)
  source = synthetic.SyntheticFaces(32, split_sizes={"train": 40, "test": 8})
  config = classifier.ClassifierConfig(attributes=("Bangs",), out=str(tmp_path), train_steps=1,
                                       batch_size=4, base_width=4, max_width=4, test_images=8)
  classifier.train_classifier(source, config, verbose=0)
  assert len(seen) == 1 and seen[0].element_spec[0].shape[1:] == (32, 32, 3)


@pytest.mark.slow
def test_saves_model_and_metadata_with_per_attribute_accuracy(trained):
  out, _, metadata = trained
  assert os.path.exists(os.path.join(out, classifier.MODEL_FILE))
  with open(os.path.join(out, classifier.METADATA_FILE)) as f:
    assert json.load(f) == metadata
  assert metadata["attribute_names"] == ["Bangs", "Wearing_Hat"]
  assert metadata["test_examples"] == 40  # Every test example, though fewer than a batch.
  assert set(metadata["test_accuracy"]) == {"Bangs", "Wearing_Hat"}
  assert 0.0 <= metadata["mean_test_accuracy"] <= 1.0
  assert "| mean |" in classifier.accuracy_table(metadata)


@pytest.mark.slow
def test_loaded_model_reproduces_the_reported_accuracy(trained):
  out, source, metadata = trained
  model, loaded_metadata = classifier.load(out)
  columns = [source.attribute_names.index(name) for name in loaded_metadata["attribute_names"]]
  accuracy, seen = classifier.test_accuracy(model, source, columns, "test", 40)
  assert seen == 40
  np.testing.assert_allclose(accuracy, [metadata["test_accuracy"]["Bangs"],
                                        metadata["test_accuracy"]["Wearing_Hat"]])
  probabilities = classifier.predict_probabilities(model, np.zeros((3, 32, 32, 3)))
  assert probabilities.shape == (3, 2) and np.all((probabilities > 0) & (probabilities < 1))


def test_unknown_attribute_is_a_usage_error(tmp_path):
  source = synthetic.SyntheticFaces(32, split_sizes={"train": 50, "test": 50})
  with pytest.raises(usage.UsageError, match="not in the data"):
    classifier.train_classifier(
        source, classifier.ClassifierConfig(attributes=("Bald",), out=str(tmp_path),
                                            train_steps=1))


def test_missing_classifier_names_the_command(tmp_path):
  with pytest.raises(FileNotFoundError, match="elegant_tf.classifier"):
    classifier.load(str(tmp_path))


def test_cli_bad_use_exits_2_with_one_line(tmp_path, capsys):
  result = helpers.run_in_process(classifier_command.run, "--image_size=40", f"--out={tmp_path}",
                                  capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("classifier: --image_size")


def test_cli_without_out_exits_2_naming_it(capsys):
  result = helpers.run_in_process(classifier_command.run, "--image_size=64", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      "classifier: --out=DIR is required (where the classifier is saved)")


def test_the_shipped_classifier_flagfile_is_valid():
  config = classifier.ClassifierConfig.from_flagfile(
      os.path.join(helpers.REPO, "elegant_tf", "configs", "classifier_synthetic.flags"))
  config.validate()
  assert (config.image_size, config.base_width, config.attributes) == (64, 16, None)


@pytest.mark.slow
def test_cli_bad_use_exits_2_from_python_m(tmp_path):
  # The same check in a subprocess: the one test that the command runs from `python -m`.
  result = helpers.run_module("elegant_tf.classifier", "--image_size=40", f"--out={tmp_path}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("classifier: --image_size")


def test_every_bad_setting_is_listed_in_one_line(capsys):
  result = helpers.run_in_process(classifier_command.run, "--image_size=33", capsys=capsys)
  assert result.returncode == 2
  assert result.stderr.strip() == (
      "classifier: invalid settings: --out=DIR is required (where the classifier is saved); "
      "--image_size must be a positive multiple of 32, got 33")
