"""The work of `python -m elegant_tf.train`: data, networks, fit, checkpoints, samples.

`train(config)` takes a validated TrainConfig; the command line lives in train.py.
Export and the end-of-run evaluation are not training: the command hands them in
as `end_of_run`, so this package imports nothing from exporting/, inference/ or
evaluation/.
"""

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
from typing import Callable, Optional

import keras
import numpy as np
import tensorflow as tf

from elegant_tf.training import attribute_windows
from elegant_tf.training import checkpointing
from elegant_tf.training import cluster
from elegant_tf.models import discriminator as discriminator_lib
from elegant_tf.training import gan_trainer
from elegant_tf.models import generator as generator_lib
from pipelines import image_grid
from elegant_tf.models import precision
from elegant_tf.training import run_lock
from elegant_tf.training import train_config
from elegant_tf.training import training_callbacks
from pipelines import atomic_files
from pipelines import data_spec
from pipelines import label_stats
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
      raise train_config.SettingError(
          "cpu_replicas", "TensorFlow already initialised its devices; split the CPU "
          "before any TensorFlow work", replicas)


def make_strategy(config: train_config.TrainConfig) -> tf.distribute.Strategy:
  if config.strategy == "default":
    return tf.distribute.get_strategy()
  if config.strategy == "multi_worker":
    # Reads TF_CONFIG (checked by cluster.from_environment before this).
    return tf.distribute.MultiWorkerMirroredStrategy()
  if config.cpu_replicas > 1:
    split_cpu(config.cpu_replicas)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:config.cpu_replicas]
    return tf.distribute.MirroredStrategy(devices)
  return tf.distribute.MirroredStrategy()  # Every visible GPU (or the CPU).


def run_line(strategy, config: train_config.TrainConfig) -> str:
  """One line naming the strategy, its replicas and devices, and the precisions."""
  policy, why = precision.resolve(config.precision)
  try:
    devices = ",".join(strategy.extended.worker_devices)
  except RuntimeError:  # The default strategy: ops go to the first GPU, else the CPU.
    first = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    devices = first[0].name
  line = (f"strategy={config.strategy} ({type(strategy).__name__}) "
          f"replicas={strategy.num_replicas_in_sync} devices={devices} "
          f"precision={policy} ({why})")
  if config.discriminator_precision != "same":
    line += (f" discriminator_precision={discriminator_policy(config)} "
             f"(--discriminator_precision={config.discriminator_precision})")
  return line


def open_data(config: train_config.TrainConfig):
  """Open the source and check the attributes before any heavy work (ConfigError if not)."""
  try:
    source = data_spec.open_source(config.data, config.image_size, seed=config.seed,
                                   tfds_data_dir=config.tfds_data_dir)
    pairs.attribute_columns(source, config.attributes)
    pairs.attribute_columns(source, config.kept_attributes)
    pairs.check_enough_examples(source, config.attributes, config.split, config.batch_size)
  except (ValueError, FileNotFoundError) as error:
    raise train_config.SettingError("data", str(error), config.data) from error
  return source


def turn_off_graph_remapping() -> None:
  """Turn off Grappler's remapper for this process's graphs.

  The remapper fuses Conv2D + BiasAdd + LeakyRelu (the unnormalized
  discriminator blocks) into one op even where R1's second-order gradient still
  reads the BiasAdd; the rewrite then fails and logs "remapper failed ...
  LeakyReluGrad" as an error at the start of every run. Without the pass, the
  demo's real step with Keras' LeakyReLU measured 5-7% faster than with the
  pass and a LeakyReLU written as max(x, 0.2x) (which it could not fuse), and
  turning the pass off alone changed nothing measurable (docs/benchmarks.md).
  Grappler reads the option when a function is first run, so this must precede
  the train step's first call.
  """
  tf.config.optimizer.set_experimental_options({"remapping": False})


