"""Turn a `--data` spec string into a FaceSource.

Specs: `synthetic` (the embedded procedural faces, aligned; the default),
`synthetic:wild` (the same faces unaligned),
`celeba:DIR`, `tfrecord:DIR`, `folder:DIR` (`folder:DIR,landmarks=auto` detects and
caches the landmarks, see pipelines.folder), `tfds:celeb_a`.
Each kind lives in its own module exposing `open_source(argument, image_size, **options)`.
"""

import importlib

from pipelines import usage

# The image side, in pixels, of every command that reads faces for a model (train,
# classifier, inspect) unless told otherwise: the demo model's. `prepare` stores
# larger images (256), which sources downscale on read.
DEFAULT_IMAGE_SIZE = 64


class DataSpecError(usage.UsageError):
  """Data that cannot be opened as named: an unknown kind, a malformed folder, file or
  preparation, an option or image size the kind does not take, or a split it does not
  have. Raised by this module and by each kind's `open_source`; the message names the
  spec, folder or file and what is wrong, and no flag (a command adds it)."""

# kind -> module holding its `open_source`.
SOURCE_MODULES = {
    "synthetic": "pipelines.synthetic",
    "celeba": "pipelines.celeba",
    "tfrecord": "pipelines.tfrecord",
    "folder": "pipelines.folder",
    "tfds": "pipelines.tfds_celeba",
}


def parse_data_spec(spec: str) -> tuple[str, str]:
  """Split `kind:argument` and check the kind; raises DataSpecError naming valid kinds."""
  kind, _, argument = spec.partition(":")
  if kind not in SOURCE_MODULES:
    raise DataSpecError(f"unknown data kind {kind!r} in {spec!r}; valid kinds: "
                     + ", ".join(f"{k}" if k == "synthetic" else f"{k}:..." for k in SOURCE_MODULES))
  if kind != "synthetic" and not argument:
    raise DataSpecError(f"{spec!r} needs an argument after '{kind}:' (a folder or dataset "
                        "name)")
  return kind, argument


def open_source(spec: str, image_size: int, **options):
  """Return the FaceSource named by `spec`, rendering/aligning to `image_size`."""
  kind, argument = parse_data_spec(spec)
  module = importlib.import_module(SOURCE_MODULES[kind])
  return module.open_source(argument, image_size, **options)
