"""The web page: HTTP answers of the server, its limits, and the page in headless Chromium.

All against the committed demo model (saved_models/elegant_demo/1: 64 px, Eyeglasses,
Bangs, Smiling, Mustache), served in this process on a free port of 127.0.0.1.
"""

import base64
import http.client
import io
import json
import select
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from elegant_tf.apps import demo_server
from pipelines import alignment
from tests.elegant_tf.apps import headless_chromium

ATTRIBUTES = ["Eyeglasses", "Bangs", "Smiling", "Mustache"]


DEMO_IMAGE_SIZE = 64


# The page's state once a click on Transfer has been answered (it is "working" until then).
FINISHED = ("const state = document.body.dataset.state;"
            "return ['done', 'error'].includes(state) && state;")


@pytest.fixture(scope="module")
def served(demo_model):
  app = demo_server.DemoApp(demo_model)
  server = demo_server.make_server(app, "127.0.0.1", 0)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield {"app": app, "host": "127.0.0.1", "port": server.server_address[1],
         "url": f"http://127.0.0.1:{server.server_address[1]}"}
  server.shutdown()
  server.server_close()


def _post(served, body, headers=None):
  """(status, decoded JSON answer) of POST /api/transfer."""
  connection = http.client.HTTPConnection(served["host"], served["port"], timeout=300)
  data = body if isinstance(body, bytes) else json.dumps(body).encode()
  connection.request("POST", "/api/transfer", data,
                     {"Content-Type": "application/json", **(headers or {})})
  response = connection.getresponse()
  answer = json.loads(response.read())
  connection.close()
  return response.status, answer


def _get(served, path, headers=None):
  connection = http.client.HTTPConnection(served["host"], served["port"], timeout=60)
  connection.request("GET", path, headers=headers or {})
  response = connection.getresponse()
  body = response.read()
  connection.close()
  return response.status, response.getheader("Content-Type"), body


def _png(text: str) -> np.ndarray:
  image = Image.open(io.BytesIO(base64.b64decode(text)))
  assert image.format == "PNG"
  return np.asarray(image.convert("RGB"))


def _upload(pixels=None, contents=None, name="photo.png") -> dict:
  if contents is None:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    contents = buffer.getvalue()
  return {"upload": base64.b64encode(contents).decode(), "name": name}


def _request(a, b, attributes=("Eyeglasses",), strength=1.0, steps=4) -> dict:
  return {"a": a, "b": b, "attributes": list(attributes), "strength": strength, "steps": steps}


def _check_edited(edited: np.ndarray, sample: demo_server.SamplePhoto) -> None:
  """Same size as the photo, changed on the face, bit-identical far from it."""
  assert edited.shape == sample.photo.shape
  points = sample.landmarks
  pupils = float(np.linalg.norm(points[1] - points[0]))
  rows, columns = np.mgrid[:edited.shape[0], :edited.shape[1]]
  distance = np.hypot(columns - points[:, 0].mean(), rows - points[:, 1].mean())
  difference = np.abs(edited.astype(int) - sample.photo).max(axis=-1)
  near = distance < pupils  # Eyes, nose and mouth.
  assert difference[near].mean() > 2.0, "the face is unchanged"
  # The change is pasted, not the 64 px face: most of the face keeps the photo's pixels.
  assert (difference[near] == 0).mean() > 0.3, "the whole face was replaced"
  # The aligned crop's corners are this far from the template landmarks' centre; scaled
  # to the photo (+2 pixels for the bilinear reach), anything farther is outside the
  # crop, whatever its rotation.
  size = DEMO_IMAGE_SIZE
  template = alignment.template_landmarks(size)
  corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5],
                      [size - 0.5, size - 0.5]])
  reach = np.linalg.norm(corners - template.mean(axis=0), axis=1).max()
  far = distance > reach * pupils / alignment.template_pupil_distance(size) + 2
  assert far.mean() > 0.1  # The sample photos have room around the face.
  assert difference[far].max() == 0, "pixels far from the face changed"


