"""Per-attribute positive/negative pairs: the batches ELEGANT's training step eats.

For attribute i, batch A comes from images WITH attribute i and batch B from
images WITHOUT it (other attributes free). Attributes take turns round-robin,
one batch pair per step, so every attribute is updated equally often.
"""

import difflib
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from pipelines import face_source
from pipelines import long_lived


def attribute_columns(source: face_source.FaceSource, attributes: Sequence[str]) -> list[int]:
  """Return the source's label columns of `attributes`; unknown names raise ValueError."""
  columns = []
  for name in attributes:
    if name not in source.attribute_names:
      nearest = difflib.get_close_matches(name, source.attribute_names, n=1)
      hint = f" (did you mean {nearest[0]!r}?)" if nearest else ""
      raise ValueError(f"unknown attribute {name!r}{hint}; this data set has: "
                       + ", ".join(source.attribute_names))
    columns.append(source.attribute_names.index(name))
  if len(set(columns)) != len(columns):
    raise ValueError(f"attribute listed twice in {list(attributes)}")
  return columns


def positives_and_negatives(labels: np.ndarray, column: int, shard_index: int = 0,
                            num_shards: int = 1) -> tuple[np.ndarray, np.ndarray]:
  """Return int64 indices of examples with and without the attribute in `column`.

  With `num_shards` > 1, only worker `shard_index`'s examples: the share is decided
  by example index, so every example belongs to exactly one worker whichever
  attribute stream it appears in.
  """
  has = labels[:, column].astype(bool)
  mine = np.arange(len(labels)) % num_shards == shard_index
  return (np.flatnonzero(has & mine).astype(np.int64),
          np.flatnonzero(~has & mine).astype(np.int64))


def check_enough_examples(source: face_source.FaceSource, attributes: Sequence[str],
                          split: str, batch_size: int, shard_index: int = 0,
                          num_shards: int = 1) -> None:
  """Fail before training if an attribute has less than a batch of positives or negatives."""
  labels = source.labels(split)
  problems = []
  for name, column in zip(attributes, attribute_columns(source, attributes)):
    positives, negatives = positives_and_negatives(labels, column, shard_index, num_shards)
    if len(positives) < batch_size or len(negatives) < batch_size:
      problems.append(f"{name}: {len(positives)} with, {len(negatives)} without")
  if problems:
    raise ValueError(f"split {split!r} has fewer than a batch ({batch_size}) of positives or "
                     "negatives for: " + "; ".join(problems))


class UnusableExamples(ValueError):
  """Every example of an endless stream is unusable: it would never fill a batch."""


def _fail_when_all_unusable(source: face_source.FaceSource, split: str, indices: np.ndarray,
                            what: str, problems: Optional[list]):
  """A map function over an index stream that raises once every index is known unusable.

  Sources skip examples they cannot decode before batching; over an endless repeat()
  of indices that are all undecodable, the batch would wait forever. The source
  marks each index it failed on, and the stream comes round to every index again,
  so this fires within about two passes and never while one usable index remains.
  """
  total = len(indices)
  found = set()

  def check(index):
    index = int(index)
    if index not in found and source.is_unusable(split, index):
      found.add(index)
      if len(found) == total:
        skipped = "; ".join(f"{reason}: {count}"
                            for reason, count in source.skipped_counts().items())
        message = (f"all {total} {what} in split {split!r} are unusable, so no batch can "
                   f"ever be filled (files skipped so far, by reason: {skipped or 'none'})")
        if problems is not None:
          problems.append(message)
        raise UnusableExamples(message)
    return np.int64(index)

  def guard(index):
    checked = tf.py_function(check, [index], tf.int64)
    checked.set_shape([])
    return checked

  return guard


def _example_stream(indices: np.ndarray, seed: int, shuffle_buffer: int,
                    already_used: int) -> tf.data.Dataset:
  """An endless, reshuffled-every-epoch stream of example indices.

  `already_used` indices are skipped: a resumed run continues the exact stream of
  the interrupted one, and skipping integers costs nothing next to decoding.
  """
  stream = tf.data.Dataset.from_tensor_slices(indices)
  stream = stream.shuffle(min(len(indices), shuffle_buffer), seed=seed,
                          reshuffle_each_iteration=True)
  return stream.repeat().skip(already_used)


def pair_batch_spec(image_size: int, num_attributes: int,
                    batch_size: Optional[int] = None, num_kept: int = 0) -> dict:
  """{key: tf.TensorSpec} of one element of attribute_pairs (see there for the meaning),
  the one declaration of the pair batch the train step eats; batch_size None: any.
  num_kept: how many kept attributes (kept_a, kept_b are there only if positive)."""
  images = tf.TensorSpec([batch_size, image_size, image_size, 3], tf.float32)
  labels = tf.TensorSpec([batch_size, num_attributes], tf.float32)
  spec = {"image_a": images, "image_b": images, "labels_a": labels, "labels_b": labels,
          "attribute": tf.TensorSpec([batch_size], tf.int32)}
  if num_kept:
    kept = tf.TensorSpec([batch_size, num_kept], tf.float32)
    spec.update(kept_a=kept, kept_b=kept)
  return spec


