"""Photo in, photo out latency: detect, align, edit and paste back one face.

  python -m elegant_tf.benchmarks.photo_edit_latency [--model=saved_models/elegant_demo]

For each photo size (one non-aligned synthetic face on a canvas of that size, the
exemplar the same) and each model, the median wall time over --repeats runs after a
warm-up of: detecting and aligning the input and the exemplar photo (MTCNN), the
swap with the reconstruction paste-back needs (photo_edit.edit_and_reconstruct, one
model.transfer of batch 2), and pasting the change back into the input photo
(photo_edit.paste_back); model loading is excluded. Models: the 64 px demo SavedModel
(--model) and an untrained 256 px generator with the paper's widths (64..512, 5 blocks),
exported and loaded the same way (speed does not depend on the weights). Prints the load
average before and after: the machine is shared, so compare rows of one run.
"""

import os
import shutil
import statistics
import tempfile
import time

import numpy as np
from absl import flags

from elegant_tf.apps import photo_edit
from elegant_tf.benchmarks import transfer_latency
from elegant_tf.exporting import saved_model
from elegant_tf.inference import model_loading
from pipelines import face_detection
from pipelines import markdown
from pipelines import synthetic
from pipelines import usage

# (height, width) of the photos, and the side the face is rendered at inside them.
PHOTOS = {"640x480": ((480, 640), 256), "1920x1080": ((1080, 1920), 512),
          "4000x3000 (12 MP)": ((3000, 4000), 1200)}


def photo_with_face(shape: tuple, face_size: int, index: int) -> np.ndarray:
  """uint8 photo of `shape` with synthetic wild face `index` off-centre in it."""
  height, width = shape
  top, left = (height - face_size) // 3, (width - face_size) // 3
  photo, _ = synthetic.render_photo(index, face_size, pad=(top, height - face_size - top,
                                                           left, width - face_size - left))
  return photo


def untrained_256(workdir: str, attribute_names) -> str:
  """Export an untrained paper-width 256 px generator; return its version folder."""
  generator = transfer_latency._generator(256, 512, len(attribute_names))
  return saved_model.export_generator(generator, list(attribute_names), 256,
                                      os.path.join(workdir, "model256"), training_data="synthetic")


def time_photo_edit(model, photo: np.ndarray, exemplar: np.ndarray, repeats: int,
                    detector) -> dict:
  """Median seconds of each stage and of the whole edit (after one warm-up run)."""
  weights = np.zeros(len(model.attribute_names), np.float32)
  weights[0] = 1.0
  stages = {"detect + align (2 photos)": [], "swap + reconstruction": [], "paste back": [],
            "total": []}
  for run in range(repeats + 1):
    start = time.perf_counter()
    aligned = photo_edit.prepare_face(photo, model.image_size, detector=detector)
    other = photo_edit.prepare_face(exemplar, model.image_size, detector=detector)
    aligned_at = time.perf_counter()
    outputs = photo_edit.edit_and_reconstruct(model, aligned.crop, other.crop, weights)
    edited_at = time.perf_counter()
    result = photo_edit.paste_back(aligned, outputs["edited"], outputs["reconstructed"])
    done = time.perf_counter()
    assert result.shape == photo.shape
    if run:  # The first run builds the graphs.
      stages["detect + align (2 photos)"].append(aligned_at - start)
      stages["swap + reconstruction"].append(edited_at - aligned_at)
      stages["paste back"].append(done - edited_at)
      stages["total"].append(done - start)
  return {name: statistics.median(times) for name, times in stages.items()}


def format_rows(rows: list) -> str:
  stages = list(rows[0]["seconds"])
  return markdown.table(["photo", "model"] + [f"{s} (s)" for s in stages],
                        ([row["photo"], row["model"]] + [f"{row['seconds'][s]:.2f}" for s in stages]
                         for row in rows))


def define_flags():
  flags.DEFINE_string("model", "saved_models/elegant_demo", "The 64 px model (any --model "
                      "transfer takes).")
  flags.DEFINE_integer("repeats", 5, "Timed runs per row (median reported).")
  flags.DEFINE_bool("with_256", True, "Also time an untrained 256 px paper-width model.")
  flags.DEFINE_list("photos", list(PHOTOS), "Photo sizes to time, of: " + ", ".join(PHOTOS))


FLAGS = flags.FLAGS


def main(argv):
  usage.check_no_arguments(argv)
  unknown = [name for name in FLAGS.photos if name not in PHOTOS]
  if unknown:
    raise usage.UsageError(f"--photos: no photo size {','.join(unknown)}; valid: "
                           + ", ".join(PHOTOS))
  print(f"load average before: {os.getloadavg()} ({os.cpu_count()} CPUs visible)")
  detector = face_detection.MtcnnDetector()
  models = {"demo 64 px": model_loading.load(FLAGS.model)}
  workdir = tempfile.mkdtemp(prefix="elegant_photo_latency_")
  rows = []
  try:
    if FLAGS.with_256:
      models["untrained 256 px"] = model_loading.load(
          untrained_256(workdir, models["demo 64 px"].attribute_names))
    for photo_name in FLAGS.photos:
      shape, face_size = PHOTOS[photo_name]
      photo = photo_with_face(shape, face_size, 0)
      exemplar = photo_with_face(shape, face_size, 2)
      for model_name, model in models.items():
        rows.append({"photo": photo_name, "model": model_name,
                     "seconds": time_photo_edit(model, photo, exemplar, FLAGS.repeats,
                                                detector)})
        print(format_rows(rows[-1:]), flush=True)
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  print(f"\nload average after: {os.getloadavg()}; medians of {FLAGS.repeats} runs, "
        "model load excluded:")
  print(format_rows(rows))


if __name__ == "__main__":
  define_flags()
  usage.run("photo_edit_latency", main)