def test_page_lists_the_models_attributes_and_the_samples(served):
  status, content_type, body = _get(served, "/")
  page = body.decode()
  assert status == 200 and content_type.startswith("text/html")
  for name in ATTRIBUTES:
    assert f'value="{name}"' in page
  samples = served["app"].samples
  # One face without the attributes, then one per attribute.
  assert [s.name.split(": ")[1] for s in samples] == ["no attribute"] + ATTRIBUTES
  assert page.count('<option value="') == 2 * len(samples)  # Both photo pickers.
  status, content_type, body = _get(served, "/samples/1.png")
  assert status == 200 and content_type == "image/png"
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(body))), samples[1].photo)
  assert _get(served, "/samples/99.png")[0] == 404
  assert _get(served, "/nothing")[0] == 404


def test_a_good_request_answers_edited_photos_and_the_strip(served):
  samples = served["app"].samples
  status, answer = _post(served, _request({"sample": 0}, {"sample": 1}, steps=3))
  assert status == 200, answer
  _check_edited(_png(answer["a_edited"]), samples[0])  # A gains B's glasses.
  _check_edited(_png(answer["b_edited"]), samples[1])  # B loses them.
  # The strip is transfer's linear grid: input, exemplar, steps 0..3, 64 px, 2 px gaps.
  assert _png(answer["strip"]).shape == (64, 6 * 64 + 5 * 2, 3)
  # Strength 0 changes nothing that the model changes (the strip ends where it starts).
  status, zero = _post(served, _request({"sample": 0}, {"sample": 1}, strength=0.0, steps=1))
  strip = _png(zero["strip"]).astype(int)
  np.testing.assert_array_equal(strip[:, 2 * 66:2 * 66 + 64], strip[:, 3 * 66:3 * 66 + 64])


@pytest.mark.parametrize("change, message", [
    ({"a": _upload(contents=b"this is not an image", name="notes.txt")},
     "cannot read image photo A (notes.txt): unsupported format"),
    ({"b": _upload(np.full((8, 8, 3), 100, np.uint8), name="tiny.png")},
     "no face found in photo B (tiny.png)"),
    ({"a": _upload(np.full((160, 200, 3), 128, np.uint8), name="wall.png")},
     "no face found in photo A (wall.png)"),
    ({"b": _upload(contents=b"\xff" * (demo_server.MAX_PHOTO_BYTES + 1), name="huge.jpg")},
     "photo B (huge.jpg) is too big: 24.0 MB, at most 24 MB"),
    ({"attributes": ["Wings"]}, "unknown attribute(s) Wings"),
    ({"attributes": []}, "tick at least one attribute"),
    ({"a": {"sample": 42}}, "photo A: choose a sample or upload a photo"),
    ({"steps": 99}, "steps=99 must be between 1 and 8"),
    ({"strength": 2}, "strength=2.0 must lie in [0, 1]"),
    ({"steps": 2.9}, "steps=2.9 must be a whole number"),
    ({"steps": True}, "steps=true must be a whole number"),
    ({"strength": True}, "strength=true must be a number"),
    ({"strength": "0.5"}, "strength=\"0.5\" must be a number"),
    ({"strength": 10 ** 400}, "strength=10000000000000000000"),
    ({"a": {"sample": "\u00b2"}}, "photo A: choose a sample or upload a photo"),
    ({"a": {"sample": "9" * 5000}}, "photo A: choose a sample or upload a photo"),
    ({"a": {"sample": True}}, "photo A: choose a sample or upload a photo"),
    ({"attributes": ["Bangs", "Bangs"]}, "attribute Bangs is ticked twice"),
    ({"attributes": [str(k) for k in range(100_000)]}, "100000 attributes ticked; the model has 4"),
    ({"attributes": ["x" * 1_000_000]}, "unknown attribute(s) " + "x" * 100 + ";"),
    ({"a": _upload(contents=b"not an image", name="two\nlines" + "y" * 1_000_000)},
     "cannot read image photo A (two lines" + "y" * 91 + "): unsupported format"),
])
def test_bad_input_gets_one_line_and_the_server_keeps_serving(served, change, message):
  status, answer = _post(served, {**_request({"sample": 0}, {"sample": 1}), **change})
  assert status == 400
  assert message in answer["error"] and "\n" not in answer["error"]
  assert "--" not in answer["error"]  # The page's user typed no flag (transfer_lib names none).
  assert _get(served, "/")[0] == 200


