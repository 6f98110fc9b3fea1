"""The local web page: two photos in, both edited (pasted back) and the interpolation strip out.

A standard-library HTTP server (no web framework, see BUILD_NOTES.md "Web page") over
`transfer_lib.run_mode`:

  GET  /                 the page (demo_page.html, with the model's attributes and samples)
  GET  /samples/<k>.png  bundled sample photo k (rendered from the synthetic generator)
  POST /api/transfer     JSON {"a": PHOTO, "b": PHOTO, "attributes": [names],
                         "strength": 0..1, "steps": 1..MAX_STEPS}, PHOTO being
                         {"sample": k} or {"upload": "<base64 or data: URL>", "name": "me.jpg"}
                         -> 200 {"a_edited", "b_edited", "strip": base64 PNGs, "a_faces",
                         "b_faces": faces found}; bad input -> 400 {"error": "<one line>"}.

Every refusal is a 4xx (503 when busy) with {"error": "<one line>"}. What the server
reads from outside is bounded before it is read: a POST needs Content-Type
application/json, a plain byte count in Content-Length (no chunked bodies) of at most
MAX_REQUEST_BYTES, and a Host that names this server (and an Origin, when the browser
sends one, of this page): another site's page cannot post to it, even through a DNS name
rebound to 127.0.0.1. A connection silent for `read_timeout` is closed; the request line
and headers must arrive within `header_deadline`, a body within `body_deadline`. At most
`max_connections` are open at once and at most `max_edits_in_flight` requests hold a body
(one edits, the next waits); others get 503. After a refusal, what the client still sends
is dropped for up to `linger` seconds, so that it reads the answer rather than a reset.

Photo A takes photo B's version of the chosen attributes and B takes A's (the paper's
swap); the strip is transfer's linear mode from A's reconstruction to the swap. The
library never parses flags or exits; `python -m elegant_tf.demo` does.
"""

import base64
import binascii
import dataclasses
import html
import http
import http.server
import io
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import time
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from elegant_tf.apps import photo_edit
from elegant_tf.apps import transfer_lib
from pipelines import image_grid
from pipelines import synthetic
from pipelines import uint8_pixels
from pipelines import usage