def fake_pair_batch(image_size: int, num_attributes: int, batch_size: int, seed: int = 0,
                    attribute: int = 0, num_kept: int = 0) -> dict:
  """A pair batch of pair_batch_spec's keys, dtypes and shapes, without any data set: for
  timing or tracing a train step. Images uniform in [-1, 1] (A's then B's, from `seed`);
  A has every attribute and B none, so A has `attribute` and B lacks it, as in real pairs
  (the kept ones too)."""
  rng = np.random.default_rng(seed)
  spec = pair_batch_spec(image_size, num_attributes, batch_size, num_kept)
  values = {"image_a": rng.uniform(-1, 1, spec["image_a"].shape),
            "image_b": rng.uniform(-1, 1, spec["image_b"].shape),
            "labels_a": np.ones(spec["labels_a"].shape),
            "labels_b": np.zeros(spec["labels_b"].shape),
            "attribute": np.full(spec["attribute"].shape, attribute)}
  if num_kept:
    values.update(kept_a=np.ones(spec["kept_a"].shape), kept_b=np.zeros(spec["kept_b"].shape))
  return {key: tf.constant(values[key], spec[key].dtype) for key in spec}


def batches_before(start_step: int, position: int, num_attributes: int) -> int:
  """How many batches attribute `position` received in steps [0, start_step) of round-robin."""
  return max(0, (start_step - position + num_attributes - 1) // num_attributes)


def attribute_pairs(source: face_source.FaceSource, attributes: Sequence[str], batch_size: int,
                    split: str = "train", seed: int = 0, deterministic: bool = True,
                    shuffle_buffer: int = 100_000, start_step: int = 0,
                    shard_index: int = 0, num_shards: int = 1,
                    problems: Optional[list] = None,
                    kept_attributes: Sequence[str] = ()) -> tf.data.Dataset:
  """Endless dataset of pair batches, round-robin over `attributes`.

  Each element is a dict (pair_batch_spec):
    image_a, image_b: float32 [batch_size, S, S, 3] in [-1, 1]; A has attribute i, B lacks it.
    labels_a, labels_b: float32 [batch_size, len(attributes)], the chosen attributes only.
    attribute: int32 [batch_size], all equal to i, the position in `attributes` being
      exchanged (a vector, not a scalar, so a strategy can split it with the batch).
    kept_a, kept_b: float32 [batch_size, len(kept_attributes)], only if kept_attributes
      is not empty: the labels of attributes that are never exchanged (what the
      discriminators are told an edit keeps).
  `batch_size` is the global batch (a distribution strategy splits it across replicas).
  `start_step` > 0 resumes the stream exactly where a run stopped after that many steps.
  `shard_index`/`num_shards`: this worker's disjoint share of the examples (multi-worker
  training, where `batch_size` is then the per-worker batch); the round-robin order of
  attributes is the same on every worker.

  A stream whose every example turns out undecodable (or too small) raises
  UnusableExamples, inside tf.data, instead of waiting forever for a batch; the
  message is also appended to `problems` (when given) for callers that must tell
  it apart from other tf.data errors.
  """
  source.check_split(split)
  columns = attribute_columns(source, attributes)
  check_enough_examples(source, attributes, split, batch_size, shard_index, num_shards)
  labels = source.labels(split)
  chosen = tf.constant(columns, tf.int32)
  kept = tf.constant(attribute_columns(source, kept_attributes) if kept_attributes else [],
                     tf.int32)

  def pair_stream(position: int, column: int) -> tf.data.Dataset:
    positives, negatives = positives_and_negatives(labels, column, shard_index, num_shards)
    used = batch_size * batches_before(start_step, position, len(columns))
    name = attributes[position]

    def side(indices, stream_seed, what):
      # Distinct seeds per attribute and side keep the streams independent.
      stream = _example_stream(indices, stream_seed, shuffle_buffer, used)
      if source.may_skip:
        stream = stream.map(_fail_when_all_unusable(source, split, indices, what, problems))
      return source.batches(split, stream, batch_size, deterministic)

    with_attribute = side(positives, seed + 2 * position, f"images with {name!r}")
    without_attribute = side(negatives, seed + 2 * position + 1, f"images without {name!r}")

    def to_pair(a, b):
      (image_a, labels_a), (image_b, labels_b) = a, b
      pair = {
          "image_a": image_a,
          "image_b": image_b,
          "labels_a": tf.gather(labels_a, chosen, axis=1),
          "labels_b": tf.gather(labels_b, chosen, axis=1),
          "attribute": tf.fill([tf.shape(image_a)[0]], tf.constant(position, tf.int32)),
      }
      if kept_attributes:
        pair.update(kept_a=tf.gather(labels_a, kept, axis=1),
                    kept_b=tf.gather(labels_b, kept, axis=1))
      return pair

    return tf.data.Dataset.zip(with_attribute, without_attribute).map(to_pair)

  streams = [pair_stream(position, column) for position, column in enumerate(columns)]
  order = tf.data.Dataset.range(len(streams)).repeat().skip(start_step % len(streams))
  pairs = tf.data.Dataset.choose_from_datasets(streams, order)
  options = tf.data.Options()
  options.deterministic = deterministic
  # Index streams are not files: each worker must see different data, so shard by data.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
  pairs = long_lived.without_autotuning(pairs.with_options(options))
  return pairs.prefetch(tf.data.AUTOTUNE)