def test_a_body_that_is_not_json_or_too_big_is_refused(served):
  status, answer = _post(served, b"{not json")
  assert (status, answer) == (400, {"error": "the request is not JSON"})
  # Refused from the declared length, before the body is read (none is sent).
  connection = http.client.HTTPConnection(served["host"], served["port"], timeout=60)
  connection.putrequest("POST", "/api/transfer")
  connection.putheader("Content-Type", "application/json")
  connection.putheader("Content-Length", str(demo_server.MAX_REQUEST_BYTES + 1))
  connection.endheaders()
  response = connection.getresponse()
  assert response.status == 413
  assert json.loads(response.read())["error"].startswith("the photos are too big")
  connection.close()
  assert _get(served, "/")[0] == 200


# Generous: only a failing server waits this long.
REPLY_TIMEOUT = 60


@pytest.fixture
def start_server(served):
  """start(**limits): another server of the same app with its own limits; stopped after."""
  servers = []

  def start(**limits):
    server = demo_server.make_server(served["app"], "127.0.0.1", 0, **limits)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return {"app": served["app"], "server": server, "host": "127.0.0.1",
            "port": server.server_address[1]}

  yield start
  for server in servers:
    server.shutdown()
    server.server_close()


def _connect(served) -> socket.socket:
  return socket.create_connection((served["host"], served["port"]), timeout=REPLY_TIMEOUT)


def _reply(connection: socket.socket):
  """(status, decoded JSON answer) of the reply on a raw connection."""
  response = http.client.HTTPResponse(connection)
  response.begin()
  body = response.read()
  assert response.getheader("Content-Type") == "application/json", body[:200]
  return response.status, json.loads(body)


def _raw(served, head: bytes, body: bytes = b"", close_sending: bool = False):
  """(status, JSON answer) of a request sent as these bytes (head lines without the blank
  line that ends them; Host added)."""
  with _connect(served) as connection:
    connection.sendall(head + f"\r\nHost: 127.0.0.1:{served['port']}\r\n\r\n".encode() + body)
    if close_sending:
      connection.shutdown(socket.SHUT_WR)
    return _reply(connection)


def _raw_post(served, body: bytes, length=None, content_type=b"application/json", **options):
  head = (b"POST /api/transfer HTTP/1.1\r\nContent-Type: " + content_type
          + b"\r\nContent-Length: " + str(len(body) if length is None else length).encode())
  return _raw(served, head, body, **options)


@pytest.mark.parametrize("length", ["-1", "abc", "+5", "1_0", "0x10", "5, 5",
                                    "1" + "0" * 30])
def test_a_content_length_that_is_not_a_byte_count_is_refused_unread(served, length):
  # Sent without a body and kept open: a server reading "to the end" would wait here.
  status, answer = _raw_post(served, b"", length=length)
  assert status in (400, 413), answer
  assert "Content-Length" in answer["error"] or "too big" in answer["error"]
  assert _get(served, "/")[0] == 200


def test_a_post_without_content_length_or_chunked_is_refused(served):
  head = b"POST /api/transfer HTTP/1.1\r\nContent-Type: application/json"
  assert _raw(served, head) == (411, {"error": "the request has no Content-Length"})
  status, answer = _raw(served, head + b"\r\nTransfer-Encoding: chunked", b"2\r\n{}\r\n0\r\n\r\n")
  assert status == 411 and "chunked" in answer["error"]
  status, answer = _raw(served, head + b"\r\nContent-Length: 2\r\nContent-Length: 2", b"{}")
  assert status == 400 and "Content-Length" in answer["error"]


def test_hostile_json_gets_one_line_naming_the_problem(served):
  deep = b"[" * 100_000 + b"]" * 100_000
  assert _raw_post(served, deep) == (400, {"error": "the request nests too deeply"})
  request = json.dumps(_request({"sample": 0}, {"sample": 1}))
  huge_strength = request.replace('"strength": 1.0', '"strength": 1' + "0" * 400).encode()
  status, answer = _raw_post(served, huge_strength)
  assert status == 400 and answer["error"].startswith("strength=1000"), answer
  assert answer["error"].endswith("must lie in [0, 1]") and len(answer["error"]) < 100
  status, answer = _raw_post(served, request.replace('"steps": 4', '"steps": 1e400').encode())
  assert status == 400 and answer["error"] == "steps=Infinity must be a whole number", answer


