"""Builders of small on-disk data sets for tests and benchmarks.

`make_celeba` writes a CelebA-format folder (the distributed text formats) with a
few dozen generated JPEGs plus one file of every bad kind the pipelines must
survive; `make_folder` writes a custom folder with CSV labels. Both return what
a correct reader should find, so tests compare against facts, not re-parsing.
"""

import io
import os

import numpy as np
from PIL import Image

from pipelines import alignment
from pipelines import synthetic

ATTRIBUTES = ("Bangs", "Black_Hair", "Blond_Hair", "Eyeglasses", "Male")
CROP_WIDTH, CROP_HEIGHT = 89, 109  # Half of CelebA's 178x218, to keep tests quick.


def face_landmarks(rng: np.random.Generator, width: int, height: int, pupils: float) -> np.ndarray:
  """Template landmarks under a random similarity, centred in a width x height image."""
  template = alignment.template_landmarks(256).astype(np.float64)
  template -= template.mean(axis=0)
  angle = rng.uniform(-0.2, 0.2)
  scale = pupils / 70.0
  rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
  centre = np.array([width / 2 + rng.uniform(-2, 2), height / 2 + rng.uniform(-2, 2)])
  return (template @ rotation.T * scale + centre).astype(np.float32)


def face_image(rng: np.random.Generator, width: int, height: int, landmarks: np.ndarray,
               shade: int) -> np.ndarray:
  """A smooth RGB background with a bright square on each landmark."""
  y, x = np.mgrid[0:height, 0:width]
  image = np.stack([x * 200 // max(width, 1), y * 200 // max(height, 1),
                    np.full_like(x, shade)], axis=-1).astype(np.uint8)
  image = (image + rng.integers(0, 20, image.shape)).astype(np.uint8)
  for px, py in np.round(landmarks).astype(int):
    image[max(py - 1, 0):py + 2, max(px - 1, 0):px + 2] = 255
  return image


def encode(array: np.ndarray, fmt: str, mode: str = None) -> bytes:
  image = Image.fromarray(array)
  if mode:
    image = image.convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, fmt)
  return buffer.getvalue()


def png16(array: np.ndarray) -> bytes:
  gray = array.mean(axis=-1).astype(np.uint16) * 257
  buffer = io.BytesIO()
  Image.fromarray(gray).save(buffer, "PNG")  # uint16 array -> mode I;16.
  return buffer.getvalue()


