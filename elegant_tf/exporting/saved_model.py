"""Export the generator as a SavedModel that TF Serving loads, in numeric version folders.

The library behind `python -m elegant_tf.export` and the end of training. It is
handed a generator and, optionally, its prototype slabs as an array: it never
opens training data (the caller computes prototypes, see prototypes.py).

Layout: <export_dir>/<version>/ (saved_model.pb, variables/, assets/elegant_metadata.json).
A version is written under a temporary name and renamed when complete, so TF
Serving, which polls the folder, never sees a half-written model; an existing
version is never overwritten.

Signatures (S = image size, n = number of attributes, images in [-1, 1]):
  serving_default  image, exemplar float32 [b, S, S, 3]; attributes float32 [b, n]
                   (multi-hot: which attributes to take from the exemplar);
                   strength float32 [b, n] in [0, 1] (1 = full swap)
                   -> edited, exemplar_edited float32 [b, S, S, 3].
  transfer_bytes   image_bytes, exemplar_bytes string [b] (JPEG/PNG/GIF/BMP, any size,
                   aligned faces; centre-cropped and resized in the graph);
                   attributes, strength as above
                   -> edited_bytes, exemplar_edited_bytes string [b] (PNG).
  encode           image -> latent [b, h, w, C], skip_0 .. skip_{k-1} (finest first).
  decode           image, edited_latent, latent, skip_0 .. -> edited.
  add_attribute    image, attributes, strength -> edited: label-only editing with the
                   per-attribute presence prototype slabs (only when prototypes were given).
  remove_attribute image, attributes, strength -> edited: the same with the absence
                   prototypes (the mean slab of faces without the attribute; only when
                   absence prototypes were given).
  metadata         no inputs -> attribute_names, image_size, value_range, version,
                   latent_shape, has_prototypes, has_absence_prototypes.

Input shapes are declared with unknown rank on purpose: the graph checks every
input itself and fails with a message that names the signature and the input
(wrong shape, an empty batch, batch sizes that differ between inputs, NaN or
infinite values, images outside the value range [-1, 1] (1e-3 of slack for a
client's rounding), weights outside [0, 1], encoded images whose header declares
more than pipelines.image_decoding.MAX_PIXELS pixels counting every GIF frame, or
more than MAX_SIDE a side, or a GIF frame larger than its screen).
A fixed-shape placeholder would leave that check to the client library (the TF
Serving C++ server feeds placeholders without comparing shapes).
"""

import os
import shutil
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from elegant_tf.exporting import prototypes as prototypes_lib
from elegant_tf.inference import layout
from elegant_tf.models import latent_swap
from elegant_tf.models import precision
from pipelines import alignment
from pipelines import image_decoding
from pipelines import uint8_pixels

# Magic numbers of the formats tf.io.decode_image reads.
_IMAGE_MAGICS = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")


def latent_shape(generator, image_size: int) -> list[int]:
  """[h, w, C] of the generator's latent at `image_size`."""
  side = image_size // 2 ** generator.depth
  return [side, side, generator.encoder_widths[-1]]


def skip_shapes(generator, image_size: int) -> list[list[int]]:
  """[h, w, C] of each encoder skip, finest first."""
  return [[image_size // 2 ** (k + 1)] * 2 + [width]
          for k, width in enumerate(generator.encoder_widths[:-1])]


def _check_shape(tensor, signature: str, name: str, expected: Sequence[Optional[int]]):
  """Assert `tensor` has `expected` shape (None = any); return it with that static shape.

  The assertion names the signature and the input, so a bad request reads as such
  instead of failing later inside a convolution.
  """
  shape = tf.shape(tensor, out_type=tf.int32)
  rank = len(expected)
  # Pad the runtime shape so indexing it is safe whatever rank arrived.
  padded = tf.concat([shape, tf.fill([rank], -1)], axis=0)[:rank]
  ok = tf.equal(tf.size(shape), rank)
  for axis, size in enumerate(expected):
    if size is not None:
      ok = tf.logical_and(ok, tf.equal(padded[axis], size))
  wanted = "[" + ", ".join("batch" if s is None else str(s) for s in expected) + "]"
  checks = [tf.debugging.Assert(
      ok, [f"{signature}: input {name} must have shape {wanted}; got shape", shape],
      summarize=8)]
  if expected and expected[0] is None:
    # An empty batch would return empty outputs, hiding a client bug; a wrong rank
    # is reported by the shape check alone.
    checks.append(tf.debugging.Assert(
        tf.logical_or(tf.logical_not(ok), padded[0] > 0),
        [f"{signature}: input {name} holds no example (batch size 0)"]))
  with tf.control_dependencies(checks):
    tensor = tf.identity(tensor)
  return tf.ensure_shape(tensor, expected)


def _check_finite(tensor, signature: str, name: str):
  """Assert no NaN or inf: they would flow through the network into NaN images."""
  check = tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(tensor)), [
      f"{signature}: input {name} holds NaN or infinite values"])
  with tf.control_dependencies([check]):
    return tf.identity(tensor)