# Per photo file; the page refuses larger files before sending them. The decoder's own
# limit (image_decoding.MAX_PIXELS) still applies to what is inside.
MAX_PHOTO_BYTES = 24 << 20
# A request holds two photos as base64 (4/3 of their size) plus a few fields. Larger
# bodies are refused from their Content-Length, before they are read.
MAX_REQUEST_BYTES = 2 * (MAX_PHOTO_BYTES * 4 // 3 + (1 << 20))
# Interpolation steps offered on the page; each step is one decode of the strip.
MAX_STEPS = 8
# A connection that sends nothing for this long (headers or body) is closed.
READ_TIMEOUT = 20.0
# The request line and headers must arrive within this, however they trickle.
HEADER_DEADLINE = 30.0
# The whole body must arrive within this: a client trickling a byte per second would
# otherwise hold a slot for days. 66 MB in 120 s is 0.5 MB/s; the page is local.
BODY_DEADLINE = 120.0
# After refusing a request unread, what the client still sends is read and dropped for up
# to this long, so that it gets the answer (see _discard_unread_body).
LINGER = 5.0
# Open connections at once (a browser opens about six); more get 503 at once, so
# thousands of half-sent requests hold no more than this many threads.
MAX_CONNECTIONS = 16
# Requests holding a body at once: one edits, one waits for it (bodies up to
# MAX_REQUEST_BYTES each, with their decoded photos); more get 503 before their body is read.
MAX_EDITS_IN_FLIGHT = 2
# File and attribute names are cut to this in messages (the body may hold 60 MB of one).
MAX_NAME_CHARACTERS = 100
# Request bodies are ASCII digits only: int() also takes "-1", "+5", " 5", "1_0".
_BYTE_COUNT = re.compile(r"[0-9]{1,15}")
# A Host header: a name or address, or [IPv6], and a port (nothing else, e.g. no "user@").
_HOST = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")
# Sample numbers in URLs and requests: str.isdigit() also takes "²", and int() refuses
# more than 4,300 digits.
_SAMPLE_NUMBER = re.compile(r"[0-9]{1,6}")
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
  return [SamplePhoto(f"sample {k}: {title}", uint8_pixels.to_uint8(image),
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

  def sample_index(self, value) -> Optional[int]:
    """The sample a request names (an int, or ASCII digits as text), or None."""
    if isinstance(value, str) and _SAMPLE_NUMBER.fullmatch(value):
      value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(self.samples):
      return value
    return None

  def _face(self, spec, label: str):
    """The aligned face of one request photo ({"sample": k} or {"upload": ...})."""
    if not isinstance(spec, dict):
      raise usage.UsageError(f"photo {label}: choose a sample or upload a photo")
    if spec.get("upload"):
      name = os.path.basename(str(spec.get("name") or "upload"))[:MAX_NAME_CHARACTERS]
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
    sample = self.sample_index(spec.get("sample"))
    if sample is None:
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
    strength = request.get("strength", 1.0)
    steps = request.get("steps", 4)
    # Checked as JSON gave them: float() of 1 and 400 zeros overflows, int() truncates
    # 2.9 and takes true as 1.
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
      raise usage.UsageError(f"strength={_shown(strength)} must be a number")
    if not 0 <= strength <= 1:  # Also NaN.
      shown = strength if isinstance(strength, float) or abs(strength) > 1e300 else float(strength)
      raise usage.UsageError(f"strength={_shown(shown)} must lie in [0, 1]")
    strength = float(strength)
    if isinstance(steps, bool) or not isinstance(steps, int):
      raise usage.UsageError(f"steps={_shown(steps)} must be a whole number")
    if not 1 <= steps <= MAX_STEPS:
      raise usage.UsageError(f"steps={_shown(steps)} must be between 1 and {MAX_STEPS}")
    known = self.model.attribute_names
    if len(attributes) > len(known):  # Before the lists of unknown names, which could be long.
      raise usage.UsageError(f"{len(attributes)} attributes ticked; the model has {len(known)}")
    attributes = [str(name)[:MAX_NAME_CHARACTERS] for name in attributes]
    seen = set()
    for name in attributes:  # Here: transfer_lib's message names the command's flag.
      if name in seen:
        raise usage.UsageError(f"attribute {name} is ticked twice")
      seen.add(name)
    transfer_lib.attribute_indices(attributes, self.model.attribute_names)  # Before the slow part.
    with self._lock:
      face_a = self._face(request.get("a"), "A")
      face_b = self._face(request.get("b"), "B")
      a_edited, b_edited = transfer_lib.pasted_swap(self.model, face_a, face_b, attributes,
                                                    strength)
      strip_rows, _ = transfer_lib.run_mode(self.model, "linear", face_a.crop, [face_b.crop],
                                                attributes, steps=steps, strength=strength)
    as_text = lambda pixels: base64.b64encode(encode_png(pixels)).decode("ascii")
    return {"a_edited": as_text(a_edited), "b_edited": as_text(b_edited),
            "strip": as_text(image_grid.tile(strip_rows)),
            "a_faces": int(face_a.faces_found), "b_faces": int(face_b.faces_found)}


def _shown(value) -> str:
  """A request value as JSON writes it, cut short: a 400-digit number is one line too."""
  try:
    text = json.dumps(value)
  except (TypeError, ValueError):  # ValueError: an int of over 4,300 digits.
    text = str(value)
  return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


class _Slots:
  """At most `limit` holders at once; take() never waits (a refusal is the answer)."""

  def __init__(self, limit: int):
    self.limit = limit
    self.in_use = 0
    self._lock = threading.Lock()

  def take(self) -> bool:
    with self._lock:
      if self.in_use >= self.limit:
        return False
      self.in_use += 1
      return True

  def give_back(self) -> None:
    with self._lock:
      self.in_use -= 1


class _Refusal(Exception):
  """An HTTP answer other than 200 for the request being read: status and one line."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


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

  def setup(self):
    self.timeout = self.server.read_timeout  # StreamRequestHandler sets it on the socket.
    super().setup()
    # A socket timeout counts from the last byte: a client sending a header byte every
    # few seconds would never meet it. At the deadline the socket is shut down, which
    # ends the read that waits for the headers (HTTP/1.0: one request per connection).
    self._headers_late = False
    self._header_timer = threading.Timer(self.server.header_deadline, self._cut_off)
    self._header_timer.daemon = True
    self._header_timer.start()

  def _cut_off(self) -> None:
    self._headers_late = True
    try:
      self.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
      pass  # Already closed.

  def parse_request(self):
    """Reads the headers, then stops their deadline (the body has its own)."""
    try:
      parsed = super().parse_request()
    finally:
      self._header_timer.cancel()
    if self._headers_late:  # Cut off: what was read may be half the headers.
      self.close_connection = True
      return False
    return parsed

  def finish(self):
    self._header_timer.cancel()
    super().finish()

  def send_error(self, code, message=None, explain=None):
    """http.server's own refusals (request line too long, bad syntax, unknown method) as
    one line of JSON like ours, not an HTML page."""
    if code == http.HTTPStatus.NOT_IMPLEMENTED:  # A method we do not serve.
      code, message = http.HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} is not allowed"
    text = " ".join(str(message or http.HTTPStatus(code).phrase).split())[:200]
    self.close_connection = True
    self._json(code, {"error": text})

  def _check_host(self) -> None:
    """The Host a browser sends is the name in the address bar: a page of another site
    whose DNS name was rebound to 127.0.0.1 sends its own name, and is refused."""
    host = self.headers.get("Host", "")
    match = _HOST.fullmatch(host)
    if match:
      name, port = match.group(1).strip("[]"), int(match.group(2) or 80)
      if port == self.server.server_address[1] and self.server.names_this_server(name):
        return
    raise _Refusal(403, f"Host {host[:100]!r} does not name this server; open "
                        f"http://{self.server.page_host}/")

  def _check_origin(self) -> None:
    """Browsers send Origin with every POST; another page's origin is refused."""
    origin = self.headers.get("Origin")
    if origin is not None and origin.lower() != f"http://{self.headers['Host']}".lower():
      raise _Refusal(403, f"cross-site request from {origin[:100]} refused")

  def _answer(self, work) -> None:
    """Runs work() -> (status, JSON answer, or None once it has answered itself);
    refusals and surprises become one line."""
    try:
      status, answer = work()
    except _Refusal as refusal:
      status, answer = refusal.status, {"error": str(refusal)}
    except Exception as error:  # The server keeps running; the page shows one line.
      self.log_error("request failed: %r", error)
      message = " ".join(str(error).split())[:300]
      status, answer = 500, {"error": f"internal error: {type(error).__name__}: {message}"}
    if status >= 400:
      self.close_connection = True  # What is left of the request is not read.
    if answer is not None:
      self._json(status, answer)
    if status >= 400 and self.command == "POST" and not self._body_read:
      self._discard_unread_body()

  def _discard_unread_body(self) -> None:
    """After refusing a request whose body was not read: closing with unread bytes makes
    the kernel answer them with a reset, which can destroy our answer before the client
    (still sending) reads it. So: say we are done, then read and drop what arrives for
    at most `linger` seconds, in small reads (no memory kept)."""
    deadline = time.monotonic() + self.server.linger
    try:
      self.connection.shutdown(socket.SHUT_WR)
      while (left := deadline - time.monotonic()) > 0:
        self.connection.settimeout(left)
        if not self.rfile.read1(1 << 16):
          break  # The client has read the answer and closed.
    except OSError:
      pass  # Timed out or reset: the connection is closed either way.

  def do_GET(self):
    self._answer(self._get)

  def _get(self):
    self._check_host()
    app = self.server.app
    path = self.path.split("?")[0]
    if path in ("/", "/index.html"):
      self._send(200, app.page().encode(), "text/html; charset=utf-8")
      return 200, None
    if path.startswith("/samples/") and path.endswith(".png"):
      index = app.sample_index(path[len("/samples/"):-len(".png")])
      if index is not None:
        self._send(200, app.sample_png(index), "image/png")
        return 200, None
    raise _Refusal(404, f"no page {_cut(path)}")

  def do_POST(self):
    self._answer(self._post)

  def _post(self):
    self._body_read = False
    if self.path != "/api/transfer":
      raise _Refusal(404, f"no endpoint {_cut(self.path)}")
    self._check_host()
    self._check_origin()
    # A form or fetch from another site may send text/plain without asking first (no
    # CORS preflight); application/json always needs one, which this server never grants.
    content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
      raise _Refusal(415, f"send the request as application/json, not {content_type[:100]!r}")
    if "Transfer-Encoding" in self.headers:
      raise _Refusal(411, "chunked request bodies are not accepted; send a Content-Length")
    lengths = self.headers.get_all("Content-Length") or []
    if not lengths:
      raise _Refusal(411, "the request has no Content-Length")
    if len(lengths) > 1 or not _BYTE_COUNT.fullmatch(lengths[0]):
      raise _Refusal(400, f"Content-Length {', '.join(lengths)[:40]!r} is not a byte count")
    length = int(lengths[0])
    if length > MAX_REQUEST_BYTES:
      raise _Refusal(413, f"the photos are too big: {length / 2**20:.0f} MB sent, at most "
                          f"{MAX_PHOTO_BYTES >> 20} MB each")
    if not self.server.edit_slots.take():
      raise _Refusal(503, "the server is busy with other edits; try again in a moment")
    try:
      body = self._read_body(length)
      self._body_read = True
      try:
        request = json.loads(body)
      except RecursionError as error:  # Python's parser recurses per nested [ or {.
        raise usage.UsageError("the request nests too deeply") from error
      except (ValueError, UnicodeDecodeError) as error:
        raise usage.UsageError("the request is not JSON") from error
      del body
      return 200, self.server.app.edit(request)
    except usage.UsageError as problem:  # One line, even if a file name held a newline.
      return 400, {"error": " ".join(str(problem).split())}
    finally:
      self.server.edit_slots.give_back()

  def _read_body(self, length: int) -> bytes:
    """Exactly `length` bytes, within BODY_DEADLINE overall and read_timeout per read."""
    deadline = time.monotonic() + self.server.body_deadline
    chunks, missing = [], length
    while missing:
      left = deadline - time.monotonic()
      if left <= 0:
        raise _Refusal(408, f"the request body took over {self.server.body_deadline:g} s")
      self.connection.settimeout(min(self.server.read_timeout, left))
      try:
        chunk = self.rfile.read1(min(missing, 1 << 20))
      except TimeoutError:
        if time.monotonic() >= deadline:
          raise _Refusal(408, f"the request body took over {self.server.body_deadline:g} s") \
              from None
        raise _Refusal(408, f"the request body stopped for {self.server.read_timeout:g} s") \
            from None
      if not chunk:
        raise _Refusal(400, f"the request body was cut short: {length - missing} of "
                            f"{length} bytes")
      chunks.append(chunk)
      missing -= len(chunk)
    self.connection.settimeout(self.server.read_timeout)
    return b"".join(chunks)


def _cut(path: str) -> str:
  return path if len(path) <= 80 else path[:60] + f"... ({len(path)} characters)"


class DemoHTTPServer(http.server.ThreadingHTTPServer):
  """One thread per connection, at most `max_connections` of them; see the module doc."""

  daemon_threads = True
  request_queue_size = 64  # Connections waiting to be accepted (socketserver's default: 5).

  def __init__(self, address, app: DemoApp, verbose: bool, read_timeout: float,
               header_deadline: float, body_deadline: float, linger: float,
               max_connections: int, max_edits_in_flight: int):
    super().__init__(address, _Handler)
    self.app = app
    self.verbose = verbose
    self.read_timeout = read_timeout
    self.header_deadline = header_deadline
    self.body_deadline = body_deadline
    self.linger = linger
    self.connection_slots = _Slots(max_connections)
    self.edit_slots = _Slots(max_edits_in_flight)
    # Named in the refusal of a foreign Host: where to open the page instead.
    wildcard = ipaddress.ip_address(self.server_address[0]).is_unspecified
    shown_host = "<this machine's address>" if wildcard else address[0]
    self.page_host = f"{shown_host}:{self.server_address[1]}"
    self._bound_names = {address[0].lower(), str(self.server_address[0]).lower(), "localhost"}

  @property
  def open_connections(self) -> int:
    return self.connection_slots.in_use

  @property
  def edits_in_flight(self) -> int:
    return self.edit_slots.in_use

  def names_this_server(self, name: str) -> bool:
    """localhost, the address or name it was bound to; on every interface (0.0.0.0)
    any address too: an address, unlike a name, cannot be rebound by another site."""
    if name.lower() in self._bound_names:
      return True
    try:
      ipaddress.ip_address(name)
    except ValueError:
      return False
    return ipaddress.ip_address(self.server_address[0]).is_unspecified

  def process_request(self, request, client_address):
    if not self.connection_slots.take():
      self._refuse(request)
      return
    try:
      super().process_request(request, client_address)
    except BaseException:
      self.connection_slots.give_back()
      raise

  def process_request_thread(self, request, client_address):
    try:
      super().process_request_thread(request, client_address)
    finally:
      self.connection_slots.give_back()

  def handle_error(self, request, client_address):
    """A client that left before its answer was sent is no server error to print."""
    if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
      super().handle_error(request, client_address)

  def _refuse(self, request) -> None:
    """503 without reading the request, from the accepting thread: a few hundred bytes
    fit in an empty socket buffer, so this does not wait for the client."""
    body = json.dumps({"error": f"too many connections (at most "
                                f"{self.connection_slots.limit}); try again in a moment"})
    reply = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}")
    try:
      request.settimeout(1.0)
      request.sendall(reply.encode())
      # Closing on unread bytes sends a reset, which may destroy the answer: drop what has
      # arrived already (the request line, usually), without waiting for more.
      request.setblocking(False)  # With a timeout, recv would first wait for data.
      request.recv(1 << 16)
    except OSError:
      pass  # Nothing has arrived, or the client is gone.
    self.shutdown_request(request)


def make_server(app: DemoApp, host: str = "127.0.0.1", port: int = 7860,
                verbose: bool = False, read_timeout: float = READ_TIMEOUT,
                header_deadline: float = HEADER_DEADLINE, body_deadline: float = BODY_DEADLINE,
                linger: float = LINGER, max_connections: int = MAX_CONNECTIONS,
                max_edits_in_flight: int = MAX_EDITS_IN_FLIGHT) -> DemoHTTPServer:
  """A bound server (port 0: any free port, see .server_address); call serve_forever()."""
  return DemoHTTPServer((host, port), app, verbose, read_timeout, header_deadline,
                        body_deadline, linger, max_connections, max_edits_in_flight)
