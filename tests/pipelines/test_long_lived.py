import tensorflow as tf

from pipelines import long_lived


def test_without_autotuning_keeps_the_elements_and_the_other_options():
  options = tf.data.Options()
  options.deterministic = False
  dataset = tf.data.Dataset.range(5).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE)
  dataset = long_lived.without_autotuning(dataset.with_options(options))
  assert dataset.options().autotune.enabled is False
  assert dataset.options().deterministic is False
  assert sorted(int(x) for x in dataset) == [0, 2, 4, 6, 8]