def build_gan(config: train_config.TrainConfig,
              windows: Optional[np.ndarray] = None) -> gan_trainer.ElegantGAN:
  """Networks, optimizers and the trainer; call inside strategy.scope().

  windows: each attribute's window for the local discriminator (see
  local_discriminator_windows), needed exactly when --local_discriminator_weight is
  positive.
  The networks are built under --precision's Keras policy, the discriminators under
  --discriminator_precision's (discriminator_policy); variables are float32 either way.
  Graph remapping is turned off for the process (turn_off_graph_remapping).
  """
  turn_off_graph_remapping()
  with precision.policy_scope(precision.resolve(config.precision)[0]):
    return _build_gan(config, windows)


def discriminator_policy(config: train_config.TrainConfig) -> str:
  """The Keras policy the discriminators are built under: --discriminator_precision's,
  or --precision's for 'same'."""
  chosen = config.discriminator_precision
  return precision.resolve(config.precision if chosen == "same" else chosen)[0]


def local_discriminator_windows(source,
                                config: train_config.TrainConfig) -> Optional[np.ndarray]:
  """Each attribute's window for --local_discriminator_weight (None when it is off),
  estimated from the first pair batches of the training split with the run's seed,
  so a resumed run finds the same windows."""
  if not config.local_discriminator_weight:
    return None
  stream = pairs.attribute_pairs(source, config.attributes, config.batch_size,
                                 split=config.split, seed=config.seed)
  return attribute_windows.estimate_windows(stream, config.attributes, config.image_size)


def build_generator(config: train_config.TrainConfig,
                    name: str = "generator") -> generator_lib.ElegantGenerator:
  """The generator the settings describe (unbuilt; under the caller's precision policy)."""
  return generator_lib.ElegantGenerator(len(config.attributes), config.encoder_widths,
                                        skip_gating=config.skip_gating,
                                        dropped_fine_skips=config.dropped_fine_skips,
                                        masked_output=config.masked_output,
                                        image_head_width=config.image_head_width,
                                        encoder_normalized=config.encoder_normalization == "pixel",
                                        decoder_normalized=config.decoder_normalization == "pixel",
                                        readout_conditioned=config.readout_conditioning_weight > 0,
                                        output_gain=config.output_gain,
                                        name=name)


def loss_weights(config: train_config.TrainConfig) -> gan_trainer.LossWeights:
  """The LossWeights filled by the settings that name their field in the declaration
  (`loss_weights_field`), so a new loss term needs no line here."""
  return gan_trainer.LossWeights(**{
      field.metadata["loss_weights_field"]: getattr(config, field.name)
      for field in dataclasses.fields(config) if "loss_weights_field" in field.metadata})


def _build_gan(config: train_config.TrainConfig,
               windows: Optional[np.ndarray]) -> gan_trainer.ElegantGAN:
  # D2 sees the half-size image and reads the labels as D1 does unless told otherwise;
  # D1 alone may classify.
  policy = discriminator_policy(config)  # Resolved once: 'auto' reads /proc/cpuinfo.

  def discriminator(conditioning=config.discriminator_conditioning, **options):
    with precision.policy_scope(policy):
      return discriminator_lib.Discriminator(
          config.discriminator_widths, patch=config.patch_discriminator,
          conditioning=conditioning,
          num_labels=len(config.attributes) + len(config.kept_attributes),
          normalization=config.discriminator_normalization, **options)

  half_conditioning = (config.discriminator_conditioning
                       if config.half_discriminator_conditioning == "same"
                       else config.half_discriminator_conditioning)

  averaged_generator = None
  if config.ema_decay:
    averaged_generator = build_generator(config, name="averaged_generator")
  gan = gan_trainer.ElegantGAN(
      build_generator(config),
      discriminator(name="discriminator_full",
                    num_classes=len(config.attributes) if config.classification_weight else 0),
      discriminator(half_conditioning, downsample=2, name="discriminator_half"),
      config.attributes, loss_weights(config),
      averaged_generator=averaged_generator, average_decay=config.ema_decay,
      discriminator_local=(discriminator(name="discriminator_local")
                           if config.local_discriminator_weight else None),
      attribute_windows=windows, kept_attribute_names=config.kept_attributes)

  def optimizer(learning_rate):
    return gan_trainer.paper_adam(gan_trainer.step_decay_schedule(
        learning_rate, config.lr_decay_rate, config.lr_decay_every))

  gan.compile(optimizer(config.learning_rate),
              optimizer(config.learning_rate * config.discriminator_lr_ratio),
              jit_compile=config.jit_compile)
  gan.build_for(config.image_size)
  return gan