# Slack around the [-1, 1] value range for rounding in a client's own conversion.
VALUE_RANGE_SLACK = 1e-3


def _check_value_range(tensor, signature: str, name: str):
  """Assert images lie in the value range [-1, 1]: 1e30 is finite, yet the network turns
  it into inf and NaN, or into an image that is garbage without saying so."""
  bound = 1.0 + VALUE_RANGE_SLACK
  check = tf.debugging.Assert(tf.reduce_all(tf.abs(tensor) <= bound), [
      f"{signature}: input {name} must lie in [-1, 1] (the model's value range); its "
      "largest magnitude is", tf.reduce_max(tf.abs(tensor))])
  with tf.control_dependencies([check]):
    return tf.identity(tensor)


def _check_same_batch(signature: str, named_tensors: dict) -> list:
  """Assert every input has the batch size of the first one (no broadcasting of a batch
  of 1: a client that sends one attributes row for two images has a bug)."""
  names = list(named_tensors)
  first = tf.shape(named_tensors[names[0]])[0]
  checks = []
  for name in names[1:]:
    checks.append(tf.debugging.Assert(
        tf.equal(tf.shape(named_tensors[name])[0], first),
        [f"{signature}: input {name} must have the batch size of {names[0]}"]))
  return checks


def _gif_frames_in_graph(contents):
  """(number of frames, all inside the logical screen, more blocks than
  image_decoding.MAX_GIF_BLOCKS) of a GIF, in the graph.

  TF's GIF decoder expands every frame at the frame's own declared size (see
  image_decoding.gif_layout, which this mirrors). Walking the data sub-blocks one
  loop step each would let a request of one-byte sub-blocks take minutes (about
  1 ms a step), so the end of every run of sub-blocks is found for all positions
  at once by pointer doubling (log2 of the longest run gathers over the input),
  and the loop steps over whole blocks only, at most MAX_GIF_BLOCKS of them.
  """
  padding = 16
  byte = tf.cast(tf.io.decode_raw(tf.strings.join([contents, b"\0" * padding]), tf.uint8),
                 tf.int32)
  length = tf.strings.length(contents)
  last = length + padding - 1  # A zero byte: the end of everything past the input.
  screen_width = byte[6] + 256 * byte[7]
  screen_height = byte[8] + 256 * byte[9]

  # jump[p]: from a sub-block's length byte at p to the next one; a zero length byte
  # (the end of the run) stays put. Doubled until nothing moves: run_end[p].
  positions = tf.range(length + padding)
  jump = tf.where(tf.equal(byte, 0), positions, tf.minimum(positions + 1 + byte, last))
  run_end = tf.while_loop(
      lambda jump, moved: moved,
      lambda jump, moved: (tf.gather(jump, jump),
                           tf.reduce_any(tf.not_equal(tf.gather(jump, jump), jump))),
      (jump, tf.constant(True)))[0]

  def color_table(packed):
    return tf.where(packed >= 128, 3 * tf.bitwise.left_shift(2, packed % 8), 0)

  def after_sub_blocks(start):
    return run_end[tf.minimum(start, last)] + 1

  def step(position, blocks, done, frames, inside):
    header = tf.gather(byte, tf.minimum(position + tf.range(10), last))
    block = header[0]
    is_image = tf.logical_and(tf.equal(block, 0x2C), position + 10 <= length)
    is_extension = tf.equal(block, 0x21)
    left, top = header[1] + 256 * header[2], header[3] + 256 * header[4]
    width, height = header[5] + 256 * header[6], header[7] + 256 * header[8]
    # An image: descriptor, local colour table, LZW code size, then sub-blocks; an
    # extension: introducer, label, then sub-blocks. Anything else (the trailer 0x3B)
    # ends the walk, as in giflib.
    next_position = tf.where(is_image,
                             after_sub_blocks(position + 10 + color_table(header[9]) + 1),
                             after_sub_blocks(position + 2))
    fits = tf.logical_and(left + width <= screen_width, top + height <= screen_height)
    return (next_position, blocks + tf.cast(tf.logical_or(is_image, is_extension), tf.int32),
            tf.logical_not(tf.logical_or(is_image, is_extension)),
            frames + tf.cast(is_image, tf.int64),
            tf.logical_and(inside, tf.logical_or(tf.logical_not(is_image), fits)))

  start = 13 + color_table(byte[10])
  limit = image_decoding.MAX_GIF_BLOCKS
  _, blocks, done, frames, inside = tf.while_loop(
      lambda position, blocks, done, frames, inside: tf.logical_and(
          tf.logical_and(position < length, tf.logical_not(done)), blocks <= limit),
      step, (start, tf.constant(0), tf.constant(False), tf.constant(0, tf.int64),
             tf.constant(True)))
  return frames, inside, blocks > limit


