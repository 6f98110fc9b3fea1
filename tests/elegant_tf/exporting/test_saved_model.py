"""The exported SavedModel: every signature, version folder rules, bad requests, image bombs."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from elegant_tf.exporting import saved_model
from elegant_tf.inference import layout
from elegant_tf.models import latent_swap
from elegant_tf.models import precision
from tests import helpers
from tests.elegant_tf import tiny


@pytest.fixture(scope="module")
def trained(tiny_export):
  """The session's tiny trained run, exported by the export command (with prototypes)."""
  return {**tiny_export, "loaded": tf.saved_model.load(tiny_export["version_dir"])}


def _inputs(batch=2, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.uniform(-1, 1, (2 * batch, 32, 32, 3)).astype(np.float32)
  return tf.constant(images[:batch]), tf.constant(images[batch:])


def test_signatures_inputs_outputs_and_metadata(trained):
  signatures = trained["loaded"].signatures
  assert set(signatures) == {"serving_default", "transfer_bytes", "encode", "decode",
                             "add_attribute", "remove_attribute", "metadata"}
  def names(key):
    args = signatures[key].structured_input_signature[1]
    return sorted(args), {k: v.dtype for k, v in args.items()}, sorted(
        signatures[key].structured_outputs)
  assert names("serving_default")[0] == ["attributes", "exemplar", "image", "strength"]
  assert names("serving_default")[2] == ["edited", "exemplar_edited"]
  assert names("transfer_bytes")[1]["image_bytes"] == tf.string
  assert names("transfer_bytes")[2] == ["edited_bytes", "exemplar_edited_bytes"]
  assert names("encode")[2] == ["latent", "skip_0", "skip_1"]
  assert names("decode")[0] == ["edited_latent", "image", "latent", "skip_0", "skip_1"]
  assert names("add_attribute")[0] == ["attributes", "image", "strength"]
  assert names("remove_attribute")[0] == ["attributes", "image", "strength"]
  metadata = {k: v.numpy() for k, v in signatures["metadata"]().items()}
  assert [n.decode() for n in metadata["attribute_names"]] == ["Eyeglasses", "Bangs"]
  assert metadata["image_size"] == 32 and metadata["version"] == 7  # --version=7.
  assert list(metadata["value_range"]) == [-1.0, 1.0] and metadata["has_prototypes"]
  assert metadata["has_absence_prototypes"]
  assets = layout.read_metadata(trained["version_dir"])
  assert assets["absence_prototype_attributes"] == ["Eyeglasses", "Bangs"]
  assert assets["attribute_names"] == ["Eyeglasses", "Bangs"] and assets["version"] == 7
  assert assets["latent_shape"] == [4, 4, 16] and assets["training_data"] == "synthetic"


def test_strength_scales_the_swap_and_encode_decode_rebuild_it(trained):
  signatures = trained["loaded"].signatures
  image, exemplar = _inputs()
  attributes = tf.constant([[1.0, 0.0], [1.0, 1.0]])
  half = signatures["serving_default"](image=image, exemplar=exemplar, attributes=attributes,
                                       strength=tf.fill([2, 2], 0.5))
  encoded = signatures["encode"](image=image)
  exemplar_latent = signatures["encode"](image=exemplar)["latent"]
  edited_latent = latent_swap.swap_latent_slabs(encoded["latent"], exemplar_latent,
                                                attributes * 0.5)
  rebuilt = signatures["decode"](image=image, edited_latent=edited_latent, **encoded)
  np.testing.assert_allclose(rebuilt["edited"], half["edited"], atol=1e-5)
  none = signatures["serving_default"](image=image, exemplar=exemplar, attributes=attributes,
                                       strength=tf.zeros([2, 2]))
  own = signatures["decode"](image=image, edited_latent=encoded["latent"], **encoded)
  np.testing.assert_allclose(none["edited"], own["edited"], atol=1e-5)
  assert not np.allclose(half["edited"], none["edited"], atol=1e-6)


def test_add_attribute_at_zero_strength_reconstructs(trained):
  signatures = trained["loaded"].signatures
  image, _ = _inputs()
  encoded = signatures["encode"](image=image)
  own = signatures["decode"](image=image, edited_latent=encoded["latent"], **encoded)["edited"]
  zero = signatures["add_attribute"](image=image, attributes=tf.ones([2, 2]),
                                     strength=tf.zeros([2, 2]))["edited"]
  full = signatures["add_attribute"](image=image, attributes=tf.ones([2, 2]),
                                     strength=tf.ones([2, 2]))["edited"]
  np.testing.assert_allclose(zero, own, atol=1e-5)
  assert full.shape == (2, 32, 32, 3) and not np.allclose(full, own, atol=1e-6)


def test_remove_attribute_exchanges_slabs_with_the_absence_prototypes(untrained_model,
                                                                     tmp_path):
  presence = untrained_model["prototypes"]
  absence = untrained_model["absence_prototypes"]
  signatures = tf.saved_model.load(untrained_model["version_dir"]).signatures
  image, _ = _inputs()
  attributes, strength = tf.constant([[1.0, 0.0], [0.0, 1.0]]), tf.fill([2, 2], 0.75)
  removed = signatures["remove_attribute"](image=image, attributes=attributes,
                                           strength=strength)["edited"]
  encoded = signatures["encode"](image=image)
  expected_latent = latent_swap.swap_latent_slabs(
      encoded["latent"], tf.broadcast_to(absence, encoded["latent"].shape), attributes * 0.75)
  expected = signatures["decode"](image=image, edited_latent=expected_latent, **encoded)
  np.testing.assert_allclose(removed, expected["edited"], atol=1e-5)
  added = signatures["add_attribute"](image=image, attributes=attributes,
                                      strength=strength)["edited"]
  assert not np.allclose(added, removed, atol=1e-4)  # Two different prototype sets.
  # Without absence prototypes there is no remove_attribute signature.
  assert "remove_attribute" not in tf.saved_model.load(
      tiny.untrained_export(tmp_path / "other", prototypes=presence)).signatures


@pytest.fixture(scope="module")
def one_prototype_each(tmp_path_factory):
  """An untrained export whose prototypes lack one attribute each: no presence prototype
  for Bangs, no absence prototype for Eyeglasses (no usable training positive, or
  negative: a NaN slab)."""
  rng = np.random.default_rng(0)
  presence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  absence = rng.normal(size=(4, 4, 16)).astype(np.float32)
  (eyeglasses_start, eyeglasses_stop), (bangs_start, bangs_stop) = (
      latent_swap.slab_boundaries(16, 2))
  presence[..., bangs_start:bangs_stop] = np.nan
  absence[..., eyeglasses_start:eyeglasses_stop] = np.nan
  return tiny.untrained_export(tmp_path_factory.mktemp("one_prototype_each"),
                               prototypes=presence, absence_prototypes=absence)


def test_attribute_without_absence_prototype_is_refused_by_remove_attribute(one_prototype_each):
  version_dir = one_prototype_each
  assert layout.read_metadata(version_dir)["absence_prototype_attributes"] == ["Bangs"]
  remove = tf.saved_model.load(version_dir).signatures["remove_attribute"]
  image, _ = _inputs()
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="remove_attribute: no prototype for Eyeglasses"):
    remove(image=image, attributes=tf.ones([2, 2]), strength=tf.ones([2, 2]))


