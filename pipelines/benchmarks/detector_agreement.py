"""How well the face detector's landmarks agree with exact ones, on rendered wild faces.

  python -m pipelines.benchmarks.detector_agreement [--faces=60] [--sizes=128,256]

Renders --faces in-the-wild synthetic faces (their five landmarks are known exactly:
synthetic.landmarks_of) at each size, runs the detector (MTCNN) and prints, per
landmark, the median distance between detected and exact points in units of the
exact inter-pupil distance, for all faces and split by Smiling (the exact mouth
corners are the neutral mouth's, see synthetic.landmarks_local), and how many faces
were found at all. Also the error that matters for editing: the exact landmarks
after aligning with the detected ones, against the exact alignment, in units of the
template's pupil distance.
"""

import numpy as np
from absl import flags

from pipelines import alignment
from pipelines import face_detection
from pipelines import markdown
from pipelines import synthetic
from pipelines import uint8_pixels
from pipelines import usage

POINTS = ("left pupil", "right pupil", "nose", "left mouth", "right mouth")


def agreement(detector, faces: int, size: int, seed: int = 0) -> dict:
  params = synthetic.sample_faces(seed, np.arange(faces), layout="wild")
  smiling = synthetic.labels_of(params)[:, synthetic.ATTRIBUTES.index("Smiling")] > 0
  images, _ = synthetic.render_faces(params, size)
  photos = uint8_pixels.to_uint8(images)
  exact = synthetic.landmarks_of(params, size)
  template = alignment.template_landmarks(256)
  errors, aligned_errors, smiles = [], [], []
  for photo, points, smile in zip(photos, exact, smiling):
    found = detector.detect(photo)
    if not found:
      continue
    detected = face_detection.choose_face(found).landmarks
    pupils = float(np.linalg.norm(points[1] - points[0]))
    errors.append(np.linalg.norm(detected - points, axis=1) / pupils)
    by_detected = alignment.apply_similarity(alignment.similarity_params(detected, template),
                                             points)
    by_exact = alignment.apply_similarity(alignment.similarity_params(points, template), points)
    aligned_errors.append(np.linalg.norm(np.asarray(by_detected) - np.asarray(by_exact), axis=1)
                          / alignment.template_pupil_distance(256))
    smiles.append(smile)
  errors, smiles = np.array(errors), np.array(smiles, bool)
  return {"size": size, "found": len(errors), "faces": faces,
          "all": np.median(errors, axis=0), "not smiling": np.median(errors[~smiles], axis=0),
          "smiling": np.median(errors[smiles], axis=0),
          "after alignment": np.median(np.array(aligned_errors), axis=0)}


def format_rows(rows: list) -> str:
  return markdown.table(["px", "found", "faces measured", *POINTS],
                        ([row["size"], f"{row['found']}/{row['faces']}", name]
                         + [f"{100 * v:.1f}%" for v in row[name]]
                         for row in rows
                         for name in ("all", "not smiling", "smiling", "after alignment")))


def define_flags():
  flags.DEFINE_integer("faces", 60, "Wild faces rendered per size.")
  flags.DEFINE_list("sizes", ["128", "256"], "Render sizes.")


FLAGS = flags.FLAGS


def main(argv):
  usage.check_no_arguments(argv)
  detector = face_detection.MtcnnDetector()
  rows = [agreement(detector, FLAGS.faces, int(size)) for size in FLAGS.sizes]
  print("Median distance to the exact landmark, in units of the exact pupil distance:")
  print(format_rows(rows))


if __name__ == "__main__":
  define_flags()
  usage.run("detector_agreement", main)
