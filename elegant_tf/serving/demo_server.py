"""The local web page: two photos in, both edited (pasted back) and the interpolation strip out.

A standard-library HTTP server (no web framework) over `transfer_lib.run_transfer`:

  GET  /                 the page (demo_page.html, with the model's attributes and samples)
  GET  /samples/<k>.png  bundled sample photo k (rendered from the synthetic generator)
  POST /api/transfer     JSON {"a": PHOTO, "b": PHOTO, "attributes": [names],
                         "strength": 0..1, "steps": 1..MAX_STEPS}, PHOTO being
                         {"sample": k} or {"upload": "<base64 or data: URL>", "name": "me.jpg"}
                         -> 200 {"a_edited", "b_edited", "strip": base64 PNGs, "a_faces",
                         "b_faces": faces found}; bad input -> 400 {"error": "<one line>"}.

Photo A takes photo B's version of the chosen attributes and B takes A's (the paper's
swap); the strip is transfer's linear mode from A's reconstruction to the swap. The
library never parses flags or exits; `python -m elegant_tf.demo` does.
"""

import base64
import binascii
import dataclasses
import html
import http.server
import io
import json
import os
import threading
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from elegant_tf import usage
from elegant_tf.serving import photo_edit
from elegant_tf.serving import transfer_lib
from pipelines import image_grid
from pipelines import synthetic