def fixed_sample_batches(source, config: train_config.TrainConfig,
                         problems: Optional[list] = None) -> dict:
  """A few held-out pairs per attribute, the same at every sample step."""
  split = "val" if config.split == "train" else config.split
  count = min(SAMPLES_PER_ATTRIBUTE, config.batch_size)
  try:
    pairs.check_enough_examples(source, config.attributes, split, count)
  except ValueError as error:
    logging.warning("sample grids use the %s split: %s", config.split, error)
    split = config.split
  batches = {}
  for position, attribute in enumerate(config.attributes):
    stream = pairs.attribute_pairs(source, config.attributes, count, split=split,
                                   seed=config.seed + 1, start_step=position,
                                   problems=problems)
    batches[attribute] = {k: v.numpy() for k, v in next(iter(stream)).items()}
  return batches


_RESUME_NOTE = "# resumed"  # Comment lines of flags.txt recording changes on resume.


def saved_config(config: train_config.TrainConfig):
  """The settings a resumable run was started with, or None when there is nothing to resume.

  Raises ConfigError when the run has checkpoints and these settings change what
  they mean (the model, its objective or its data), naming the flags that differ.
  Called before anything is written, so a refused resume leaves flags.txt intact.
  """
  path = os.path.join(config.run_dir, train_config.RESOLVED_FLAGS_FILE)
  if not (os.path.exists(path) and checkpointing.has_checkpoint_files(config.run_dir)):
    return None  # A new run, or one that died before its first checkpoint.
  try:
    saved = train_config.TrainConfig.from_flagfile(path)
  except (ValueError, TypeError) as error:
    raise train_config.SettingError(
        "run_dir", f"has checkpoints but its {path} cannot be read ({error}); restore it, or "
        "train into a new run directory", config.run_dir) from error
  refused = [name for name in saved.differences(config)
             if name not in train_config.RESUMABLE_CHANGES]
  if refused:
    changes = ", ".join(f"{name} {_flag_text(getattr(saved, name))} -> "
                        f"{_flag_text(getattr(config, name))}" for name in refused)
    raise train_config.SettingError(
        "run_dir", f"was trained with other settings that define the model or its data "
        f"({changes}); resume with the saved values, or train into a new run directory",
        config.run_dir)
  return saved


def _flag_text(value) -> str:
  return ",".join(value) if isinstance(value, tuple) else str(value)


def write_resolved_flags(config: train_config.TrainConfig, saved, start_step: int) -> None:
  """Write flags.txt atomically, keeping the notes of earlier resumes and adding this one's."""
  path = os.path.join(config.run_dir, train_config.RESOLVED_FLAGS_FILE)
  notes = []
  if saved is not None:
    with open(path) as f:
      notes = [line.rstrip("\n") for line in f if line.startswith(_RESUME_NOTE)]
    changed = [name for name in saved.differences(config) if name != "run_dir"]
    if changed:
      notes.append(f"{_RESUME_NOTE} at step {start_step} with " + ", ".join(
          f"--{name} {_flag_text(getattr(saved, name))} -> {_flag_text(getattr(config, name))}"
          for name in changed))
  text = config.to_flagfile() + "".join(note + "\n" for note in notes)
  atomic_files.write_atomically(path, text)


