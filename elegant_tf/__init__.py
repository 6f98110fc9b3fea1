"""elegant-tf: ELEGANT face attribute transfer by example, in Keras 3 / TensorFlow."""