def _header_pixels(contents):
  """int64 (width, height, frames) that decoding a PNG, JPEG, GIF or BMP expands, from its
  header, in the graph; (0, 0, 1) for anything else. Read before decoding, so an image
  bomb is refused unexpanded. A GIF frame outside the logical screen gives frames = -1
  (refused: TF would allocate the frame's own size), more than MAX_GIF_BLOCKS blocks
  frames = -2."""
  # 32 header bytes, zero-padded so a short input still gives 32 values.
  head = tf.strings.substr(tf.strings.join([tf.strings.substr(contents, 0, 32),
                                            tf.constant(b"\0" * 32)]), 0, 32)
  byte = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)

  def number(start, size, big_endian):
    order = range(size) if big_endian else reversed(range(size))
    value = tf.constant(0, tf.int64)
    for k in order:
      value = value * 256 + byte[start + k]
    return value

  def starts_with(magic):
    return tf.equal(tf.strings.substr(contents, 0, len(magic)), magic)

  def signed(value):  # BMP dimensions are int32; a negative height means top-down rows.
    return tf.abs(tf.where(value >= 2 ** 31, value - 2 ** 32, value))

  one = tf.constant(1, tf.int64)

  def jpeg():
    shape = tf.cast(tf.io.extract_jpeg_shape(contents), tf.int64)
    return tf.stack([shape[1], shape[0], one])

  def gif():
    frames, inside, too_many_blocks = _gif_frames_in_graph(contents)
    return tf.stack([number(6, 2, False), number(8, 2, False),
                     tf.where(too_many_blocks, -2 * one, tf.where(inside, frames, -one))])

  return tf.case([
      (starts_with(b"\x89PNG"), lambda: tf.stack([number(16, 4, True), number(20, 4, True), one])),
      (starts_with(b"GIF8"), gif),
      (starts_with(b"BM"), lambda: tf.stack([signed(number(18, 4, False)),
                                            signed(number(22, 4, False)), one])),
      (starts_with(b"\xff\xd8\xff"), jpeg),
  ], default=lambda: tf.stack([one - 1, one - 1, one]), exclusive=True)


def _check_unit_interval(tensor, signature: str, name: str):
  in_range = tf.reduce_all(tf.logical_and(tensor >= 0.0, tensor <= 1.0))
  check = tf.debugging.Assert(in_range, [f"{signature}: input {name} must lie in [0, 1]"])
  with tf.control_dependencies([check]):
    return tf.identity(tensor)


def _edit_weights(signature: str, images: dict, attributes, strength, num_attributes: int):
  """Per-attribute slab weights = multi-hot choice x strength, both checked, and checked
  to have the batch size of the (already checked) `images`, {input name: tensor}."""
  attributes = _check_unit_interval(
      _check_shape(attributes, signature, "attributes", [None, num_attributes]),
      signature, "attributes")
  strength = _check_unit_interval(
      _check_shape(strength, signature, "strength", [None, num_attributes]),
      signature, "strength")
  # Checked before multiplying: the product would broadcast a batch of 1.
  checks = _check_same_batch(signature, {**images, "attributes": attributes,
                                         "strength": strength})
  with tf.control_dependencies(checks):
    return attributes * strength


