"""`tfds:celeb_a`: CelebA through tensorflow-datasets, in the same (image, labels) form.

TFDS stores the 178x218 crops (img_align_celeba) with their 5 landmarks and the
40 attributes as booleans. Pair sampling needs labels without decoding and random
access by index, which TFDS's TFRecord files do not offer; so opening reads each
split once with image decoding skipped, keeping labels, landmarks and the encoded
JPEG bytes (about 1.4 GB for all of CelebA) in memory. For repeated long runs,
`python -m pipelines.prepare --data=tfds:celeb_a ...` once and train from
`tfrecord:DIR` instead: it opens instantly and skips the per-epoch alignment.
"""

import numpy as np
import tensorflow_datasets as tfds

from pipelines import data_spec
from pipelines import face_source
from pipelines import image_decoding

TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test"}
LANDMARK_ORDER = ("lefteye", "righteye", "nose", "leftmouth", "rightmouth")

HOW_TO_PREPARE = """\
TFDS dataset {name!r} is not prepared in {data_dir} ({error}).
Its download host (Google Drive) is often unreachable. TFDS accepts the original
files placed by hand (it checks their SHA-256 against its checksums.tsv):
  1. Get, under exactly these names: img_align_celeba.zip, list_attr_celeba.txt,
     list_eval_partition.txt, list_landmarks_align_celeba.txt, identity_CelebA.txt.
  2. Put them in one folder, e.g. {data_dir}/downloads/manual/.
  3. Run:  tfds build celeb_a --data_dir={data_dir} --manual_dir=PATH_TO_FOLDER
Or skip TFDS: --data=celeba:DIR reads the unzipped CelebA folder directly."""


class TFDSSource(image_decoding.IndexedImageSource):
  """Examples held as encoded bytes in memory, decoded and aligned on demand."""

  def __init__(self, names, image_size, tables, images, ledger, deterministic):
    super().__init__(names, image_size, tables, ledger, deterministic)
    self._images = images

  def read_bytes(self, split, index):
    return self._images[split][index]


def _not_prepared(name: str, data_dir, error: Exception) -> RuntimeError:
  first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
  return RuntimeError(HOW_TO_PREPARE.format(name=name, data_dir=data_dir or "~/tensorflow_datasets",
                                            error=first_line))


def open_source(argument: str, image_size: int, tfds_data_dir: str = None,
                deterministic: bool = True, **unused_options) -> TFDSSource:
  """Open `tfds:celeb_a`; a missing preparation raises RuntimeError with instructions."""
  if argument != "celeb_a":
    raise data_spec.DataSpecError(
        f"tfds:{argument} is not supported; only tfds:celeb_a has face landmarks")
  builder = tfds.builder(argument, data_dir=tfds_data_dir)
  attribute_names = list(builder.info.features["attributes"].keys())
  ledger = image_decoding.SkipLedger()
  tables, images = {}, {}
  for split in face_source.SPLITS:
    try:
      examples = builder.as_dataset(split=TFDS_SPLITS[split], shuffle_files=False,
                                    decoders={"image": tfds.decode.SkipDecoding()})
    except (AssertionError, FileNotFoundError, ValueError, OSError) as error:
      raise _not_prepared(argument, tfds_data_dir, error) from None
    keys, labels, landmarks, encoded = [], [], [], []
    for number, example in enumerate(examples.as_numpy_iterator()):
      # TFDS drops file names; the position in the split names the example.
      keys.append(f"{TFDS_SPLITS[split]}[{number}]")
      labels.append([bool(example["attributes"][n]) for n in attribute_names])
      marks = example["landmarks"]
      landmarks.append([(marks[f"{p}_x"], marks[f"{p}_y"]) for p in LANDMARK_ORDER])
      encoded.append(bytes(example["image"]))
    tables[split] = {
        "keys": keys,
        "labels": np.array(labels, np.uint8).reshape(-1, len(attribute_names)),
        "landmarks": np.array(landmarks, np.float32).reshape(-1, 5, 2),
    }
    images[split] = encoded
  return TFDSSource(attribute_names, image_size, tables, images, ledger, deterministic)
