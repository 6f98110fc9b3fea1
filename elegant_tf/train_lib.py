"""The work of `python -m elegant_tf.train`: data, networks, fit, checkpoints, export, evaluation.

`train(config)` takes a validated TrainConfig; the command line lives in train.py.
"""

import json
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from elegant_tf import checkpointing
from elegant_tf import discriminator as discriminator_lib
from elegant_tf import export
from elegant_tf import gan_trainer
from elegant_tf import generator as generator_lib
from elegant_tf import ground_truth_eval
from elegant_tf import image_grid
from elegant_tf import train_config
from elegant_tf import training_callbacks
from pipelines import data_spec
from pipelines import pairs

SAMPLES_PER_ATTRIBUTE = 4


def split_cpu(replicas: int) -> None:
  """Split the CPU into `replicas` logical devices (before TensorFlow touches any device)."""
  cpus = tf.config.list_physical_devices("CPU")
  try:
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * replicas)
  except RuntimeError:
    if len(tf.config.list_logical_devices("CPU")) < replicas:
      raise RuntimeError(f"--cpu_replicas={replicas}: TensorFlow already initialised its "
                         "devices; split the CPU before any TensorFlow work")


def make_strategy(config: train_config.TrainConfig) -> tf.distribute.Strategy:
  if config.strategy == "default":
    return tf.distribute.get_strategy()
  if config.cpu_replicas > 1:
    split_cpu(config.cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:config.cpu_replicas]
    return tf.distribute.MirroredStrategy(devices)
  return tf.distribute.MirroredStrategy()  # Every visible GPU (or the CPU).


def open_data(config: train_config.TrainConfig):
  """Open the source and check the attributes before any heavy work (ConfigError if not)."""
  try:
    source = data_spec.open_source(config.data, config.image_size, seed=config.seed,
                                   tfds_data_dir=config.tfds_data_dir)
    pairs.attribute_columns(source, config.attributes)
    pairs.check_enough_examples(source, config.attributes, config.split, config.batch_size)
  except (ValueError, FileNotFoundError) as error:
    raise train_config.ConfigError(f"--data={config.data}: {error}") from error
  return source


def build_gan(config: train_config.TrainConfig) -> gan_trainer.ElegantGAN:
  """Networks, optimizers and the trainer; call inside strategy.scope()."""
  generator = generator_lib.ElegantGenerator(len(config.attributes), config.encoder_widths,
                                             name="generator")
  gan = gan_trainer.ElegantGAN(
      generator,
      discriminator_lib.Discriminator(config.discriminator_widths, name="discriminator_full"),
      discriminator_lib.Discriminator(config.discriminator_widths, downsample=2,
                                      name="discriminator_half"),
      config.attributes,
      gan_trainer.LossWeights(gan_loss=config.gan_loss,
                              reconstruction=config.reconstruction_weight,
                              d2=config.d2_weight, weight_decay=config.weight_decay))

  def optimizer():
    return gan_trainer.paper_adam(gan_trainer.step_decay_schedule(
        config.learning_rate, config.lr_decay_rate, config.lr_decay_every))

  gan.compile(optimizer(), optimizer(), jit_compile=config.jit_compile)
  gan.build_for(config.image_size)
  return gan


def fixed_sample_batches(source, config: train_config.TrainConfig) -> dict:
  """A few held-out pairs per attribute, the same at every sample step."""
  split = "val" if config.split == "train" else config.split
  count = min(SAMPLES_PER_ATTRIBUTE, config.batch_size)
  batches = {}
  for position, attribute in enumerate(config.attributes):
    stream = pairs.attribute_pairs(source, config.attributes, count, split=split,
                                   seed=config.seed + 1, start_step=position)
    batches[attribute] = {k: v.numpy() for k, v in next(iter(stream)).items()}
  return batches


def report_data(source, config: train_config.TrainConfig) -> None:
  skipped = source.skipped_counts()
  if skipped:
    logging.warning("skipped examples by reason: %s", skipped)
  try:
    from pipelines import label_stats  # Arrives with the real-data sources.
  except ImportError:
    return
  columns = pairs.attribute_columns(source, config.attributes)
  for warning in label_stats.attribute_warnings(source.labels(config.split)[:, columns],
                                                config.attributes):
    logging.warning("%s", warning)


def evaluate_on_synthetic(generator, source, config: train_config.TrainConfig) -> str:
  rows = ground_truth_eval.evaluate_swaps(generator, source, config.attributes,
                                          config.eval_pairs)
  table = ground_truth_eval.markdown_table(rows)
  with open(os.path.join(config.run_dir, "evaluation.md"), "w") as f:
    f.write("PSNR (dB) on held-out synthetic pairs against exact ground truth "
            f"({config.eval_pairs} pairs per attribute). C = attribute removed, D = added; "
            "in/out = inside/outside the attribute's region; copy = input unchanged.\n\n"
            + table + "\n")
  with open(os.path.join(config.run_dir, "evaluation.json"), "w") as f:
    json.dump(rows, f, indent=2)
  return table


def train(config: train_config.TrainConfig) -> dict:
  """Train (or resume) a run; return paths and the evaluation rows it produced."""
  config.validate()
  strategy = make_strategy(config)
  source = open_data(config)
  os.makedirs(config.run_dir, exist_ok=True)
  with open(os.path.join(config.run_dir, train_config.RESOLVED_FLAGS_FILE), "w") as f:
    f.write(config.to_flagfile())
  report_data(source, config)
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    gan = build_gan(config)
    manager = checkpointing.checkpoint_manager(gan, config.run_dir)
    start_step = checkpointing.restore_latest(manager)
  if start_step:
    logging.info("resuming %s from step %d", config.run_dir, start_step)
  dataset = pairs.attribute_pairs(source, config.attributes, config.batch_size,
                                  split=config.split, seed=config.seed,
                                  deterministic=config.deterministic, start_step=start_step)
  samples = training_callbacks.SampleGrids(fixed_sample_batches(source, config),
                                           config.run_dir, config.sample_every)
  callbacks = [
      training_callbacks.TrainingProgress(start_step, config.train_steps),
      training_callbacks.ScalarSummaries(os.path.join(config.run_dir, "tensorboard", "train"),
                                         config.log_every),
      checkpointing.CheckpointEvery(manager, config.checkpoint_every),
      samples,
  ]
  if start_step < config.train_steps:
    gan.fit(dataset, steps_per_epoch=config.train_steps - start_step, epochs=1, verbose=0,
            callbacks=callbacks, shuffle=False)
  else:
    logging.info("%s already trained %d steps", config.run_dir, start_step)
    samples.set_model(gan)
    samples.write()
  result = {"run_dir": config.run_dir, "step": int(gan.generator_optimizer.iterations.numpy())}
  image_grid.write_png(os.path.join(config.run_dir, "samples", "latest.png"), samples.latest_grid)
  result["sample_grid"] = os.path.join(config.run_dir, "samples", "latest.png")
  if config.export_dir:
    result["export"] = export.export_generator(gan.generator, config.attributes,
                                               config.image_size, config.export_dir,
                                               prototype_source=source,
                                               prototype_split=config.split,
                                               training_data=config.data)
  if config.data == "synthetic" and config.eval_pairs:
    result["evaluation"] = evaluate_on_synthetic(gan.generator, source, config)
  return result