def make_celeba(root: str, num_good: int = 36, layout: str = "img_align_celeba", seed: int = 0):
  """Write a CelebA-format folder; return a dict of expectations.

  Expectations: `labels` {file: uint8 [5]}, `split` {file: split}, `landmarks`
  {file: [5, 2]}, `skipped` {reason: files}, `converted` {reason: files}.
  """
  rng = np.random.default_rng(seed)
  landmark_file = ("list_landmarks_align_celeba.txt" if layout == "img_align_celeba"
                   else "list_landmarks_celeba.txt")
  image_dir = os.path.join(root, layout)
  os.makedirs(image_dir, exist_ok=True)
  rows, partitions, landmark_rows = [], [], []
  expected = {"labels": {}, "split": {}, "landmarks": {}, "skipped": {}, "converted": {}}

  def add(name, data, labels, split, landmarks, listed=True):
    if data is not None:
      with open(os.path.join(image_dir, name), "wb") as handle:
        handle.write(data)
    if not listed:
      return
    values = " ".join(f"{1 if v else -1:2d}" for v in labels)
    rows.append(f"{name} {values}")
    partitions.append(f"{name} {'0' if split == 'train' else '1' if split == 'val' else '2'}")
    points = " ".join(f"{int(round(v)):4d}" for v in landmarks.reshape(-1))
    landmark_rows.append(f"{name}  {points}")

  def labels_for(i):
    hair = i % 3  # 0 black, 1 blond, 2 neither: hair colours never co-occur.
    return np.array([i % 2, hair == 0, hair == 1, i % 4 == 0, i % 5 < 2], np.uint8)

  for i in range(num_good):
    name = f"{i + 1:06d}.jpg"
    points = face_landmarks(rng, CROP_WIDTH, CROP_HEIGHT, 18.0)
    split = "train" if i % 6 < 4 else ("val" if i % 6 == 4 else "test")
    labels = labels_for(i)
    add(name, encode(face_image(rng, CROP_WIDTH, CROP_HEIGHT, points, 40 + i), "JPEG"),
        labels, split, points)
    expected["labels"][name] = labels
    expected["split"][name] = split
    expected["landmarks"][name] = points

  def bad(name, data, reason=None, converted=None, points=None, listed=True,
          width=CROP_WIDTH, height=CROP_HEIGHT):
    points = face_landmarks(rng, width, height, 18.0 * width / CROP_WIDTH) if points is None else points
    labels = labels_for(len(expected["labels"]))
    add(name, data, labels, "train", points, listed)
    if reason:
      expected["skipped"].setdefault(reason, []).append(name)
    else:
      expected["labels"][name] = labels
      expected["split"][name] = "train"
      expected["landmarks"][name] = points
    for conversion in converted or ():
      expected["converted"].setdefault(conversion, []).append(name)
    return points

  base = face_image(rng, CROP_WIDTH, CROP_HEIGHT, face_landmarks(rng, CROP_WIDTH, CROP_HEIGHT, 18.0), 90)
  good_jpeg = encode(base, "JPEG")
  bad("truncated.jpg", good_jpeg[:len(good_jpeg) // 2], "corrupt or truncated image")
  bad("garbage.jpg", b"\x00not an image at all" * 20, "unsupported format")
  bad("empty.jpg", b"", "empty file")
  bad("missing.jpg", None, "listed but missing")
  bad("outside.jpg", good_jpeg, "landmarks outside image",
      points=np.array([[-5, 30], [40, 30], [20, 50], [10, 70], [30, 70]], np.float32))
  bad("tiny.jpg", encode(base[:12, :10], "JPEG"), "too small for the image size",
      width=10, height=12)
  bad("gray.jpg", encode(base, "JPEG", "L"), converted=["grayscale to RGB"])
  bad("cmyk.jpg", encode(base, "JPEG", "CMYK"), converted=["CMYK to RGB"])
  bad("rgba.png", encode(base, "PNG", "RGBA"), converted=["alpha dropped"])
  bad("deep.png", png16(base), converted=["16-bit to 8-bit", "grayscale to RGB"])
  bad("palette.bmp", encode(base, "BMP", "P"), converted=["palette to RGB"])
  # A present file nobody lists, and a listed row with a value missing.
  add("unlisted.jpg", good_jpeg, None, None, None, listed=False)
  expected["skipped"]["present but not listed"] = ["unlisted.jpg"]
  with open(os.path.join(image_dir, "badrow.jpg"), "wb") as handle:
    handle.write(good_jpeg)
  rows.append("badrow.jpg " + " ".join(["1"] * (len(ATTRIBUTES) - 1)))
  partitions.append("badrow.jpg 0")
  expected["skipped"]["bad attribute row"] = ["badrow.jpg"]

  with open(os.path.join(root, "list_attr_celeba.txt"), "w") as handle:
    handle.write(f"{len(rows)}\n{' '.join(ATTRIBUTES)} \n" + "\n".join(rows) + "\n")
  with open(os.path.join(root, "list_eval_partition.txt"), "w") as handle:
    handle.write("\n".join(partitions) + "\n")
  with open(os.path.join(root, landmark_file), "w") as handle:
    header = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    handle.write(f"{len(landmark_rows)}\n{header}\n" + "\n".join(landmark_rows) + "\n")
  return expected


def make_folder(root: str, num_images: int = 30, with_landmarks: bool = True, seed: int = 1):
  """Write a custom face folder with attributes.csv (mixed value styles); return expectations."""
  rng = np.random.default_rng(seed)
  os.makedirs(os.path.join(root, "people"), exist_ok=True)
  styles = [("1", "0"), ("1", "-1"), ("true", "false"), ("True", "FALSE")]
  rows, landmark_rows = ["filename,Smiling,Eyeglasses"], ["filename,lx,ly,rx,ry,nx,ny,mlx,mly,mrx,mry"]
  expected = {"labels": {}, "landmarks": {}, "skipped": {}}
  for i in range(num_images):
    width, height = [(120, 90), (64, 80), (200, 200)][i % 3]
    fmt, ext = [("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp")][i % 3]
    name = f"people/face_{i:03d}.{ext}" if i % 2 else f"face_{i:03d}.{ext}"
    points = face_landmarks(rng, width, height, 0.3 * min(width, height))
    with open(os.path.join(root, name), "wb") as handle:
      handle.write(encode(face_image(rng, width, height, points, 10 * i % 250), fmt))
    labels = np.array([i % 2, i % 3 == 0], np.uint8)
    yes, no = styles[i % len(styles)]
    rows.append(f"{name},{yes if labels[0] else no},{yes if labels[1] else no}")
    landmark_rows.append(name + "," + ",".join(f"{v:.2f}" for v in points.reshape(-1)))
    expected["labels"][name] = labels
    expected["landmarks"][name] = points
  rows.append("ghost.jpg,1,0")
  expected["skipped"]["listed but missing"] = ["ghost.jpg"]
  rows.append("face_000.jpg-typo,1")
  expected["skipped"]["bad attribute row"] = ["face_000.jpg-typo"]
  with open(os.path.join(root, "attributes.csv"), "w") as handle:
    handle.write("\n".join(rows) + "\n")
  if with_landmarks:
    with open(os.path.join(root, "landmarks.csv"), "w") as handle:
      handle.write("\n".join(landmark_rows) + "\n")
  return expected



def wild_photo(index: int, face_size: int = 256, pad: tuple = (60, 40, 120, 30),
               seed: int = 0) -> tuple:
  """A non-aligned "photo" and its exact landmarks (synthetic.render_photo)."""
  return synthetic.render_photo(index, face_size, pad, seed)