# Per photo file; the page refuses larger files before sending them. The decoder's own
# limit (image_decoding.MAX_PIXELS) still applies to what is inside.
MAX_PHOTO_BYTES = 24 << 20
# A request holds two photos as base64 (4/3 of their size) plus a few fields. Larger
# bodies are refused from their Content-Length, before they are read.
MAX_REQUEST_BYTES = 2 * (MAX_PHOTO_BYTES * 4 // 3 + (1 << 20))
# Interpolation steps offered on the page; each step is one decode of the strip.
MAX_STEPS = 8
# Bundled sample photos: rendered at this size in the "wild" layout (face not centred,
# tilted, with background around it), so they are aligned and pasted back like photos.
SAMPLE_PHOTO_SIZE = 192
SAMPLE_SEED = 0
_PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_page.html")


@dataclasses.dataclass(frozen=True)
class SamplePhoto:
  name: str            # Shown on the page, e.g. "sample 2: Bangs".
  photo: np.ndarray    # uint8 [H, W, 3].
  landmarks: np.ndarray  # float32 [5, 2]: exact, known from the generator.


def sample_photos(attribute_names: Sequence[str], size: int = SAMPLE_PHOTO_SIZE,
                  seed: int = SAMPLE_SEED) -> list:
  """One held-out synthetic face with none of the attributes, then one per attribute the
  generator draws (the first test face showing it and no other of them)."""
  names = [name for name in attribute_names if name in synthetic.ATTRIBUTES]
  faces = synthetic.SyntheticFaces(size, seed=seed, layout="wild")
  labels = faces.labels("test")
  columns = [synthetic.ATTRIBUTES.index(name) for name in names]
  wanted = [("no attribute", np.zeros(len(columns), bool))]
  wanted += [(name, np.arange(len(columns)) == k) for k, name in enumerate(names)]
  indices, titles = [], []
  for title, states in wanted:
    match = np.flatnonzero((labels[:, columns].astype(bool) == states).all(axis=1))
    if match.size:
      indices.append(int(match[0]))
      titles.append(title)
  params = faces.params("test", np.array(indices))
  images, _ = synthetic.render_faces(params, size)
  landmarks = synthetic.landmarks_of(params, size)
  return [SamplePhoto(f"sample {k}: {title}", image_grid.to_uint8(image),
                      np.asarray(points, np.float32))
          for k, (title, image, points) in enumerate(zip(titles, images, landmarks))]


def encode_png(pixels: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(pixels, np.uint8)).save(buffer, format="PNG")
  return buffer.getvalue()




class DemoApp:
  """The page's work, apart from HTTP: photos in, PNGs out; usage.UsageError for bad input."""

  def __init__(self, model, samples: Optional[list] = None, detector=None):
    """`detector`: a face_detection.FaceDetector for uploads (default: the shared MTCNN,
    made on the first upload)."""
    self.model = model
    self.samples = sample_photos(model.attribute_names) if samples is None else samples
    self.detector = detector
    # One edit at a time (detection included): two cores, and memory for one request.
    self._lock = threading.Lock()

  def page(self) -> str:
    with open(_PAGE, encoding="utf-8") as f:
      template = f.read()
    options = "\n".join(f'<option value="{k}">{html.escape(sample.name)}</option>'
                        for k, sample in enumerate(self.samples))
    boxes = "\n".join(
        f'<label><input type="checkbox" name="attribute" value="{html.escape(name)}"> '
        f'{html.escape(name.replace("_", " "))}</label>'
        for name in self.model.attribute_names)
    return (template.replace("{{SAMPLE_OPTIONS}}", options)
            .replace("{{ATTRIBUTE_BOXES}}", boxes)
            .replace("{{IMAGE_SIZE}}", str(self.model.image_size))
            .replace("{{MAX_STEPS}}", str(MAX_STEPS))
            .replace("{{MAX_PHOTO_BYTES}}", str(MAX_PHOTO_BYTES)))

  def sample_png(self, index: int) -> Optional[bytes]:
    if 0 <= index < len(self.samples):
      return encode_png(self.samples[index].photo)
    return None

  def _face(self, spec, label: str):
    """The aligned face of one request photo ({"sample": k} or {"upload": ...})."""
    if not isinstance(spec, dict):
      raise usage.UsageError(f"photo {label}: choose a sample or upload a photo")
    if spec.get("upload"):
      name = os.path.basename(str(spec.get("name") or "upload"))
      data = str(spec["upload"])
      if data.startswith("data:"):
        data = data.partition(",")[2]
      try:
        contents = base64.b64decode(data, validate=True)
      except (binascii.Error, ValueError) as error:
        raise usage.UsageError(f"photo {label} ({name}): the upload is not valid base64") from error
      if len(contents) > MAX_PHOTO_BYTES:
        raise usage.UsageError(f"photo {label} ({name}) is too big: {len(contents) / 2**20:.1f} MB, "
                               f"at most {MAX_PHOTO_BYTES >> 20} MB")
      label = f"photo {label} ({name})"
      try:
        photo = photo_edit.decode_photo(contents, label)  # Upright by its EXIF orientation.
      except ValueError as error:
        raise usage.UsageError(str(error)) from error
      return self._align(photo, name=label, align="auto")
    sample = spec.get("sample")
    if isinstance(sample, str) and sample.isdigit():
      sample = int(sample)
    if not isinstance(sample, int) or not 0 <= sample < len(self.samples):
      raise usage.UsageError(f"photo {label}: choose a sample or upload a photo")
    chosen = self.samples[sample]
    # The samples' landmarks are exact (the generator drew them): no detection needed.
    return self._align(chosen.photo, name=f"photo {label} ({chosen.name})", align="landmarks",
                       landmarks=chosen.landmarks)

  def _align(self, photo, name: str, **options):
    try:
      return photo_edit.prepare_face(photo, self.model.image_size, detector=self.detector,
                                     name=name, **options)
    except ValueError as error:  # No face, too small: photo_edit's one-line messages.
      raise usage.UsageError(str(error)) from error

  def edit(self, request: dict) -> dict:
    """The JSON answer to a /api/transfer request (see the module doc)."""
    if not isinstance(request, dict):
      raise usage.UsageError("the request must be a JSON object")
    attributes = request.get("attributes") or []
    if not isinstance(attributes, list) or not attributes:
      raise usage.UsageError("tick at least one attribute")
    try:
      strength = float(request.get("strength", 1.0))
      steps = int(request.get("steps", 4))
    except (TypeError, ValueError) as error:
      raise usage.UsageError("strength and steps must be numbers") from error
    if not 0.0 <= strength <= 1.0:
      raise usage.UsageError(f"strength={strength} must lie in [0, 1]")
    if not 1 <= steps <= MAX_STEPS:
      raise usage.UsageError(f"steps={steps} must be between 1 and {MAX_STEPS}")
    attributes = [str(name) for name in attributes]
    transfer_lib.attribute_indices(attributes, self.model.attribute_names)  # Before the slow part.
    with self._lock:
      face_a = self._face(request.get("a"), "A")
      face_b = self._face(request.get("b"), "B")
      a_edited, b_edited = transfer_lib.pasted_swap(self.model, face_a, face_b, attributes,
                                                    strength)
      strip_rows, _ = transfer_lib.run_transfer(self.model, "linear", face_a.crop, [face_b.crop],
                                                attributes, steps=steps, strength=strength)
    as_text = lambda pixels: base64.b64encode(encode_png(pixels)).decode("ascii")
    return {"a_edited": as_text(a_edited), "b_edited": as_text(b_edited),
            "strip": as_text(image_grid.tile(strip_rows)),
            "a_faces": int(face_a.faces_found), "b_faces": int(face_b.faces_found)}


class _Handler(http.server.BaseHTTPRequestHandler):
  server_version = "elegant-demo"

  def log_message(self, format, *args):  # noqa: A002 (the base class's name)
    if self.server.verbose:
      super().log_message(format, *args)

  def _send(self, status: int, body: bytes, content_type: str) -> None:
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    self.end_headers()
    self.wfile.write(body)

  def _json(self, status: int, value: dict) -> None:
    self._send(status, json.dumps(value).encode(), "application/json")

  def do_GET(self):
    app = self.server.app
    path = self.path.split("?")[0]
    if path in ("/", "/index.html"):
      return self._send(200, app.page().encode(), "text/html; charset=utf-8")
    if path.startswith("/samples/") and path.endswith(".png"):
      stem = path[len("/samples/"):-len(".png")]
      png = app.sample_png(int(stem)) if stem.isdigit() else None
      if png is not None:
        return self._send(200, png, "image/png")
    self._json(404, {"error": f"no page {path}"})

  def do_POST(self):
    if self.path != "/api/transfer":
      return self._json(404, {"error": f"no endpoint {self.path}"})
    try:
      length = int(self.headers.get("Content-Length", ""))
    except ValueError:
      self.close_connection = True
      return self._json(411, {"error": "the request has no Content-Length"})
    if length > MAX_REQUEST_BYTES:
      self.close_connection = True  # The body is not read.
      return self._json(413, {"error": f"the photos are too big: {length / 2**20:.0f} MB "
                                       f"sent, at most {MAX_PHOTO_BYTES >> 20} MB each"})
    try:
      try:
        request = json.loads(self.rfile.read(length))
      except (ValueError, UnicodeDecodeError) as error:
        raise usage.UsageError("the request is not JSON") from error
      answer = self.server.app.edit(request)
    except usage.UsageError as problem:
      return self._json(400, {"error": str(problem)})
    except Exception as error:  # The server keeps running; the page shows one line.
      self.log_error("edit failed: %r", error)
      message = " ".join(str(error).split())[:300]
      return self._json(500, {"error": f"internal error: {type(error).__name__}: {message}"})
    self._json(200, answer)


def make_server(app: DemoApp, host: str = "127.0.0.1", port: int = 7860,
                verbose: bool = False) -> http.server.ThreadingHTTPServer:
  """A bound server (port 0: any free port, see .server_address); call serve_forever()."""
  server = http.server.ThreadingHTTPServer((host, port), _Handler)
  server.daemon_threads = True
  server.app = app
  server.verbose = verbose
  return server