def test_cross_site_and_foreign_host_requests_are_refused(served):
  request = json.dumps(_request({"sample": 0}, {"sample": 1}, attributes=[])).encode()
  status, answer = _raw_post(served, request, content_type=b"text/plain")
  assert status == 415 and "application/json" in answer["error"]
  status, answer = _post(served, request, {"Origin": "http://evil.example"})
  assert status == 403 and "http://evil.example" in answer["error"]
  status, answer = _post(served, request, {"Origin": "null"})
  assert status == 403
  # Another address is refused too when bound to one (any is taken when bound to 0.0.0.0).
  for host in ["evil.example", f"evil.example:{served['port']}", "127.0.0.1:1",
               f"evil.example@127.0.0.1:{served['port']}", f"10.1.2.3:{served['port']}"]:
    status, answer = _post(served, request, {"Host": host})
    assert status == 403 and host in answer["error"], (host, answer)
    assert _get(served, "/", {"Host": host})[0] == 403
  # The page's own requests: same origin, by address or by name.
  for host in [f"127.0.0.1:{served['port']}", f"localhost:{served['port']}"]:
    status, answer = _post(served, request, {"Host": host, "Origin": f"http://{host}"})
    assert (status, answer) == (400, {"error": "tick at least one attribute"})


def test_bad_paths_get_404_with_a_message(served):
  for path in [b"/samples/\xb2.png", b"/samples/" + b"9" * 5000 + b".png", b"/samples/-1.png"]:
    status, answer = _raw(served, b"GET " + path + b" HTTP/1.1")
    assert status == 404 and answer["error"].startswith("no page /samples/"), answer
    assert len(answer["error"]) < 200
  status, answer = _raw(served, b"PUT /api/transfer HTTP/1.1\r\nContent-Length: 0")
  assert status == 405 and "\n" not in answer["error"]
  status, answer = _raw(served, b"GET /" + b"x" * 70_000 + b" HTTP/1.1")
  assert status == 414 and "\n" not in answer["error"]