def report_data(source, config: train_config.TrainConfig) -> None:
  skipped = source.skipped_counts()
  if skipped:
    logging.warning("skipped examples by reason: %s", skipped)
  columns = pairs.attribute_columns(source, config.attributes)
  for warning in label_stats.attribute_warnings(source.labels(config.split)[:, columns],
                                                config.attributes):
    logging.warning("%s", warning)


def worker_of(config: train_config.TrainConfig):
  """This process's ClusterInfo under --strategy=multi_worker (else None), checked."""
  if config.strategy != "multi_worker":
    return None
  try:
    worker = cluster.from_environment()
  except cluster.ClusterError as error:
    raise train_config.SettingError("strategy", str(error), config.strategy) from error
  if config.batch_size % worker.num_workers:
    raise train_config.SettingError(
        "batch_size", f"must be divisible by the {worker.num_workers} workers (it is the "
        "global batch)", config.batch_size)
  return worker


def training_pairs(strategy, source, config: train_config.TrainConfig, start_step: int,
                   problems: Optional[list] = None):
  """The pair dataset fit consumes: global batches, or per-worker shards across workers."""
  if config.strategy != "multi_worker":
    return pairs.attribute_pairs(source, config.attributes, config.batch_size,
                                 split=config.split, seed=config.seed,
                                 deterministic=config.deterministic, start_step=start_step,
                                 problems=problems, kept_attributes=config.kept_attributes)

  def dataset_fn(context: tf.distribute.InputContext):
    # Each worker reads its own examples (sharded by example index) and builds
    # its share of the global batch; attributes take turns in step everywhere.
    per_worker = config.batch_size // context.num_input_pipelines
    per_replica = context.get_per_replica_batch_size(config.batch_size)
    dataset = pairs.attribute_pairs(
        source, config.attributes, per_worker, split=config.split, seed=config.seed,
        deterministic=config.deterministic, start_step=start_step,
        shard_index=context.input_pipeline_id, num_shards=context.num_input_pipelines,
        problems=problems, kept_attributes=config.kept_attributes)
    if per_replica != per_worker:
      # Consecutive elements go to a worker's replicas: split each batch in order.
      dataset = dataset.unbatch().batch(per_replica, drop_remainder=True)
    return dataset

  return strategy.distribute_datasets_from_function(dataset_fn)


def weights_digest(gan) -> str:
  """sha256 of every network and optimizer variable: equal on workers that are in sync."""
  digest = hashlib.sha256()
  averaged = gan.averaged_generator.weights if gan.averaged_generator is not None else []
  for variable in (gan.generator.weights + averaged + gan.discriminator_full.weights
                   + gan.discriminator_half.weights + gan.generator_optimizer.variables
                   + gan.discriminator_optimizer.variables):
    digest.update(np.asarray(variable.numpy()).tobytes())
  return digest.hexdigest()


def wait_for_all_workers(strategy) -> None:
  """A one-number all-reduce as a barrier: no worker leaves while the chief still writes
  (a worker that exits early looks like a crash to the others' heartbeat checks)."""
  strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)


@contextlib.contextmanager
def unusable_data_is_a_config_error(config: train_config.TrainConfig, problems: list):
  """Turn a pair stream's "every example unusable" error (raised inside tf.data, so it
  arrives as a TensorFlow error with a traceback) into the one-line ConfigError."""
  try:
    yield
  except tf.errors.OpError as error:
    if not problems:
      raise
    raise train_config.SettingError("data", problems[0], config.data) from error


# What the command does once the weights are final: (generator, source) -> more result
# entries (e.g. {"export": ..., "evaluation": ...}). Runs on the chief only.
EndOfRun = Callable[[keras.Model, object], dict]


def train(config: train_config.TrainConfig, end_of_run: Optional[EndOfRun] = None) -> dict:
  """Train (or resume) a run; see _train. Data found unusable while training: ConfigError.

  The chief holds run_dir's lock until this returns (run_lock.py), end_of_run included.
  """
  problems = []
  with contextlib.ExitStack() as held, unusable_data_is_a_config_error(config, problems):
    return _train(config, problems, held, end_of_run)


