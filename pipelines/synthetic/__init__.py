"""Procedural synthetic faces with exact attribute ground truth.

CelebA cannot be downloaded everywhere, and even when it can, the quality of an
attribute swap on real photos can only be judged by eye. This package draws
cartoon faces procedurally, so that

* every image is a pure function of (seed, index): a counter-based hash, not a
  sequential generator, draws every random number, so image k is the same no
  matter which batch it is rendered in;
* every attribute has an appearance (e.g. the frame colour and lens shape of
  the eyeglasses) that varies from face to face, so "A with B's eyeglasses" is
  a precise target that `exchange_attributes` + `render_faces` produce exactly;
* the renderer also returns, per attribute, the region of the image its drawing
  covers, so errors can be measured inside and outside that region.

All shapes are defined by signed distance functions in a face-local coordinate
frame and anti-aliased by clipping the distance measured in pixels. Rendering
is vectorised over a batch with numpy and only touches the bounding window of
each layer, which is what makes it fast enough to train from on a CPU.

The package, one module per idea:
  counter_random.py  the counter hash every random number comes from
  params.py          FaceParams, sampling, landmarks, attribute exchange
  canvas.py          shapes, windows and compositing with coverage masks
  render.py          one painter per layer; render_faces
  photo.py           render_photo: a face as an unaligned, padded photo
  source.py          SyntheticFaces, the FaceSource behind --data=synthetic
The names below are what callers use; import them from here.
"""

from pipelines.synthetic.params import (APPEARANCE_FIELDS, ATTRIBUTES,
                                        DEFAULT_LAYOUT, DEFAULT_SPLIT_SIZES,
                                        IDENTITY_FIELDS, LAYOUTS,
                                        MAX_IMAGE_SIZE, MIN_IMAGE_SIZE,
                                        SPLIT_BASES, FaceParams,
                                        exchange_attributes, labels_of,
                                        landmarks_local, landmarks_of,
                                        mean_style, sample_faces,
                                        with_generic_attributes)
from pipelines.synthetic.photo import render_photo, render_photo_of
from pipelines.synthetic.render import render_batch, render_faces
from pipelines.synthetic.source import SyntheticFaces, open_source

__all__ = [
    "APPEARANCE_FIELDS", "ATTRIBUTES", "DEFAULT_LAYOUT", "DEFAULT_SPLIT_SIZES",
    "IDENTITY_FIELDS", "LAYOUTS", "MAX_IMAGE_SIZE", "MIN_IMAGE_SIZE",
    "SPLIT_BASES", "FaceParams", "exchange_attributes", "labels_of",
    "landmarks_local", "landmarks_of", "mean_style", "sample_faces",
    "with_generic_attributes", "render_batch", "render_faces", "render_photo", "render_photo_of",
    "SyntheticFaces", "open_source",
]
