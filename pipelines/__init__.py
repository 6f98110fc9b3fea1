"""tf.data input pipelines for elegant-tf: face sources and per-attribute pairs."""
