import dataclasses
import os
import re
import shutil

import numpy as np
import pytest

from elegant_tf.inference import model_loading
from elegant_tf.training import checkpointing
from elegant_tf.training import train_lib
from tests.elegant_tf import tiny


def _restored_weights(config):
  gan = train_lib.build_gan(config)
  step = checkpointing.restore_latest(checkpointing.checkpoint_manager(gan, config.run_dir))
  return step, [v.numpy() for v in gan.generator.weights + gan.discriminator_variables
                + gan.generator_optimizer.variables]


def test_checkpoint_of_a_different_model_is_an_error_not_a_partial_load(tiny_run):
  config = tiny_run["config"]  # Only read here.
  wider = dataclasses.replace(config, encoder_max_width=32)
  with pytest.raises(ValueError, match="does not match the model"):
    _restored_weights(wider)


def test_no_checkpoint_means_step_zero(tmp_path):
  step, _ = _restored_weights(tiny.tiny_config(tmp_path))
  assert step == 0



def test_networks_restore_alone_through_the_object_graph(tiny_run):
  # Inference restores the generator without optimizers; that only works if
  # every layer is a checkpoint child (layers in plain lists were not).
  import tensorflow as tf
  config = tiny_run["config"]  # Only read here.
  _, trained = _restored_weights(config)
  fresh = train_lib.build_gan(config)
  latest = tf.train.latest_checkpoint(f"{config.run_dir}/checkpoints")
  tf.train.Checkpoint(generator=fresh.generator, discriminator_full=fresh.discriminator_full,
                      discriminator_half=fresh.discriminator_half).restore(
                          latest).expect_partial().assert_existing_objects_matched()
  alone = [v.numpy() for v in fresh.generator.weights + fresh.discriminator_variables]
  for a, b in zip(alone, trained):
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def four_step_run(tiny_run):
  """The session's tiny run, with checkpoints at steps 2 and 4; tests damage copies of it."""
  config = tiny_run["config"]
  assert (config.train_steps, config.checkpoint_every) == (4, 2)
  return config


def _damaged_copy(run, tmp_path, damage):
  run_dir = str(tmp_path / "run")
  shutil.copytree(run.run_dir, run_dir)
  damage(os.path.join(run_dir, "checkpoints"))
  return dataclasses.replace(run, run_dir=run_dir)


def _truncate(path):
  os.truncate(path, os.path.getsize(path) // 2)


def _only_checkpoint(folder, step):
  """Leave checkpoint `step` alone in `folder`, as a run killed right after saving it."""
  for name in os.listdir(folder):
    if name.startswith("ckpt-") and not name.startswith(f"ckpt-{step}."):
      os.remove(os.path.join(folder, name))
  with open(os.path.join(folder, "checkpoint"), "w") as f:
    f.write(f'model_checkpoint_path: "ckpt-{step}"\n')


def test_interrupted_and_resumed_run_equals_uninterrupted_run(four_step_run, tmp_path):
  # The session's run as if killed after its checkpoint at step 2, then resumed: the same
  # data stream and the same weights as the run that went to step 4 uninterrupted.
  interrupted = _damaged_copy(four_step_run, tmp_path, lambda folder: _only_checkpoint(folder, 2))
  assert _restored_weights(interrupted)[0] == 2
  train_lib.train(interrupted)
  step_a, weights_a = _restored_weights(four_step_run)
  step_b, weights_b = _restored_weights(interrupted)
  assert step_a == step_b == 4
  for a, b in zip(weights_a, weights_b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("damaged_file", ["ckpt-4.data-00000-of-00001", "ckpt-4.index"])
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(
    four_step_run, tmp_path, caplog, damaged_file):
  config = _damaged_copy(four_step_run, tmp_path,
                         lambda folder: _truncate(os.path.join(folder, damaged_file)))
  step, _ = _restored_weights(config)
  assert step == 2
  assert re.search(r"skipped checkpoint \S*ckpt-4: it cannot be read", caplog.text)


@pytest.mark.parametrize("damage, step", [
    (lambda folder: _truncate(os.path.join(folder, "ckpt-4.data-00000-of-00001")), 2),
    (lambda folder: open(os.path.join(folder, "checkpoint"), "w").write("garbage {{"), 4),
])
def test_inference_loading_falls_back_like_training(four_step_run, tmp_path, damage, step):
  config = _damaged_copy(four_step_run, tmp_path, damage)
  model = model_loading.load_run_dir(config.run_dir)
  assert model.source.endswith(f"ckpt-{step}")
  reference = _damaged_copy(four_step_run, tmp_path / "reference", lambda folder: None)
  _only_checkpoint(os.path.join(reference.run_dir, "checkpoints"), step)
  expected = model_loading.load_run_dir(reference.run_dir).generator.weights
  for a, b in zip(model.generator.weights, expected):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_garbage_state_file_still_finds_the_newest_checkpoint(four_step_run, tmp_path, caplog):
  def garbage(folder):
    with open(os.path.join(folder, "checkpoint"), "w") as f:
      f.write("\x00not a checkpoint state {{\n")
  config = _damaged_copy(four_step_run, tmp_path, garbage)
  step, weights = _restored_weights(config)
  assert step == 4
  assert "state file is missing or unreadable" in caplog.text
  _, original = _restored_weights(four_step_run)
  for a, b in zip(weights, original):
    np.testing.assert_array_equal(a, b)


def test_no_restorable_checkpoint_is_an_error_not_step_zero(four_step_run, tmp_path):
  def truncate_all(folder):
    for name in os.listdir(folder):
      if name.startswith("ckpt-"):
        _truncate(os.path.join(folder, name))
  config = _damaged_copy(four_step_run, tmp_path, truncate_all)
  with pytest.raises(ValueError, match="no checkpoint in .* can be restored.*ckpt-4 cannot "
                     "be read.*ckpt-2 cannot be read.*refusing to start from step 0"):
    _restored_weights(config)


def _resumes_in_the_other_precision(config, second):
  # Variables and optimizer state are float32 under every policy, so the
  # checkpoint is the same object graph with the same dtypes.
  step_first, weights_first = _restored_weights(config)
  switched = dataclasses.replace(config, precision=second, train_steps=step_first + 2)
  step_second, weights_second = _restored_weights(switched)
  assert step_second == step_first
  for a, b in zip(weights_first, weights_second):  # Restored bit for bit.
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
  result = train_lib.train(switched)  # Resumes in the other precision.
  assert result["step"] == step_first + 2
  assert f"--precision={second}" in open(os.path.join(config.run_dir, "flags.txt")).read()
  step, weights = _restored_weights(switched)
  assert step == step_first + 2
  assert all(np.isfinite(w).all() for w in weights)
  assert any(np.abs(a - b).max() > 0 for a, b in zip(weights, weights_second))


def test_a_float32_checkpoint_resumes_in_bfloat16(tiny_run, tmp_path):
  config = tiny.copy_of_run(tiny_run, tmp_path)  # float32, trained to step 4.
  assert config.precision == "float32" and config.train_steps == 4
  _resumes_in_the_other_precision(config, "mixed_bfloat16")


def test_a_bfloat16_checkpoint_resumes_in_float32(tiny_bf16_run, tmp_path):
  config = dataclasses.replace(tiny.copy_of_run(tiny_bf16_run, tmp_path), export_dir=None,
                               eval_pairs=0)
  assert config.precision == "mixed_bfloat16" and config.train_steps == 2
  _resumes_in_the_other_precision(config, "float32")