def test_attribute_without_prototype_is_refused_by_add_attribute(one_prototype_each):
  # Bangs had no usable training positive: its prototype slab is NaN.
  version_dir = one_prototype_each
  assert layout.read_metadata(version_dir)["prototype_attributes"] == ["Eyeglasses"]
  add = tf.saved_model.load(version_dir).signatures["add_attribute"]
  image, _ = _inputs()
  edited = add(image=image, attributes=tf.constant([[1.0, 0.0]] * 2),
               strength=tf.ones([2, 2]))["edited"]
  assert np.isfinite(edited.numpy()).all()
  with pytest.raises(tf.errors.InvalidArgumentError, match="no prototype for Bangs"):
    add(image=image, attributes=tf.ones([2, 2]), strength=tf.ones([2, 2]))


def _png(height, width, seed=0):
  pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format="PNG")
  return buffer.getvalue()


def test_bytes_variant_decodes_resizes_and_returns_png(trained):
  signatures = trained["loaded"].signatures
  jpeg = io.BytesIO()
  Image.fromarray(np.full((40, 64, 3), 90, np.uint8)).save(jpeg, format="JPEG")
  outputs = signatures["transfer_bytes"](
      image_bytes=tf.constant([_png(50, 40), jpeg.getvalue()]),
      exemplar_bytes=tf.constant([_png(32, 32, 1), _png(100, 90, 2)]),
      attributes=tf.ones([2, 2]), strength=tf.ones([2, 2]))
  for key in ("edited_bytes", "exemplar_edited_bytes"):
    for png in outputs[key].numpy():
      assert Image.open(io.BytesIO(png)).size == (32, 32)
  # Same pixels through the float signature give the same result (up to 8-bit rounding).
  exemplar = np.asarray(Image.open(io.BytesIO(_png(32, 32, 1))), np.float32) / 127.5 - 1
  image = tf.image.resize(np.asarray(Image.open(io.BytesIO(_png(50, 40))))[5:45],
                          [32, 32], antialias=True) / 127.5 - 1
  floats = signatures["serving_default"](image=image[None], exemplar=exemplar[None],
                                         attributes=tf.ones([1, 2]), strength=tf.ones([1, 2]))
  decoded = np.asarray(Image.open(io.BytesIO(outputs["edited_bytes"].numpy()[0])), np.float32)
  assert np.abs(decoded / 127.5 - 1 - floats["edited"][0].numpy()).max() < 2.5 / 127.5


