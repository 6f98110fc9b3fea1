import os
import re
import shutil

import numpy as np
import pytest

from elegant_tf.inference import layout
from elegant_tf.inference import model_loading
from elegant_tf.models import latent_swap
from elegant_tf.models import precision
from elegant_tf.training import train_config
from pipelines import usage
from tests import helpers
from tests.elegant_tf import tiny


def test_run_dir_saved_model_and_model_folder_give_the_same_transfer(tiny_export):
  # The session's tiny run and its export (conftest.py); only read here.
  config, version_dir = tiny_export["config"], tiny_export["version_dir"]
  batch = tiny.random_pair_batch()
  weights = np.array([[1, 0], [0, 1], [1, 1], [0.5, 0]], np.float32)
  outputs = []
  for path in (config.run_dir, version_dir, tiny_export["export_dir"]):
    model = model_loading.load(path)
    assert model.attribute_names == ("Eyeglasses", "Bangs") and model.image_size == 32
    outputs.append(model.transfer(batch["image_a"], batch["image_b"], weights))
  for other in outputs[1:]:
    for key in ("edited", "exemplar_edited"):
      np.testing.assert_allclose(other[key], outputs[0][key], atol=1e-5)
  # encode/decode agree between the checkpoint and the SavedModel signatures, and
  # decoding a half-swapped code equals a transfer at strength 0.5.
  run_model, saved = model_loading.load(config.run_dir), model_loading.load(version_dir)
  latent, skips = run_model.encode(batch["image_a"])
  saved_latent, saved_skips = saved.encode(batch["image_a"])
  np.testing.assert_allclose(saved_latent, latent, atol=1e-5)
  exemplar_latent, _ = saved.encode(batch["image_b"])
  half = np.full_like(weights, 0.5)
  edited_latent = np.asarray(latent_swap.swap_latent_slabs(latent, exemplar_latent, weights * 0.5))
  for model in (run_model, saved):
    np.testing.assert_allclose(
        model.decode(batch["image_a"], edited_latent, latent, skips),
        model.transfer(batch["image_a"], batch["image_b"], weights, half)["edited"], atol=1e-5)
  assert saved.add_attribute is not None and run_model.add_attribute is None
  # The same checkpoint restores into a bfloat16-computing generator (variables are
  # float32 under every policy). bfloat16 keeps 8 significant bits (relative step
  # 2**-8 = 0.4%); over a few layers the outputs in [-1, 1] stay within a few
  # hundredths, while any mis-restored weight would move them by tenths.
  bf16 = model_loading.load(config.run_dir, "mixed_bfloat16")
  assert precision.compute_dtype(bf16.generator) == "bfloat16"
  bf16_out = bf16.transfer(batch["image_a"], batch["image_b"], weights)
  for key in ("edited", "exemplar_edited"):
    assert bf16_out[key].dtype == np.float32
    difference = np.abs(bf16_out[key] - outputs[0][key])
    assert difference.mean() < 0.01 and difference.max() < 0.1, key
  for export_path in (version_dir, tiny_export["export_dir"]):
    with pytest.raises(model_loading.ModelFileError,
                       match="^only a run directory computes in another precision than "
                             f"float32; {re.escape(export_path)} is an export$"):
      model_loading.load(export_path, "mixed_bfloat16")


def test_missing_tflite_file_is_named(tmp_path):
  with pytest.raises(model_loading.ModelFileError, match="model.tflite: no such .tflite file$"):
    model_loading.load(str(tmp_path / "model.tflite"))


def test_unknown_path_names_the_accepted_forms_and_no_flag(tmp_path):
  # The web page and Python callers typed no --model: the message names the path only.
  with pytest.raises(model_loading.ModelFileError,
                     match=f"^{re.escape(str(tmp_path))} is neither a SavedModel") as raised:
    model_loading.load(str(tmp_path))
  assert "--" not in str(raised.value)


def test_flagfile_round_trip(tmp_path):
  config = tiny.tiny_config(tmp_path, deterministic=False, export_dir=None)
  path = tmp_path / "flags.txt"
  path.write_text(config.to_flagfile())
  assert train_config.TrainConfig.from_flagfile(str(path)) == config


def _truncate(relative, size):
  def damage(version_dir):
    path = os.path.join(version_dir, relative)
    with open(path, "rb") as f:
      content = f.read(size)
    with open(path, "wb") as f:
      f.write(content)
    return version_dir
  return damage


def _write(relative, content):
  def damage(version_dir):
    with open(os.path.join(version_dir, relative), "w") as f:
      f.write(content)
    return version_dir
  return damage


def _remove_metadata(version_dir):
  os.remove(os.path.join(version_dir, "assets", layout.METADATA_FILE))
  return version_dir


def _random_tflite(version_dir):
  path = os.path.join(version_dir, "model.tflite")
  with open(path, "wb") as f:
    f.write(np.random.default_rng(0).bytes(10_000))
  return path


@pytest.mark.parametrize("damage, message", [
    (_truncate("saved_model.pb", 1000), r"1/saved_model.pb cannot be loaded \(truncated or "
     r"corrupt\)"),
    (_truncate("variables/variables.data-00000-of-00001", 1000),
     r"1/variables cannot be restored \(truncated or corrupt: "),
    (_truncate("variables/variables.index", 100),
     r"1/variables cannot be restored \(truncated or corrupt: "),
    (_write("assets/elegant_metadata.json", '{"attribute_names": 5, "image_size": 64}'),
     r"1/assets/elegant_metadata.json: attribute_names must be a non-empty list of names, not 5"),
    (_write("assets/elegant_metadata.json", "{not json"),
     r"1/assets/elegant_metadata.json is not JSON \("),
    (_remove_metadata, r"1/assets/elegant_metadata.json is missing: .*1 was not exported by"),
    (_random_tflite, r"1/model.tflite is not a TFLite model \(truncated or corrupt\)"),
], ids=["truncated graph", "truncated variables", "truncated variables index",
        "metadata of the wrong type", "metadata not JSON", "metadata missing", "random tflite"])
def test_a_damaged_model_is_one_error_naming_the_file(tmp_path, capsys, damage, message):
  version_dir = str(tmp_path / "1")
  shutil.copytree(os.path.join(helpers.REPO, "saved_models", "elegant_demo", "1"), version_dir)
  path = damage(version_dir)
  with pytest.raises(model_loading.ModelFileError, match=message) as raised:
    model_loading.load(path)
  # The commands (transfer, evaluate, demo) turn it into one line and exit 2.
  assert isinstance(raised.value, ValueError)
  with pytest.raises(SystemExit) as exited:
    usage.fail("transfer", raised.value)
  assert exited.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