class _Signatures:
  """The serving functions over one generator (kept together: they share checks)."""

  def __init__(self, generator, attribute_names, image_size: int, version: int,
               prototypes: Optional[np.ndarray],
               absence_prototypes: Optional[np.ndarray] = None):
    self.generator = generator
    self.attribute_names = list(attribute_names)
    self.num_attributes = len(attribute_names)
    self.image_size = image_size
    self.version = version
    self.prototypes, self.missing_prototypes = self._usable(prototypes)
    self.absence_prototypes, self.missing_absence_prototypes = self._usable(absence_prototypes)
    self.latent_shape = latent_shape(generator, image_size)
    self.skip_shapes = skip_shapes(generator, image_size)

  def _usable(self, slabs: Optional[np.ndarray]):
    """(slabs with NaN slabs zeroed, positions of the NaN slabs): a NaN slab marks an
    attribute without a usable example (prototypes.py)."""
    if slabs is None:
      return None, []
    boundaries = latent_swap.slab_boundaries(slabs.shape[-1], self.num_attributes)
    missing = [i for i, (start, stop) in enumerate(boundaries)
               if np.isnan(slabs[..., start:stop]).any()]
    return np.nan_to_num(slabs, nan=0.0), missing

  def _image(self, tensor, signature: str, name: str):
    # The range check takes the finite check's output, so NaN is reported as NaN.
    return _check_value_range(_check_finite(
        _check_shape(tensor, signature, name, [None, self.image_size, self.image_size, 3]),
        signature, name), signature, name)

  def _transfer(self, signature, image, exemplar, attributes, strength, names=None):
    image_name, exemplar_name = names or ("image", "exemplar")
    image = self._image(image, signature, image_name)
    exemplar = self._image(exemplar, signature, exemplar_name)
    weights = _edit_weights(signature, {image_name: image, exemplar_name: exemplar},
                            attributes, strength, self.num_attributes)
    # The images wait for the batch checks too, or a mismatch fails inside the network.
    with tf.control_dependencies([weights]):
      image, exemplar = tf.identity(image), tf.identity(exemplar)
    return self.generator({"image": image, "exemplar": exemplar, "attributes": weights})

  def transfer(self, image, exemplar, attributes, strength):
    return self._transfer("serving_default", image, exemplar, attributes, strength)

  def _decode_images(self, data, name: str):
    """string [b] encoded images -> float32 [b, S, S, 3] in [-1, 1]."""
    data = _check_shape(data, "transfer_bytes", name, [None])

    def decode_one(contents):
      known = tf.reduce_any([tf.equal(tf.strings.substr(contents, 0, len(magic)), magic)
                             for magic in _IMAGE_MAGICS])
      check = tf.debugging.Assert(known, [
          f"transfer_bytes: input {name} holds an element that is not a JPEG, PNG, GIF or "
          "BMP image"])
      with tf.control_dependencies([check]):
        size = _header_pixels(contents)
      # The data pipelines' budget, fixed into the graph at export; every GIF frame counts.
      limit, side = image_decoding.MAX_PIXELS, image_decoding.MAX_SIDE
      inside = tf.debugging.Assert(tf.not_equal(size[2], -1), [
          f"transfer_bytes: input {name} holds a GIF frame larger than its screen"])
      blocks = tf.debugging.Assert(tf.not_equal(size[2], -2), [
          f"transfer_bytes: input {name} holds a GIF of more than "
          f"{image_decoding.MAX_GIF_BLOCKS} blocks"])
      small = tf.debugging.Assert(tf.logical_and(
          size[0] * size[1] * tf.maximum(size[2], 1) <= limit,
          tf.maximum(size[0], size[1]) <= side), [
              f"transfer_bytes: input {name} holds an image over {limit} pixels or {side} "
              "a side; its header says width x height x frames =", size[0], size[1], size[2]])
      with tf.control_dependencies([inside, blocks, small]):
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
      image = alignment.center_crop_resize(image, self.image_size)
      return tf.clip_by_value(image / 127.5 - 1.0, -1.0, 1.0)

    return tf.map_fn(decode_one, data, fn_output_signature=tf.TensorSpec(
        [self.image_size, self.image_size, 3], tf.float32))

  @staticmethod
  def _encode_png(images):
    pixels = uint8_pixels.to_uint8_graph(images)
    return tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)

  def transfer_bytes(self, image_bytes, exemplar_bytes, attributes, strength):
    image = self._decode_images(image_bytes, "image_bytes")
    exemplar = self._decode_images(exemplar_bytes, "exemplar_bytes")
    outputs = self._transfer("transfer_bytes", image, exemplar, attributes, strength,
                             names=("image_bytes", "exemplar_bytes"))
    return {"edited_bytes": self._encode_png(outputs["edited"]),
            "exemplar_edited_bytes": self._encode_png(outputs["exemplar_edited"])}

  def encode(self, image):
    latent, skips = self.generator.encode(self._image(image, "encode", "image"))
    return {"latent": latent, **{f"skip_{k}": skip for k, skip in enumerate(skips)}}

  def decode(self, image, edited_latent, latent, *skips):
    image = self._image(image, "decode", "image")
    edited_latent = _check_finite(_check_shape(edited_latent, "decode", "edited_latent",
                                               [None] + self.latent_shape),
                                  "decode", "edited_latent")
    latent = _check_finite(_check_shape(latent, "decode", "latent", [None] + self.latent_shape),
                           "decode", "latent")
    skips = [_check_finite(_check_shape(skip, "decode", f"skip_{k}", [None] + shape),
                           "decode", f"skip_{k}")
             for k, (skip, shape) in enumerate(zip(skips, self.skip_shapes))]
    named = {"image": image, "edited_latent": edited_latent, "latent": latent,
             **{f"skip_{k}": skip for k, skip in enumerate(skips)}}
    with tf.control_dependencies(_check_same_batch("decode", named)):
      image = tf.identity(image)
    return {"edited": self.generator.edit(image, edited_latent, latent, skips)}

  def _label_only_edit(self, signature, image, attributes, strength, slabs, missing,
                       example_kind):
    """Exchange the chosen slabs of the image's latent with prototype `slabs`."""
    image = self._image(image, signature, "image")
    weights = _edit_weights(signature, {"image": image}, attributes, strength,
                            self.num_attributes)
    with tf.control_dependencies([weights]):
      image = tf.identity(image)
    if missing:
      # A zero slab would silently apply a blank attribute: refuse instead.
      chosen = tf.gather(weights, missing, axis=1)
      names = ", ".join(self.attribute_names[i] for i in missing)
      check = tf.debugging.Assert(tf.reduce_all(tf.equal(chosen, 0.0)), [
          f"{signature}: no prototype for {names} (no usable training {example_kind}); its "
          "attributes or strength must be 0"])
      with tf.control_dependencies([check]):
        weights = tf.identity(weights)
    return {"edited": prototypes_lib.edit_with_prototypes(self.generator, image, slabs, weights)}

  def add_attribute(self, image, attributes, strength):
    return self._label_only_edit("add_attribute", image, attributes, strength,
                                 self.prototypes, self.missing_prototypes, "positive")

  def remove_attribute(self, image, attributes, strength):
    return self._label_only_edit("remove_attribute", image, attributes, strength,
                                 self.absence_prototypes, self.missing_absence_prototypes,
                                 "negative")

  def metadata(self):
    return {
        "attribute_names": tf.constant(self.attribute_names, tf.string),
        "image_size": tf.constant(self.image_size, tf.int32),
        "value_range": tf.constant([-1.0, 1.0], tf.float32),
        "version": tf.constant(self.version, tf.int64),
        "latent_shape": tf.constant(self.latent_shape, tf.int32),
        "has_prototypes": tf.constant(self.prototypes is not None),
        "has_absence_prototypes": tf.constant(self.absence_prototypes is not None),
    }


