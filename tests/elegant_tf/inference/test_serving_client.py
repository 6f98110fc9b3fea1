"""The REST client against the real SavedModel in a fresh process, and its HTTP behaviour.

TF Serving itself is not available here, so tf_serving_stand_in.py answers TF
Serving's columnar REST predict protocol from the exported SavedModel, loaded in a
separate process the way TF Serving's C++ loader does: the "serve" MetaGraph in a TF1
session, each SignatureDef run by its tensor names; no TF2 object API, no Python
objects of ours.
"""

import base64
import http.server
import io
import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from elegant_tf.inference import serving_client
from tests import helpers
from tests.elegant_tf.inference import tf_serving_stand_in

STAND_IN = tf_serving_stand_in.__file__


@pytest.fixture(scope="module")
def served(untrained_model, tmp_path_factory):
  """The session's untrained export (random presence and absence prototypes), served by
  the stand-in in its own process."""
  tmp_path = tmp_path_factory.mktemp("serving")
  model, version_dir = untrained_model["generator"], untrained_model["version_dir"]
  port_file = tmp_path / "port"
  process = subprocess.Popen([sys.executable, STAND_IN, "elegant", version_dir,
                              str(port_file)], env=helpers.subprocess_env())
  deadline = time.time() + 240
  while not (port_file.exists() and port_file.read_text()) and time.time() < deadline:
    assert process.poll() is None, "the serving process died"
    time.sleep(0.2)
  yield {"url": f"http://127.0.0.1:{port_file.read_text()}", "model": model,
         "version_dir": version_dir}
  process.terminate()
  process.wait(timeout=30)


def _batch(seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32), \
      rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)


def test_request_building_and_response_parsing():
  body = serving_client.build_predict_request(
      "transfer_bytes", {"image_bytes": [b"\x89PNG"], "attributes": np.ones((1, 2), np.float32)})
  assert body == {"signature_name": "transfer_bytes",
                  "inputs": {"image_bytes": [{"b64": base64.b64encode(b"\x89PNG").decode()}],
                             "attributes": [[1.0, 1.0]]}}
  parsed = serving_client.parse_predict_response(
      {"outputs": {"edited_bytes": [{"b64": "AAE="}], "edited": [[0.5]]}})
  assert parsed["edited_bytes"] == [b"\x00\x01"] and parsed["edited"].shape == (1, 1)
  # TF Serving drops the name of a lone output.
  assert serving_client.parse_predict_response({"outputs": [[1.0]]}, ["edited"])["edited"].shape \
      == (1, 1)
  with pytest.raises(serving_client.ServingError, match="boom"):
    serving_client.parse_predict_response({"error": "boom"})


def test_transfer_and_metadata_match_the_model(served):
  client = serving_client.ServingClient(served["url"], "elegant", timeout=60)
  image, exemplar = _batch()
  weights = np.array([[1, 0], [1, 1]], np.float32)
  outputs = client.transfer(image, exemplar, weights, np.full_like(weights, 0.5))
  expected = served["model"]({"image": image, "exemplar": exemplar, "attributes": weights * 0.5})
  for key in ("edited", "exemplar_edited"):
    np.testing.assert_allclose(outputs[key], np.asarray(expected[key]), atol=1e-5)
  assert client.metadata() == {"attribute_names": ["Eyeglasses", "Bangs"], "image_size": 32,
                               "value_range": [-1.0, 1.0], "version": 1,
                               "latent_shape": [4, 4, 16], "has_prototypes": True,
                               "has_absence_prototypes": True}
  encoded = client.encode(image)
  decoded = client.decode(image, encoded["latent"], encoded["latent"],
                          [encoded["skip_0"], encoded["skip_1"]])
  zero = client.add_attribute(image, weights, np.zeros_like(weights))
  np.testing.assert_allclose(decoded, zero, atol=1e-5)
  np.testing.assert_allclose(client.remove_attribute(image, weights, np.zeros_like(weights)),
                             decoded, atol=1e-5)
  assert not np.allclose(client.remove_attribute(image, weights),
                         client.add_attribute(image, weights), atol=1e-4)