@pytest.mark.parametrize("signature,inputs,message", [
    ("serving_default", dict(image=tf.zeros([1, 32, 32, 4])), "input image must have shape"),
    ("serving_default", dict(image=tf.zeros([32, 32, 3])), "input image must have shape"),
    ("serving_default", dict(exemplar=tf.zeros([1, 16, 16, 3])), "input exemplar must"),
    ("serving_default", dict(attributes=tf.ones([1, 3])), "input attributes must have shape"),
    ("serving_default", dict(strength=tf.fill([1, 2], 1.5)), "input strength must lie in"),
    ("serving_default", dict(exemplar=tf.zeros([2, 32, 32, 3])), "batch size of image"),
    ("encode", dict(image=tf.zeros([1, 32, 32])), "encode: input image"),
    ("add_attribute", dict(attributes=tf.ones([1]), image=tf.zeros([1, 32, 32, 3])),
     "add_attribute: input attributes"),
    ("transfer_bytes", dict(image_bytes=tf.constant([b"not an image"])),
     "input image_bytes holds an element that is not"),
    # NaN or inf pixels would come back as NaN images.
    ("serving_default", dict(image=tf.fill([1, 32, 32, 3], np.nan)),
     "serving_default: input image holds NaN or infinite values"),
    ("serving_default", dict(exemplar=tf.fill([1, 32, 32, 3], np.inf)),
     "input exemplar holds NaN or infinite"),
    ("add_attribute", dict(image=tf.fill([1, 32, 32, 3], -np.inf)),
     "add_attribute: input image holds NaN or infinite"),
    ("encode", dict(image=tf.fill([1, 32, 32, 3], np.nan)), "encode: input image holds NaN"),
    # Finite but outside the value range: 1e30 used to be accepted.
    ("serving_default", dict(image=tf.fill([1, 32, 32, 3], 1e30)),
     r"serving_default: input image must lie in \[-1, 1\]"),
    ("serving_default", dict(exemplar=tf.fill([1, 32, 32, 3], -1.5)),
     r"input exemplar must lie in \[-1, 1\]"),
    ("add_attribute", dict(image=tf.fill([1, 32, 32, 3], 2.0)),
     r"add_attribute: input image must lie in \[-1, 1\]"),
    # An empty batch would return empty outputs.
    ("serving_default", dict(image=tf.zeros([0, 32, 32, 3]), exemplar=tf.zeros([0, 32, 32, 3]),
                             attributes=tf.ones([0, 2]), strength=tf.ones([0, 2])),
     "input image holds no example \\(batch size 0\\)"),
    ("encode", dict(image=tf.zeros([0, 32, 32, 3])), "encode: input image holds no example"),
    ("transfer_bytes", dict(image_bytes=tf.constant([], tf.string),
                            exemplar_bytes=tf.constant([], tf.string),
                            attributes=tf.ones([0, 2]), strength=tf.ones([0, 2])),
     "input image_bytes holds no example"),
    # One attributes or strength row for two images used to broadcast silently.
    ("serving_default", dict(image=tf.zeros([2, 32, 32, 3]), exemplar=tf.zeros([2, 32, 32, 3]),
                             strength=tf.ones([2, 2])),
     "input attributes must have the batch size of image"),
    ("serving_default", dict(image=tf.zeros([2, 32, 32, 3]), exemplar=tf.zeros([2, 32, 32, 3]),
                             attributes=tf.ones([2, 2])),
     "input strength must have the batch size of image"),
    ("add_attribute", dict(image=tf.zeros([2, 32, 32, 3]), attributes=tf.ones([2, 2])),
     "add_attribute: input strength must have the batch size of image"),
    ("transfer_bytes", dict(image_bytes=tf.constant([_png(32, 32)] * 2),
                            exemplar_bytes=tf.constant([_png(32, 32)] * 2),
                            attributes=tf.ones([2, 2])),
     "transfer_bytes: input strength must have the batch size of image_bytes"),
])
def test_bad_requests_name_the_input(trained, signature, inputs, message):
  defaults = {"image": tf.zeros([1, 32, 32, 3]), "exemplar": tf.zeros([1, 32, 32, 3]),
              "attributes": tf.ones([1, 2]), "strength": tf.ones([1, 2])}
  if signature == "transfer_bytes":
    defaults = {"image_bytes": tf.constant([_png(32, 32)]),
                "exemplar_bytes": tf.constant([_png(32, 32)]),
                "attributes": tf.ones([1, 2]), "strength": tf.ones([1, 2])}
  wanted = trained["loaded"].signatures[signature].structured_input_signature[1]
  arguments = {k: v for k, v in {**defaults, **inputs}.items() if k in wanted}
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    trained["loaded"].signatures[signature](**arguments)