def _spec(name: str, dtype=tf.float32, shape=None) -> tf.TensorSpec:
  # shape None = unknown rank: the graph checks it (see the module docstring).
  return tf.TensorSpec(shape, dtype, name=name)


def export_generator(generator, attribute_names: Sequence[str], image_size: int,
                     export_dir: str, version: Optional[int] = None,
                     prototypes: Optional[np.ndarray] = None,
                     training_data: Optional[str] = None,
                     absence_prototypes: Optional[np.ndarray] = None) -> str:
  """Write the SavedModel with every signature of the module docstring; return its folder.

  generator: one that computes in float32; a mixed-precision one is refused (ValueError),
  export its precision.float32_copy (export_lib.export_trained does).
  prototypes: float32 [h, w, C] prototype slabs computed by the caller
  (prototypes.compute_prototypes; a NaN slab marks an attribute without a prototype,
  which add_attribute refuses to add). Without them the model has no `add_attribute`
  signature. absence_prototypes: the same over faces without each attribute
  (compute_prototypes(..., present=False)), for the `remove_attribute` signature.
  training_data: the --data spec the model was trained on, recorded in the metadata
  so TFLite int8 calibration can draw from the same pipeline.
  """
  version = layout.next_version(export_dir) if version is None else int(version)
  if version < 1:
    raise ValueError(f"version {version}: TF Serving versions are positive integers")
  final_dir = os.path.join(export_dir, str(version))
  if os.path.exists(final_dir):
    raise FileExistsError(f"{final_dir} exists; versions are never overwritten, pick another "
                          f"(next free: {layout.next_version(export_dir)})")
  attribute_names = list(attribute_names)
  # A mixed-precision generator is exported as its float32 twin (same weights): float32
  # signatures, and TFLite's builtin kernels have no bfloat16. The caller makes the twin
  # once (export_lib.export_trained needs it for the prototypes too); here it is checked.
  if precision.compute_dtype(generator) != "float32":
    raise ValueError(f"the generator computes in {precision.compute_dtype(generator)}; export "
                     "its float32 twin (precision.float32_copy)")
  expected = latent_shape(generator, image_size)
  if prototypes is not None:
    prototypes = np.asarray(prototypes, np.float32)
    if list(prototypes.shape) != expected:
      raise ValueError(f"prototypes have shape {list(prototypes.shape)}, the latent {expected}")
  if absence_prototypes is not None:
    absence_prototypes = np.asarray(absence_prototypes, np.float32)
    if list(absence_prototypes.shape) != expected:
      raise ValueError(f"absence prototypes have shape {list(absence_prototypes.shape)}, "
                       f"the latent {expected}")
  signatures = _Signatures(generator, attribute_names, image_size, version, prototypes,
                           absence_prototypes)
  num_skips = generator.depth - 1

  archive = keras.export.ExportArchive()
  archive.track(generator)
  archive.add_endpoint("serving_default", signatures.transfer, input_signature=[
      _spec("image"), _spec("exemplar"), _spec("attributes"), _spec("strength")])
  archive.add_endpoint("transfer_bytes", signatures.transfer_bytes, input_signature=[
      _spec("image_bytes", tf.string), _spec("exemplar_bytes", tf.string),
      _spec("attributes"), _spec("strength")])
  archive.add_endpoint("encode", signatures.encode, input_signature=[_spec("image")])
  archive.add_endpoint("decode", signatures.decode, input_signature=[
      _spec("image"), _spec("edited_latent"), _spec("latent")]
      + [_spec(f"skip_{k}") for k in range(num_skips)])
  if prototypes is not None:
    archive.add_endpoint("add_attribute", signatures.add_attribute, input_signature=[
        _spec("image"), _spec("attributes"), _spec("strength")])
  if absence_prototypes is not None:
    archive.add_endpoint("remove_attribute", signatures.remove_attribute, input_signature=[
        _spec("image"), _spec("attributes"), _spec("strength")])
  archive.add_endpoint("metadata", signatures.metadata, input_signature=[])

  os.makedirs(export_dir, exist_ok=True)
  temporary_dir = os.path.join(export_dir, f".incomplete-{version}")
  shutil.rmtree(temporary_dir, ignore_errors=True)
  archive.write_out(temporary_dir, verbose=False)
  metadata = {"attribute_names": attribute_names, "image_size": image_size,
              "value_range": [-1.0, 1.0], "version": version,
              "encoder_widths": list(generator.encoder_widths),
              "latent_shape": signatures.latent_shape,
              "skip_shapes": signatures.skip_shapes,
              "has_prototypes": prototypes is not None,
              "prototype_attributes": [
                  name for i, name in enumerate(attribute_names)
                  if prototypes is not None and i not in signatures.missing_prototypes],
              "has_absence_prototypes": absence_prototypes is not None,
              "absence_prototype_attributes": [
                  name for i, name in enumerate(attribute_names)
                  if absence_prototypes is not None
                  and i not in signatures.missing_absence_prototypes],
              "training_data": training_data}
  layout.write_metadata(temporary_dir, metadata)
  if os.path.exists(final_dir):  # Another exporter took this version meanwhile.
    shutil.rmtree(temporary_dir, ignore_errors=True)
    raise FileExistsError(f"{final_dir} appeared while exporting; versions are never "
                          "overwritten")
  os.rename(temporary_dir, final_dir)
  return final_dir
