"""Write contact sheets of the synthetic faces, to check them by eye.

Usage: python -m pipelines.benchmarks.synthetic_contact_sheet [--size=64]
           [--out=/tmp/synthetic] [--seed=0] [--layout=aligned|wild]

Writes two PNGs: `<out>_<size>_faces.png` (a grid of random faces) and
`<out>_<size>_swaps.png`, where each row exchanges one attribute: target A,
donor B, A with B's attribute, B with A's attribute, then the four masks of
those attributes (white = covered).
"""

import dataclasses

from absl import flags
import numpy as np

from pipelines import image_grid
from pipelines import synthetic
from pipelines import uint8_pixels
from pipelines import usage


def define_flags():
  flags.DEFINE_integer("size", 64, "Face size, in pixels.")
  flags.DEFINE_integer("seed", 0, "Seed of the faces drawn.")
  flags.DEFINE_string("out", "/tmp/synthetic", "Prefix of the two PNGs written.")
  flags.DEFINE_enum("layout", synthetic.DEFAULT_LAYOUT, synthetic.LAYOUTS,
                    "Where each face sits: aligned (as in CelebA's aligned crops) or wild "
                    "(unaligned: shifted, rotated, smaller).")


FLAGS = flags.FLAGS


# Tiles in rows of 8 on grey, 2 px apart and from the edge.
COLUMNS, GAP, GREY = 8, 2, 128


def sheet(tiles) -> np.ndarray:
  """uint8 [N, H, W, 3] tiles laid out as this script's sheets are."""
  return image_grid.tile_uint8(tiles, COLUMNS, gap=GAP, margin=GAP, background=GREY)


def faces_sheet(size: int, seed: int, layout: str = synthetic.DEFAULT_LAYOUT,
                count: int = 48) -> np.ndarray:
  params = synthetic.sample_faces(seed, np.arange(count), layout=layout)
  images, _ = synthetic.render_faces(params, size)
  return sheet(uint8_pixels.to_uint8(images))


def swaps_sheet(size: int, seed: int,
                layout: str = synthetic.DEFAULT_LAYOUT) -> np.ndarray:
  """One row per attribute: A, B, A<-B, B<-A and their masks."""
  params = synthetic.sample_faces(seed, np.arange(1000, 1200), layout=layout)
  tiles = []
  for j, name in enumerate(synthetic.ATTRIBUTES):
    # A without the attribute and B with it, so the swap is visible.
    a_idx = np.flatnonzero(~params.states[:, j])[j]
    b_idx = np.flatnonzero(params.states[:, j])[j]
    a, b = params.take([a_idx]), params.take([b_idx])
    ab = synthetic.exchange_attributes(a, b, [name])
    ba = synthetic.exchange_attributes(b, a, [name])
    batch = synthetic.FaceParams(
        *(np.concatenate([getattr(x, f.name) for x in (a, b, ab, ba)])
          for f in dataclasses.fields(synthetic.FaceParams)))
    images, masks = synthetic.render_faces(batch, size)
    mask_tiles = np.repeat(masks[..., j:j + 1], 3, axis=-1) * 2.0 - 1.0
    tiles.extend(uint8_pixels.to_uint8(images))
    tiles.extend(uint8_pixels.to_uint8(mask_tiles))
  return sheet(tiles)


def main(argv):
  usage.check_no_arguments(argv)
  for kind, make_sheet in (("faces", faces_sheet), ("swaps", swaps_sheet)):
    path = f"{FLAGS.out}_{FLAGS.size}_{kind}.png"
    image_grid.write_png(path, make_sheet(FLAGS.size, FLAGS.seed, FLAGS.layout))
    print("wrote", path)


if __name__ == "__main__":
  define_flags()
  usage.run("synthetic_contact_sheet", main)