def test_versions_count_up_and_are_never_overwritten(tmp_path):
  model = tiny.untrained_generator()
  first = saved_model.export_generator(model, ["Eyeglasses", "Bangs"], 32, str(tmp_path))
  second = saved_model.export_generator(model, ["Eyeglasses", "Bangs"], 32, str(tmp_path))
  assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
  with pytest.raises(FileExistsError, match="never overwritten.*next free: 3"):
    saved_model.export_generator(model, ["Eyeglasses", "Bangs"], 32, str(tmp_path), version=2)
  with pytest.raises(ValueError, match="positive"):
    saved_model.export_generator(model, ["Eyeglasses", "Bangs"], 32, str(tmp_path), version=0)
  assert sorted(os.listdir(tmp_path)) == ["1", "2"]  # No .incomplete-* left behind.
  # Without prototypes there is no add_attribute signature, and the metadata says so.
  assert "add_attribute" not in tf.saved_model.load(second).signatures
  assert layout.read_metadata(second)["has_prototypes"] is False


def test_a_mixed_precision_generator_is_refused_not_copied_again(tmp_path):
  # export_trained makes the float32 twin once; the writer only checks it got one.
  with precision.policy_scope("mixed_bfloat16"):
    model = tiny.untrained_generator()
  with pytest.raises(ValueError, match="float32 twin"):
    saved_model.export_generator(model, ["Eyeglasses", "Bangs"], 32, str(tmp_path))
  assert not os.listdir(tmp_path)