def test_a_serving_client_gets_what_paste_back_needs_from_the_existing_signature(served):
  """Issue 23: the reconstruction A' comes from serving_default itself (a zero-weight batch
  row), so a TF Serving client pastes the change at full resolution without a new output."""
  from elegant_tf.apps import photo_edit
  client = serving_client.ServingClient(served["url"], "elegant", timeout=60)
  image, exemplar = _batch(1)
  outputs = photo_edit.edit_and_reconstruct(client, image[0], exemplar[0],
                                            np.array([1.0, 0.0], np.float32))
  zero = np.zeros((1, 2), np.float32)
  expected = served["model"]({"image": image[:1], "exemplar": exemplar[:1], "attributes": zero})
  np.testing.assert_allclose(outputs["reconstructed"], np.asarray(expected["edited"])[0], atol=1e-5)
  np.testing.assert_allclose(outputs["exemplar_reconstructed"],
                             np.asarray(expected["exemplar_edited"])[0], atol=1e-5)
  swapped = client.transfer(image[:1], exemplar[:1], np.array([[1.0, 0.0]], np.float32))
  np.testing.assert_allclose(outputs["edited"], swapped["edited"][0], atol=1e-5)


def test_bytes_round_trip_and_bad_request_message(served):
  client = serving_client.ServingClient(served["url"], "elegant", timeout=60)
  buffer = io.BytesIO()
  Image.fromarray(np.full((48, 40, 3), 120, np.uint8)).save(buffer, format="JPEG")
  outputs = client.transfer_bytes(buffer.getvalue(), buffer.getvalue(), [[1, 0]])
  assert Image.open(io.BytesIO(outputs["edited_bytes"][0])).size == (32, 32)
  with pytest.raises(serving_client.ServingError, match="input image_bytes holds an element"):
    client.transfer_bytes(b"garbage", buffer.getvalue(), [[1, 0]])
  with pytest.raises(serving_client.ServingError, match="input attributes must have shape"):
    client.transfer(*_batch(), np.ones((2, 3), np.float32))


def test_missing_model_and_signature_have_their_own_errors(served):
  with pytest.raises(serving_client.ModelNotFoundError, match="'nope' is not served"):
    serving_client.ServingClient(served["url"], "nope", retries=0).encode(_batch()[0])
  client = serving_client.ServingClient(served["url"], "elegant", retries=0)
  with pytest.raises(serving_client.SignatureNotFoundError, match="no signature 'swap'"):
    client.predict("swap", {"image": _batch()[0]})


def test_the_stand_in_runs_signature_defs_by_tensor_name_as_tf_serving_does(served):
  """Fed and fetched by the SignatureDefs' tensor names in a TF1 session: every exported
  signature is there, and inputs the SignatureDef does not list (or misses) are refused."""
  runner = tf_serving_stand_in.SignatureRunner(served["version_dir"])
  assert {"serving_default", "transfer_bytes", "encode", "decode", "add_attribute",
          "metadata"} <= set(runner.signatures)
  image = _batch()[0][:1]
  assert runner.run("encode", {"image": image})["latent"].shape == (1, 4, 4, 16)
  with pytest.raises(KeyError, match="input tensor alias not found in signature: picture"):
    runner.run("encode", {"image": image, "picture": image})
  with pytest.raises(ValueError, match="missing input\\(s\\) exemplar,strength"):
    runner.run("serving_default", {"image": image, "attributes": [[1.0, 0.0]]})


