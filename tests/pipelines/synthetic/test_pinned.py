"""Pins the synthetic renderer's pixels to hashes taken before it was split.

The renderer is a pure function of (seed, index, size, layout); evaluation
compares models against its exact ground truth, and committed numbers
(README, BUILD_NOTES) were measured on it. Any change to a single pixel,
mask value or parameter changes these digests, so a refactor that is meant
to move code without changing pictures can be checked by this test alone.
If a change to the pictures is intended, update the digests in the same
commit and say so.
"""

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from pipelines import synthetic

# Indices spread over splits (including a huge one) so that the counter hash
# is exercised on more than small integers; 70 faces at 32 px span two render
# chunks and get reordered internally.
_INDICES = np.concatenate([np.arange(70), [10**9 + 3, 2 * 10**9 + 17]])


def _digest(*arrays) -> str:
  h = hashlib.sha256()
  for array in arrays:
    array = np.ascontiguousarray(array)
    h.update(str(array.dtype).encode() + str(array.shape).encode())
    h.update(array.tobytes())
  return h.hexdigest()


def _faces(layout):
  return synthetic.sample_faces(11, _INDICES, {"Bangs": 0.7}, layout)


PINNED = {
    ("aligned", 32): "bb75175814f7ef8aba519ddb4e85d7673d5b102390d08d7f501e75a008bd404a",
    ("aligned", 64): "37d1b4365176d2c7a71523ff5dd78cc2cf0e59a0affac80b0a7f625d755df3d0",
    ("wild", 48): "9816e0ebb4b4539cc8234dbb629db5ad3c0b6c5f60b8b0481e9e94c481a3a290",
    ("wild", 100): "d44b0c89691c95d4b6c220d85271f5403b9c6c3cd97d6db00b58879040ba21c8",
}


@pytest.mark.parametrize("layout,size", sorted(PINNED))
def test_rendered_batch_is_pinned(layout, size):
  params = _faces(layout)
  images, masks = synthetic.render_faces(params, size)
  assert _digest(params.identity, params.appearance, params.states, images,
                 masks) == PINNED[(layout, size)]


def test_exchanged_and_generic_faces_are_pinned():
  params = _faces("aligned")
  donors = params.take(np.arange(len(params))[::-1].copy())
  swapped = synthetic.exchange_attributes(params, donors, ["Eyeglasses", "Smiling"])
  generic = synthetic.with_generic_attributes(params, "Mustache",
                                              synthetic.mean_style(11, 256))
  images, masks = synthetic.render_faces(swapped, 64)
  generic_images, _ = synthetic.render_faces(generic, 64)
  landmarks = synthetic.landmarks_of(_faces("wild"), 128)
  assert _digest(images, masks, generic_images, landmarks) == PINNED_EXCHANGE


def test_source_batches_are_pinned():
  # The training path renders without masks through tf.data.
  source = synthetic.open_source("wild", 40, seed=5)
  indices = tf.data.Dataset.from_tensor_slices(np.arange(16, dtype=np.int64))
  images, labels = next(iter(source.batches("val", indices, 16)))
  assert _digest(images.numpy(), labels.numpy(), source.labels("test")) == PINNED_SOURCE


PINNED_EXCHANGE = "14ccc94ff4c10b1db4d580fc6b73d989be681c34c23a338527544a0827aaa484"
PINNED_SOURCE = "e33bf492086b275b7ab359a55faa27de1ddea04f20fba0cc185c6134c9950123"
