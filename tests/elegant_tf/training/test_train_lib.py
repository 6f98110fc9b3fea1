"""train_lib.train end to end (tiny model, a few steps): every real-data source, bad
data, what a resume may change, one trainer per run directory."""

import dataclasses
import os
import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from elegant_tf.inference import layout
from elegant_tf.training import gan_trainer
from elegant_tf.training import train_config
from elegant_tf.training import train_lib
from pipelines import celeba
from pipelines import prepare
from pipelines import fixtures
from tests import helpers
from tests.elegant_tf import tiny

# Every test here trains.
pytestmark = pytest.mark.slow


def _data_spec(kind, tmp_path):
  root = str(tmp_path / "data")
  if kind == "celeba":
    fixtures.make_celeba(root)
    return f"celeba:{root}"
  if kind == "folder":
    fixtures.make_folder(root)
    return f"folder:{root}"
  if kind == "tfrecord":
    fixtures.make_celeba(root)
    out = str(tmp_path / "prepared")
    prepare.prepare(celeba.open_source(root, 32), f"celeba:{root}", out,
                    examples_per_shard=8, verbose=False)
    return f"tfrecord:{out}"
  return "tfds:celeb_a"


@pytest.mark.parametrize("kind", ["celeba", "folder", "tfrecord", "tfds"])
def test_each_real_source_feeds_training(tmp_path, kind):
  spec = _data_spec(kind, tmp_path)
  config = dataclasses.replace(tiny.tiny_config(tmp_path, data=spec, train_steps=2,
                                                eval_pairs=0),
                               attributes=("Smiling", "Eyeglasses") if kind == "folder"
                               else ("Bangs", "Eyeglasses"))
  if kind == "tfds":
    with tfds.testing.mock_data(as_dataset_fn=helpers.mock_celeb_a_as_dataset):
      result = train_lib.train(config)
  else:
    result = train_lib.train(config)
  assert result["step"] == 2
  assert os.path.getsize(result["sample_grid"]) > 100
  assert os.path.exists(os.path.join(config.run_dir, "checkpoints", "checkpoint"))


def test_bad_files_among_positives_do_not_break_the_end_of_run_export(tmp_path):
  # The fixture's truncated, empty, missing and other bad files are Eyeglasses positives:
  # the prototype pass at export used to find no full batch and crash after training.
  spec = _data_spec("celeba", tmp_path)
  config = dataclasses.replace(tiny.tiny_config(tmp_path, data=spec, train_steps=3,
                                                eval_pairs=0,
                                                export_dir=str(tmp_path / "model")),
                               attributes=("Bangs", "Eyeglasses"))
  result = tiny.train_as_command(config)
  assert result["step"] == 3
  assert layout.read_metadata(result["export"])["prototype_attributes"] == ["Bangs",
                                                                             "Eyeglasses"]


def test_unusable_positives_stop_training_with_a_config_error(tmp_path, monkeypatch):
  # Every train image with Eyeglasses is truncated: the pair stream used to retry forever.
  root = str(tmp_path / "data")
  count = helpers.celeba_with_unusable(root, monkeypatch)
  config = dataclasses.replace(tiny.tiny_config(tmp_path, data=f"celeba:{root}",
                                                train_steps=3, eval_pairs=0),
                               attributes=("Bangs", "Eyeglasses"))
  with pytest.raises(train_config.ConfigError,
                     match=f"all {count} images with 'Eyeglasses' in split 'train' are "
                     "unusable") as raised:
    train_lib.train(config)
  assert "\n" not in str(raised.value)