def test_a_half_sent_request_is_closed_after_the_read_timeout(start_server):
  served = start_server(read_timeout=1.0)
  head = f"POST /api/transfer HTTP/1.1\r\nHost: 127.0.0.1:{served['port']}\r\n".encode()
  with _connect(served) as connection:
    connection.sendall(head)  # The headers never end.
    started = time.monotonic()
    assert connection.recv(1024) == b""  # Closed; no answer to a request never made.
    assert time.monotonic() - started < REPLY_TIMEOUT / 2
  with _connect(served) as connection:  # A body that stops half way.
    connection.sendall(head + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    status, answer = _reply(connection)
    assert status == 408 and "1 s" in answer["error"], answer


def _trickle(connection: socket.socket, data: bytes, seconds_per_byte: float = 0.2) -> bool:
  """Sends `data` a byte at a time, well within any read timeout; False as soon as the
  server has answered or closed (sending more would draw a reset that can discard its
  answer). Bounded: at most len(data) * seconds_per_byte."""
  for byte in data:
    if select.select([connection], [], [], 0)[0]:
      return False
    connection.sendall(bytes([byte]))
    time.sleep(seconds_per_byte)
  return True


def test_headers_trickled_byte_by_byte_are_cut_off_at_the_header_deadline(start_server):
  served = start_server(read_timeout=60.0, header_deadline=1.0)
  head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{served['port']}\r\nX-Slow: ".encode()
  with _connect(served) as connection:
    started = time.monotonic()
    # 150 bytes at 0.2 s: 30 s, long after the 1 s deadline.
    assert not _trickle(connection, head + b"x" * (150 - len(head)))
    assert connection.recv(1024) == b""
    assert time.monotonic() - started < REPLY_TIMEOUT / 2


def test_a_body_trickled_byte_by_byte_is_refused_at_the_body_deadline(start_server):
  served = start_server(read_timeout=60.0, body_deadline=1.0)
  head = (b"POST /api/transfer HTTP/1.1\r\nContent-Type: application/json\r\n"
          + f"Host: 127.0.0.1:{served['port']}\r\nContent-Length: 150\r\n\r\n".encode())
  with _connect(served) as connection:
    connection.sendall(head)
    _trickle(connection, b" " * 150)  # Stops sending once the server has answered.
    status, answer = _reply(connection)
    assert status == 408 and "1 s" in answer["error"], answer


def _wait_for(condition, what: str) -> None:
  deadline = time.monotonic() + REPLY_TIMEOUT
  while not condition():
    assert time.monotonic() < deadline, f"still not {what}"
    time.sleep(0.02)


def test_connections_over_the_cap_get_503_at_once(start_server):
  served = start_server(max_connections=2)
  server = served["server"]
  holders = [_connect(served) for _ in range(2)]  # Half-sent requests held open.
  try:
    for holder in holders:
      holder.sendall(b"GET / HTTP/1.1\r\n")
    _wait_for(lambda: server.open_connections == 2, "2 connections")
    status, answer = _raw(served, b"GET / HTTP/1.1")
    assert status == 503 and "too many connections" in answer["error"]
  finally:
    for holder in holders:
      holder.close()
  _wait_for(lambda: server.open_connections == 0, "closed")
  assert _get(served, "/")[0] == 200


def test_requests_over_the_edit_cap_get_503_before_their_body_is_read(start_server):
  served = start_server(max_edits_in_flight=1)
  server = served["server"]
  head = (b"POST /api/transfer HTTP/1.1\r\nContent-Type: application/json\r\n"
          + f"Host: 127.0.0.1:{served['port']}\r\nContent-Length: 1000\r\n\r\n".encode())
  with _connect(served) as holder:
    holder.sendall(head + b"{")  # Its body is being read.
    _wait_for(lambda: server.edits_in_flight == 1, "reading a body")
    with _connect(served) as second:
      second.sendall(head)  # No body: it must be refused from the headers alone.
      status, answer = _reply(second)
      assert status == 503 and "busy" in answer["error"]
    # A client that sends its whole body before reading (as http.client and browsers
    # do) gets the answer too, not a reset: the server drops what it still receives.
    big_head = head.replace(b"Content-Length: 1000", f"Content-Length: {8 << 20}".encode())
    with _connect(served) as third:
      third.sendall(big_head + b" " * (8 << 20))
      status, answer = _reply(third)
      assert status == 503 and "busy" in answer["error"]
  _wait_for(lambda: server.edits_in_flight == 0, "done with the body")


def test_the_browser_test_says_why_it_cannot_run(monkeypatch, tmp_path):
  monkeypatch.setenv("PATH", str(tmp_path))  # Nothing to find.
  assert headless_chromium.missing().startswith("no Chromium found")
  (tmp_path / "chromium").write_text("#!/bin/sh\n")
  (tmp_path / "chromium").chmod(0o755)
  assert headless_chromium.missing().startswith("no chromedriver found")


@pytest.mark.slow
def test_the_page_in_headless_chromium(served, tmp_path):
  reason = headless_chromium.missing()
  if reason:
    pytest.skip(reason)
  samples = served["app"].samples
  upload = tmp_path / "my photo.png"  # Photo A is uploaded, photo B picked from the samples.
  Image.fromarray(samples[2].photo).save(upload)
  with headless_chromium.Browser() as browser:
    browser.open(served["url"] + "/")
    browser.type("#a_file", str(upload))
    browser.script("const s = document.getElementById('b_sample'); s.value = '1';"
                   "s.dispatchEvent(new Event('change'));")
    browser.click("input[name=attribute][value=Eyeglasses]")
    browser.click("#run")
    state = browser.wait_for(FINISHED)
    assert state == "done", browser.script("return document.getElementById('error').textContent")
    sources = browser.script("return ['a_edited', 'b_edited', 'strip'].map("
                             "(id) => document.getElementById(id).src)")
    for source in sources:
      assert source.startswith("data:image/png;base64,")
    _check_edited(_png(sources[0].partition(",")[2]), samples[2])
    _check_edited(_png(sources[1].partition(",")[2]), samples[1])
    # A file that is not an image: one line on the page, and the page still works.
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    browser.type("#a_file", str(bad))
    browser.click("#run")
    state = browser.wait_for(FINISHED)
    error = browser.script("return document.getElementById('error').textContent")
    assert state == "error" and error.startswith("cannot read image photo A (notes.png)"), error
    # A file over the limit is refused by the page itself (limit lowered for the test).
    browser.script("document.body.dataset.maxPhotoBytes = '10';")
    browser.click("#run")
    assert browser.wait_for(FINISHED) == "error"
    error = browser.script("return document.getElementById('error').textContent")
    assert error == "photo A (notes.png) is too big: 0.0 MB, at most 0.0 MB", error