def _encoded(width, height, fmt):
  pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format=fmt)
  return buffer.getvalue()


def test_transfer_bytes_refuses_an_image_bomb_from_its_header(untrained_model):
  add = tf.saved_model.load(untrained_model["version_dir"]).signatures["transfer_bytes"]
  # A PNG header declaring 8000 x 6000 (48 MP, over the 40 MP budget) and no pixels.
  bomb = helpers.png_header_only(8000, 6000)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="input exemplar_bytes holds an image over 40000000 pixels"):
    add(image_bytes=tf.constant([_png(32, 32)]), exemplar_bytes=tf.constant([bomb]),
        attributes=tf.ones([1, 2]), strength=tf.ones([1, 2]))
  # GIFs whose 64 x 64 screen hides what TF decodes: one 8000 x 8000 frame (64 MP in
  # 48 KB), or 11 screen-sized frames of 2000 x 2000 (44 MP).
  gif = helpers.gif_of_zeros
  for contents, message in [
      (gif((64, 64), [(0, 0, 8000, 8000)]), "holds a GIF frame larger than its screen"),
      (gif((2000, 2000), [(0, 0, 2000, 2000)] * 11), "holds an image over 40000000 pixels")]:
    with pytest.raises(tf.errors.InvalidArgumentError, match="image_bytes " + message):
      add(image_bytes=tf.constant([contents]), exemplar_bytes=tf.constant([_png(32, 32)]),
          attributes=tf.ones([1, 2]), strength=tf.ones([1, 2]))


@pytest.fixture(scope="module")
def small_pixel_budget(tmp_path_factory):
  """transfer_bytes of an untrained export made with a budget of 50 * 30 - 1 pixels (the
  budget is fixed at export)."""
  from pipelines import image_decoding
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(image_decoding, "MAX_PIXELS", 50 * 30 - 1)
    version_dir = tiny.untrained_export(tmp_path_factory.mktemp("small_pixel_budget"))
  return tf.saved_model.load(version_dir).signatures["transfer_bytes"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_transfer_bytes_reads_every_formats_header(small_pixel_budget, fmt):
  add = small_pixel_budget
  inputs = dict(exemplar_bytes=tf.constant([_encoded(30, 40, fmt)]),
                attributes=tf.ones([1, 2]), strength=tf.ones([1, 2]))
  with pytest.raises(tf.errors.InvalidArgumentError, match="over 1499 pixels"):
    add(image_bytes=tf.constant([_encoded(50, 30, fmt)]), **inputs)
  assert add(image_bytes=tf.constant([_encoded(30, 40, fmt)]), **inputs)[
      "edited_bytes"].shape == (1,)


def test_the_graphs_header_check_refuses_what_the_pipelines_refuse(monkeypatch):
  # The in-graph reader against the Python one over the hostile corpus (no export:
  # the signature calls this function).
  from pipelines import image_decoding
  monkeypatch.setattr(image_decoding, "MAX_PIXELS", 4096)
  monkeypatch.setattr(image_decoding, "MAX_GIF_BLOCKS", 8)
  header = saved_model._header_pixels  # Eagerly: the same ops, without tracing.
  at_limit, over = helpers.many_block_gifs()
  files = {**helpers.hostile_files(), "GIF of 8 blocks": at_limit,
           "GIF of 9 blocks": over,
           "GIF of one-byte sub-blocks": helpers.gif_of_one_byte_sub_blocks(1000)}
  for name, contents in files.items():
    if not contents.startswith((b"GIF8", b"\x89PNG", b"BM", b"\xff\xd8\xff")):
      continue  # transfer_bytes refuses other formats by their magic number.
    width, height, frames = (int(v) for v in header(tf.constant(contents)))
    refused = frames < 0 or width * height * max(frames, 1) > 4096
    assert refused == (image_decoding.header_refusal(contents) is not None), name