@pytest.mark.parametrize("changes, named", [
    # Other names, same count: the old weights would resume silently under new names.
    # The library names settings bare; train.py puts the message after "--run_dir:".
    (dict(attributes=("Smiling", "Mustache")), "(attributes Eyeglasses,Bangs -> Smiling,Mustache)"),
    (dict(image_size=64), "(image_size 32 -> 64)"),
    (dict(seed=1, encoder_max_width=32), "(seed 0 -> 1, encoder_max_width 16 -> 32)"),
])
def test_resume_refuses_changes_to_the_model_or_data_and_keeps_flags(
    tiny_run, tmp_path, changes, named):
  config = tiny.copy_of_run(tiny_run, tmp_path)
  flags_path = os.path.join(config.run_dir, "flags.txt")
  before = open(flags_path).read()
  with pytest.raises(train_config.ConfigError, match="other settings that define the model"
                     ) as raised:
    train_lib.train(dataclasses.replace(config, **changes))
  assert named in str(raised.value)
  assert open(flags_path).read() == before


def test_resume_may_change_the_schedule_and_records_it(tiny_run, tmp_path):
  config = tiny.copy_of_run(tiny_run, tmp_path)
  result = train_lib.train(dataclasses.replace(config, train_steps=5, checkpoint_every=5))
  assert result["step"] == 5
  text = open(os.path.join(config.run_dir, "flags.txt")).read()
  assert "--train_steps=5" in text
  assert ("# resumed at step 4 with --train_steps 4 -> 5, --checkpoint_every 2 -> 5"
          in text.splitlines())
  saved = train_config.TrainConfig.from_flagfile(os.path.join(config.run_dir, "flags.txt"))
  assert saved.train_steps == 5 and saved.checkpoint_every == 5