def _train(config: train_config.TrainConfig, problems: list,
           held: contextlib.ExitStack, end_of_run: Optional[EndOfRun]) -> dict:
  """Train (or resume) a run; return its step, sample grid and what end_of_run added.

  Under --strategy=multi_worker every worker runs this; only the chief writes the
  run directory, samples and export. The others save the checkpoints the
  strategy needs into a temporary folder that is removed at the end, and all
  restore from the chief's checkpoints (the run directory must be shared).
  """
  config.validate()
  worker = worker_of(config)
  strategy = make_strategy(config)
  print(run_line(strategy, config), flush=True)
  is_chief = worker is None or worker.is_chief
  source = open_data(config)
  if is_chief:
    # Before reading or writing anything in run_dir: a second trainer there would
    # resume the same checkpoint and the two would overwrite each other's files.
    try:
      held.enter_context(run_lock.hold(config.run_dir))
    except run_lock.RunDirInUse as error:
      raise train_config.SettingError("run_dir", str(error)) from None
  saved = saved_config(config)
  if is_chief:
    report_data(source, config)
  write_dir = (config.run_dir if is_chief
               else tempfile.mkdtemp(prefix=f"elegant-{worker.task_type}{worker.task_index}-"))
  windows = local_discriminator_windows(source, config)
  keras.utils.set_random_seed(config.seed)
  with strategy.scope():
    gan = build_gan(config, windows)
    manager = checkpointing.checkpoint_manager(gan, config.run_dir)
    try:
      start_step = checkpointing.restore_latest(manager)
    except ValueError as error:
      raise train_config.SettingError("run_dir", str(error), config.run_dir) from error
    if not is_chief:
      manager = checkpointing.checkpoint_manager(gan, write_dir)
  if is_chief:
    # Only now: a resume that fails to restore must not rewrite the run's record.
    write_resolved_flags(config, saved, start_step)
  if start_step:
    logging.info("resuming %s from step %d", config.run_dir, start_step)
  dataset = training_pairs(strategy, source, config, start_step, problems)
  # Every worker checkpoints and reads the loss trackers (under MultiWorkerMirrored
  # a tracker read is a collective op all workers must join); only the chief's
  # files are kept.
  # The average moves first, so checkpoints and samples see this step's average.
  callbacks = [training_callbacks.GeneratorAverage()] if gan.averaged_generator is not None else []
  callbacks += [
      checkpointing.CheckpointEvery(manager, config.checkpoint_every),
      training_callbacks.ScalarSummaries(os.path.join(write_dir, "tensorboard", "train"),
                                         config.log_every),
  ]
  if is_chief:
    samples = training_callbacks.SampleGrids(fixed_sample_batches(source, config, problems),
                                             config.run_dir, config.sample_every)
    callbacks += [training_callbacks.TrainingProgress(start_step, config.train_steps), samples]
  if start_step < config.train_steps:
    gan.fit(dataset, steps_per_epoch=config.train_steps - start_step, epochs=1, verbose=0,
            callbacks=callbacks, shuffle=False)
  else:
    logging.info("%s already trained %d steps", config.run_dir, start_step)
    if is_chief:
      samples.set_model(gan)
      samples.write()
  result = {"run_dir": config.run_dir, "step": gan.trained_steps}
  if worker is not None:
    result.update(worker=worker.name, weights_sha256=weights_digest(gan))
  if not is_chief:
    shutil.rmtree(write_dir, ignore_errors=True)
    wait_for_all_workers(strategy)
    return result
  image_grid.write_png(os.path.join(config.run_dir, "samples", "latest.png"), samples.latest_grid)
  result["sample_grid"] = os.path.join(config.run_dir, "samples", "latest.png")
  if end_of_run is not None:
    result.update(end_of_run(gan.inference_generator, source))
  # The other workers wait here until the chief's end of run is written.
  if worker is not None:
    wait_for_all_workers(strategy)
  return result