class _Flaky(http.server.BaseHTTPRequestHandler):
  """Drops the first `failures` connections, then answers a fixed prediction."""
  failures = 2
  seen = 0

  def log_message(self, *args):
    pass

  def do_POST(self):
    type(self).seen += 1
    if type(self).seen <= type(self).failures:
      self.connection.shutdown(socket.SHUT_RDWR)  # A reset, as a restarting server gives.
      return
    data = json.dumps({"outputs": {"edited": [[1.0]], "exemplar_edited": [[2.0]]}}).encode()
    self.send_response(200)
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)


class _Slow(_Flaky):
  def do_POST(self):
    time.sleep(1.0)
    try:
      super().do_POST()
    except (BrokenPipeError, ConnectionResetError):
      pass  # The client gave up first, as intended.


def _loopback(handler):
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_connection_errors_are_retried_then_reported():
  _Flaky.seen, _Flaky.failures = 0, 2
  server, url = _loopback(_Flaky)
  try:
    client = serving_client.ServingClient(url, "m", retries=2, backoff=0.01)
    assert client.predict("serving_default", {"x": [1]})["edited"].tolist() == [[1.0]]
    assert _Flaky.seen == 3
    _Flaky.seen, _Flaky.failures = 0, 10
    with pytest.raises(serving_client.ServingUnavailableError, match="after 2 attempts"):
      serving_client.ServingClient(url, "m", retries=1, backoff=0.01).predict("s", {"x": [1]})
  finally:
    server.shutdown()


def test_timeouts_are_retried_and_refused_connections_reported():
  _Slow.seen, _Slow.failures = 0, 0
  server, url = _loopback(_Slow)
  try:
    started = time.time()
    with pytest.raises(serving_client.ServingUnavailableError, match="after 2 attempts"):
      serving_client.ServingClient(url, "m", timeout=0.2, retries=1, backoff=0.01).predict(
          "s", {"x": [1]})
    assert time.time() - started < 5
  finally:
    server.shutdown()
    server.server_close()
  with pytest.raises(serving_client.ServingUnavailableError, match="no answer"):
    serving_client.ServingClient(url, "m", timeout=1, retries=1, backoff=0.01).status()


class _Answer(http.server.BaseHTTPRequestHandler):
  """Answers every request with the class's fixed status, headers and body; records paths."""
  status, body, headers, declared_length = 200, b"", {}, None
  paths = []

  def log_message(self, *args):
    pass

  def _answer(self):
    type(self).paths.append((self.command, self.path))
    if self.command == "POST":
      self.rfile.read(int(self.headers.get("Content-Length", 0)))
    self.send_response(type(self).status)
    for name, value in type(self).headers.items():
      self.send_header(name, value.format(port=self.server.server_address[1]))
    length = type(self).declared_length
    if length != "none":
      self.send_header("Content-Length", str(length or len(type(self).body)))
    self.end_headers()
    self.wfile.write(type(self).body)
    self.close_connection = True

  do_GET = do_POST = _answer


@pytest.fixture
def answering():
  """A loopback server; set _Answer's fields to choose its answer."""
  _Answer.status, _Answer.body, _Answer.headers, _Answer.declared_length = 200, b"", {}, None
  _Answer.paths = []
  server, url = _loopback(_Answer)
  yield url
  server.shutdown()
  server.server_close()


def _predict(url, **options):
  client = serving_client.ServingClient(url, "m", retries=1, backoff=0.01, **options)
  return client.predict("serving_default", {"x": [1]})


def test_a_200_answer_that_is_not_json_is_a_bad_response(answering):
  _Answer.body = b"<html>502 Bad Gateway</html>"
  with pytest.raises(serving_client.BadResponseError, match="not JSON"):
    _predict(answering)
  _Answer.body = b"[1, 2]"
  with pytest.raises(serving_client.BadResponseError, match="not an object"):
    _predict(answering)