def test_a_second_trainer_on_a_locked_run_dir_fails_naming_the_holder(tmp_path):
  config = tiny.tiny_config(tmp_path, train_steps=2, eval_pairs=0)
  holder = subprocess.Popen(
      [sys.executable, "-c",
       "import sys\nfrom elegant_tf.training import run_lock\n"
       f"with run_lock.hold({config.run_dir!r}):\n"
       "  print('locked', flush=True)\n  sys.stdin.read()\n"],
      cwd=helpers.REPO, env=helpers.subprocess_env(), stdin=subprocess.PIPE,
      stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    # The library speaks of the folder; the command adds --run_dir (test_train.py).
    with pytest.raises(train_config.SettingError,
                       match=f"^.* is in use by another trainer "
                       f"\\(pid {holder.pid} on ") as raised:
      train_lib.train(config)
    assert raised.value.setting == "run_dir" and "--" not in str(raised.value)
    assert os.listdir(config.run_dir) == [".lock"]  # Nothing read or written.
  finally:
    holder.stdin.close()
    holder.wait()
  # The lock goes with its holder: the same run now trains.
  assert train_lib.train(config)["step"] == 2


def test_a_run_with_an_average_checkpoints_resumes_and_serves_it(tmp_path):
  import numpy as np
  import tensorflow as tf
  from elegant_tf.inference import model_loading
  from elegant_tf.models import generator as generator_lib
  config = tiny.tiny_config(tmp_path, train_steps=2, eval_pairs=0, ema_decay=0.9)
  assert train_lib.train(config)["step"] == 2

  def restored(key):
    generator = generator_lib.ElegantGenerator(2, config.encoder_widths)
    zeros = np.zeros((1, 32, 32, 3), np.float32)
    generator({"image": zeros, "exemplar": zeros, "attributes": np.zeros((1, 2), np.float32)})
    tf.train.Checkpoint(**{key: generator}).restore(
        os.path.join(config.run_dir, "checkpoints", "ckpt-2")).expect_partial(
        ).assert_existing_objects_matched()
    return [w.numpy() for w in generator.weights]

  averaged, live = restored("averaged_generator"), restored("generator")
  assert any(not np.array_equal(a, w) for a, w in zip(averaged, live))
  # The run directory serves the average, as its export would.
  served = [w.numpy() for w in model_loading.load_run_dir(config.run_dir).generator.weights]
  for value, expected in zip(served, averaged):
    np.testing.assert_array_equal(value, expected)
  # A resume restores and keeps averaging; turning the average off is refused.
  assert train_lib.train(dataclasses.replace(config, train_steps=3))["step"] == 3
  with pytest.raises(train_config.ConfigError, match="ema_decay 0.9 -> 0.0"):
    train_lib.train(dataclasses.replace(config, train_steps=4, ema_decay=0.0))


def test_a_run_with_a_local_discriminator_places_its_windows_and_resumes(tmp_path, monkeypatch):
  from elegant_tf.training import attribute_windows
  monkeypatch.setattr(attribute_windows, "ESTIMATION_BATCHES", 4)  # A tiny run's share.
  config = tiny.tiny_config(tmp_path, train_steps=2, eval_pairs=0,
                            local_discriminator_weight=1.0)
  source = train_lib.open_data(config)
  windows = train_lib.local_discriminator_windows(source, config)
  assert windows.shape == (2, 3) and (windows[:, 2] == 16).all()
  assert ((windows[:, :2] >= 0) & (windows[:, :2] <= 16)).all()
  again = train_lib.local_discriminator_windows(train_lib.open_data(config), config)
  assert again.tolist() == windows.tolist()  # What a resume finds.
  assert train_lib.local_discriminator_windows(source, tiny.tiny_config(tmp_path)) is None
  assert train_lib.train(config)["step"] == 2
  # D3 is checkpointed: a resume restores it strictly, and a run without it is refused.
  assert train_lib.train(dataclasses.replace(config, train_steps=3))["step"] == 3
  with pytest.raises(train_config.ConfigError, match="local_discriminator_weight 1.0 -> 0.0"):
    train_lib.train(dataclasses.replace(config, train_steps=4, local_discriminator_weight=0.0))


def test_loss_weights_come_from_the_settings_that_name_their_field():
  config = train_config.TrainConfig(gan_loss="hinge", reconstruction_weight=2.0, d2_weight=0.25,
                                    weight_decay=0.0, cycle_weight=1.0,
                                    classification_weight=3.0, r1_weight=0.5,
                                    matching_negatives_weight=0.75)
  assert train_lib.loss_weights(config) == gan_trainer.LossWeights(
      gan_loss="hinge", reconstruction=2.0, d2=0.25, weight_decay=0.0, cycle=1.0,
      classification=3.0, r1=0.5, matching_negatives=0.75)
  # Every LossWeights field is some setting's: a new loss term without its setting fails here.
  named = [field.metadata["loss_weights_field"] for field in dataclasses.fields(config)
           if "loss_weights_field" in field.metadata]
  assert sorted(named) == sorted(f.name for f in dataclasses.fields(gan_trainer.LossWeights))


# The step of an unnormalized discriminator under R1, in a fresh process (Grappler's
# options are per process); it prints the remapping option, then the loss.
_R1_STEP = """
import dataclasses
import tensorflow as tf
from elegant_tf.training import train_config, train_lib
from pipelines import pairs
config = dataclasses.replace(
    train_config.TrainConfig(), image_size=32, batch_size=2, attributes=("Eyeglasses", "Bangs"),
    encoder_depth=3, encoder_base_width=4, encoder_max_width=8, discriminator_base_width=4,
    discriminator_max_width=8, r1_weight=1.0, discriminator_normalization="none",
    discriminator_conditioning="projection")
gan = train_lib.build_gan(config)
if {remap_again}:
  tf.config.optimizer.set_experimental_options({{"remapping": True}})
step = tf.function(gan.train_step)
for _ in range(2):
  logs = step(pairs.fake_pair_batch(32, 2, 2))
print(tf.config.optimizer.get_experimental_options()["remapping"], float(logs["loss_g"]))
"""


@pytest.mark.parametrize("remap_again", [False, True])
def test_an_r1_step_of_unnormalized_discriminators_logs_no_remapper_error(remap_again):
  # build_gan turns the remapper off; turned back on, it fails on the fused
  # Conv2D + BiasAdd + LeakyRelu that R1's second-order gradient still reads.
  result = subprocess.run([sys.executable, "-c", _R1_STEP.format(remap_again=remap_again)],
                          env=helpers.subprocess_env(), capture_output=True, text=True,
                          timeout=600, check=True)
  remapping, loss = result.stdout.split()
  assert remapping == str(remap_again) and float(loss) > 0
  assert ("remapper failed" in result.stderr) == remap_again
