"""Write contact sheets of the synthetic faces, to check them by eye.

Usage: python -m pipelines.benchmarks.synthetic_contact_sheet [--size=64]
           [--out=/tmp/synthetic] [--seed=0] [--layout=aligned|wild]

Writes two PNGs: `<out>_<size>_faces.png` (a grid of random faces) and
`<out>_<size>_swaps.png`, where each row exchanges one attribute: target A,
donor B, A with B's attribute, B with A's attribute, then the four masks of
those attributes (white = covered).
"""

import argparse
import dataclasses

import numpy as np

from pipelines import image_grid
from pipelines import synthetic
from pipelines import uint8_pixels


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


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--size", type=int, default=64)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default="/tmp/synthetic")
  parser.add_argument("--layout", default=synthetic.DEFAULT_LAYOUT,
                      choices=synthetic.LAYOUTS)
  args = parser.parse_args()
  for kind, make_sheet in (("faces", faces_sheet), ("swaps", swaps_sheet)):
    path = f"{args.out}_{args.size}_{kind}.png"
    image_grid.write_png(path, make_sheet(args.size, args.seed, args.layout))
    print("wrote", path)


if __name__ == "__main__":
  main()