def test_an_error_object_in_a_400_answer_is_a_serving_error(answering):
  _Answer.status = 400
  _Answer.body = json.dumps({"error": {"code": 3, "message": "input image is bad"}}).encode()
  with pytest.raises(serving_client.ServingError, match="HTTP 400 .*input image is bad"):
    _predict(answering)
  _Answer.body = json.dumps({"error": ["odd", 1]}).encode()
  with pytest.raises(serving_client.ServingError, match="HTTP 400 .*odd"):
    _predict(answering)


def test_a_truncated_body_is_retried_then_reported(answering):
  _Answer.body, _Answer.declared_length = b'{"outputs": {"edit', 1000
  with pytest.raises(serving_client.ServingUnavailableError,
                     match="after 2 attempts .*cut short after 18 bytes"):
    _predict(answering)
  assert len(_Answer.paths) == 2


def test_a_redirect_is_refused_not_followed_as_a_get(answering):
  _Answer.status, _Answer.headers = 302, {"Location": "http://127.0.0.1:{port}/elsewhere"}
  with pytest.raises(serving_client.RedirectError, match="redirected \\(HTTP 302\\) to "
                     "http://127.0.0.1:\\d+/elsewhere"):
    _predict(answering)
  assert _Answer.paths == [("POST", "/v1/models/m:predict")]


@pytest.mark.parametrize("declared", [None, "none"])  # With and without Content-Length.
def test_a_response_over_the_size_limit_is_refused(answering, declared):
  _Answer.body = json.dumps({"outputs": {"edited": [0.5] * 1000}}).encode()
  _Answer.declared_length = declared
  with pytest.raises(serving_client.ResponseTooLargeError, match="over the limit of 1000"):
    _predict(answering, max_response_bytes=1000)
  assert _predict(answering, max_response_bytes=len(_Answer.body))["edited"].shape == (1000,)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com", "localhost:8501",
                                 "http://"])
def test_only_http_and_https_urls_are_accepted(url):
  with pytest.raises(ValueError, match="must be http://HOST"):
    serving_client.ServingClient(url, "m")


def test_model_name_and_version_are_url_quoted(answering):
  _Answer.body = json.dumps({"outputs": {"edited": [1.0]}}).encode()
  client = serving_client.ServingClient(answering, "faces/v2 beta?x", version=3, retries=0)
  client.predict("serving_default", {"x": [1]})
  assert _Answer.paths == [("POST", "/v1/models/faces%2Fv2%20beta%3Fx/versions/3:predict")]
  with pytest.raises(ValueError, match="positive integer"):
    serving_client.ServingClient(answering, "m", version="3/../../x")


class _Trickle(http.server.BaseHTTPRequestHandler):
  """Answers one byte at a time, every 0.2 s, for at most 40 s: each read of the client's
  gets a byte long before a per-read timeout, so only a deadline on the whole call ends it."""

  def log_message(self, *args):
    pass

  def do_POST(self):
    self.rfile.read(int(self.headers.get("Content-Length", 0)))
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b" " * 1000
    try:
      for byte in reply[:200]:
        self.wfile.write(bytes([byte]))
        time.sleep(0.2)
    except OSError:
      pass  # The client gave up, as intended.
    self.close_connection = True


def test_a_trickling_server_times_out_within_the_timeout_of_the_call():
  server, url = _loopback(_Trickle)
  try:
    started = time.monotonic()
    with pytest.raises(serving_client.ServingUnavailableError,
                       match="after 1 attempts .*no complete answer within 1 s"):
      serving_client.ServingClient(url, "m", timeout=1, retries=0).predict("s", {"x": [1]})
    assert time.monotonic() - started < 20  # 1 s and a little; the reply takes 40 s.
  finally:
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_or_infinity_in_a_response_is_refused(answering, number):
  _Answer.body = ('{"outputs": {"edited": [[0.5, %s]], "exemplar_edited": [[0.5]]}}'
                  % number).encode()
  with pytest.raises(serving_client.NonFiniteOutputError,
                     match="output 'edited' holds 1 NaN or infinite value\\(s\\) of 2"):
    _predict(answering)
