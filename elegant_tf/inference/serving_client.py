"""A small TF Serving REST client for the exported ELEGANT (standard library HTTP only).

  client = ServingClient("http://localhost:8501", "elegant")
  out = client.transfer(image, exemplar, attributes, strength)   # numpy in, numpy out
  png = client.transfer_bytes(open("me.jpg", "rb").read(), open("ex.png", "rb").read(),
                              attributes, strength)["edited_bytes"][0]

Requests use TF Serving's columnar format, POST /v1/models/<name>[/versions/<v>]:predict
with {"signature_name": ..., "inputs": {...}}; string tensors travel as {"b64": ...}.
Connection errors (refused, reset, timeout, a body cut short) are retried with
backoff; HTTP errors are not (the server answered). A missing model or signature
raises its own error, and so do answers that are not TF Serving's (not JSON, too
large, a redirect, NaN or infinite numbers). Only http:// and https:// URLs are
accepted, and they are reached directly (http.client; no proxy from the environment).
`timeout` bounds each attempt as a whole, from connecting to the last byte: a socket
timeout alone counts from the last byte read, so a server trickling a byte a second
would never time out.
"""

import base64
import http.client
import json
import numbers
import socket
import threading
import time
import urllib.parse
from typing import Optional

import numpy as np

from elegant_tf.inference import transfer_model


class ServingError(RuntimeError):
  """TF Serving answered with an error (bad request, failed assertion, ...)."""


class ModelNotFoundError(ServingError):
  """The server does not serve this model (or version)."""


class SignatureNotFoundError(ServingError):
  """The model has no signature of this name."""


class ServingUnavailableError(ServingError):
  """No answer after all retries (server down, unreachable, too slow, or cut short)."""


class BadResponseError(ServingError):
  """The server's answer is not a TF Serving response (not JSON, not an object)."""


class ResponseTooLargeError(ServingError):
  """The response body is larger than the client's max_response_bytes."""


class RedirectError(ServingError):
  """The server redirected the request; a redirected POST would lose its body."""


class NonFiniteOutputError(BadResponseError):
  """An output holds NaN or an infinity (JSON's NaN/Infinity, or a number like 1e400)."""


# Large enough for a batch of 16 transfers at 256 px as JSON floats (about 150 MB).
DEFAULT_MAX_RESPONSE_BYTES = 512 << 20


# Of an error answer, only the start is read: its message.
_MAX_ERROR_BYTES = 1 << 20


class _AttemptDeadline:
  """Shuts the connection's socket down when the attempt's time is up, which ends a read
  that is waiting for the next byte at once, wherever the attempt is."""

  def __init__(self, connection: http.client.HTTPConnection, seconds: float):
    self.passed = False
    self._connection = connection
    self._timer = threading.Timer(seconds, self._cut_off)
    self._timer.daemon = True

  def __enter__(self):
    self._timer.start()
    return self

  def __exit__(self, *exc_info):
    self._timer.cancel()
    return False

  def _cut_off(self) -> None:
    self.passed = True
    sock = self._connection.sock
    if sock is not None:
      try:
        sock.shutdown(socket.SHUT_RDWR)
      except OSError:
        pass  # Already closed: the attempt is over anyway.


def _to_json_value(value):
  """numpy / bytes -> JSON-able value; bytes become {"b64": ...}."""
  if isinstance(value, (bytes, bytearray)):
    return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
  array = np.asarray(value, dtype=object if isinstance(value, (list, tuple)) and value
                     and isinstance(value[0], (bytes, bytearray)) else None)
  if array.dtype == object:
    return [_to_json_value(item) for item in array.tolist()]
  return array.tolist()


def build_predict_request(signature: str, inputs: dict) -> dict:
  """The JSON body of a columnar predict request."""
  return {"signature_name": signature,
          "inputs": {name: _to_json_value(value) for name, value in inputs.items()}}


def _from_json_value(value, name: str):
  if isinstance(value, dict) and set(value) == {"b64"}:
    return base64.b64decode(value["b64"])
  if isinstance(value, list) and value and isinstance(value[0], (dict, list)) \
      and _contains_b64(value):
    return [_from_json_value(item, name) for item in value]
  array = np.asarray(value)
  # json reads NaN, Infinity and 1e400 as floats; an edit made of them is no edit.
  if array.dtype.kind in "fc" and not np.isfinite(array).all():
    count = int(array.size - np.isfinite(array).sum())
    raise NonFiniteOutputError(f"output {name!r} holds {count} NaN or infinite value(s) of "
                               f"{array.size}")
  return array


def _contains_b64(value) -> bool:
  while isinstance(value, list) and value:
    value = value[0]
  return isinstance(value, dict) and "b64" in value


def parse_predict_response(body: dict, output_names=None) -> dict:
  """{output name: numpy array or list of bytes} from a columnar predict response.

  TF Serving drops the name when a signature has a single output; `output_names`
  (if given with one name) restores it.
  """
  if not isinstance(body, dict):
    raise BadResponseError(f"response is JSON but not an object: {str(body)[:200]}")
  if "error" in body:
    raise ServingError(_error_text(body["error"]))
  if "outputs" not in body:
    raise ServingError(f"response has no 'outputs': {str(body)[:200]}")
  outputs = body["outputs"]
  if not isinstance(outputs, dict) or (output_names and len(output_names) == 1
                                       and output_names[0] not in outputs):
    name = output_names[0] if output_names else "output"
    outputs = {name: outputs}
  return {name: _from_json_value(value, name) for name, value in outputs.items()}


def _error_text(error) -> str:
  """TF Serving's "error" is a string; proxies and other servers send objects."""
  if isinstance(error, str):
    return error
  if isinstance(error, dict) and isinstance(error.get("message"), str):
    return error["message"]
  return json.dumps(error)[:500]


class ServingClient:
  """Calls the ELEGANT signatures of one model on a TF Serving REST endpoint."""

  def __init__(self, base_url: str, model_name: str, version: Optional[int] = None,
               timeout: float = 30.0, retries: int = 3, backoff: float = 0.5,
               max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES):
    parts = urllib.parse.urlsplit(base_url)
    # urllib also opens file:// and ftp:// URLs; a serving client must not.
    if parts.scheme not in ("http", "https") or not parts.netloc:
      raise ValueError(f"base URL {base_url!r} must be http://HOST[:PORT] or https://...")
    if not model_name:
      raise ValueError("model name is empty")
    if version is not None and not (isinstance(version, numbers.Integral)
                                    and not isinstance(version, bool) and version >= 1):
      raise ValueError(f"version {version!r} must be a positive integer")
    self.base_url = base_url.rstrip("/")
    self.model_name = model_name
    self.version = None if version is None else int(version)
    self.timeout = timeout
    self.retries = retries
    self.backoff = backoff
    self.max_response_bytes = max_response_bytes

  @property
  def model_url(self) -> str:
    # Quoted: a name with '/', '?', ':' or spaces must stay one path segment.
    url = f"{self.base_url}/v1/models/{urllib.parse.quote(self.model_name, safe='')}"
    return url if self.version is None else f"{url}/versions/{self.version}"

  def _read_capped(self, response, url: str) -> bytes:
    """The body, refusing more than max_response_bytes (whatever Content-Length says)."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
      raise ResponseTooLargeError(f"{url}: response of {int(declared)} bytes is over the "
                                  f"limit of {self.max_response_bytes} (max_response_bytes)")
    chunks, total = [], 0
    while True:
      chunk = response.read(min(1 << 20, self.max_response_bytes + 1 - total))
      if not chunk:
        break
      chunks.append(chunk)
      total += len(chunk)
      if total > self.max_response_bytes:
        raise ResponseTooLargeError(f"{url}: response is over the limit of "
                                    f"{self.max_response_bytes} bytes (max_response_bytes)")
    data = b"".join(chunks)
    if declared and declared.isdigit() and len(data) < int(declared):
      # read(amt) returns what arrived when the connection closes early; say so.
      raise http.client.IncompleteRead(data, int(declared) - len(data))
    return data

  def _request(self, url: str, body: Optional[dict] = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    last_error = None
    for attempt in range(self.retries + 1):
      if attempt:
        time.sleep(self.backoff * 2 ** (attempt - 1))
      try:
        status, reason, headers, content = self._attempt(url, data)
      except http.client.IncompleteRead as error:
        # The connection broke mid-body: a transport failure like a reset.
        last_error = (f"response cut short after {len(error.partial)} bytes"
                      + (f", {error.expected} more expected" if error.expected else ""))
        continue
      except (TimeoutError, ConnectionError) as error:  # ConnectionError: also RemoteDisconnected.
        last_error = error
        continue
      except http.client.HTTPException as error:  # A status line or header that is not HTTP.
        raise BadResponseError(f"{url}: the answer is not HTTP (is this TF Serving's REST "
                               f"port?): {type(error).__name__}: {str(error)[:100]}") from None
      except OSError as error:  # Refused, unreachable, no such host.
        last_error = error.strerror or error
        continue
      if 300 <= status < 400:
        # http.client follows nothing; urllib would have re-sent a POST as a bodiless GET.
        target = urllib.parse.urljoin(url, headers.get("Location", ""))
        raise RedirectError(f"{url} redirected (HTTP {status}) to {target}; give the final "
                            "address as the base URL")
      if status >= 400:
        # The server answered: retrying would give the same answer.
        self._raise_http_error(status, reason, content, body)
      try:
        return json.loads(content)
      except ValueError:
        raise BadResponseError(f"{url}: the answer is not JSON (is this TF Serving's REST "
                               f"port?): {content[:100]!r}") from None
    raise ServingUnavailableError(f"{url}: no answer after {self.retries + 1} attempts "
                                  f"({last_error})")

  def _attempt(self, url: str, data: Optional[bytes]):
    """(status, reason, headers, body) of one exchange, all of it within self.timeout."""
    parts = urllib.parse.urlsplit(url)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
      with _AttemptDeadline(connection, self.timeout) as deadline:
        try:
          connection.request("GET" if data is None else "POST", target, body=data,
                             headers={"Content-Type": "application/json"})
          response = connection.getresponse()
          if 300 <= response.status < 400:  # Refused by its status; the body is not needed.
            content = b""
          elif response.status >= 400:  # Only the message of an error matters.
            content = response.read(_MAX_ERROR_BYTES)
          else:
            content = self._read_capped(response, url)
        except (OSError, http.client.HTTPException):
          if deadline.passed:
            raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
          raise
        if deadline.passed:  # Cut off where a body without a length could look complete.
          raise TimeoutError(f"no complete answer within {self.timeout:g} s")
      return response.status, response.reason, response.headers, content
    finally:
      connection.close()

  def _raise_http_error(self, status: int, reason: str, content: bytes, body) -> None:
    try:
      answer = json.loads(content)
      message = _error_text(answer.get("error", "")) if isinstance(answer, dict) else ""
    except ValueError:
      message = ""
    message = message or reason
    signature = (body or {}).get("signature_name")
    if status == 404 or "could not find" in message.lower() and "servable" in message.lower():
      raise ModelNotFoundError(f"model {self.model_name!r}"
                               + (f" version {self.version}" if self.version else "")
                               + f" is not served at {self.base_url}: {message}") from None
    if signature and "signature" in message.lower() and (
        "not found" in message.lower() or "serving signature name" in message.lower()):
      raise SignatureNotFoundError(f"model {self.model_name!r} has no signature "
                                   f"{signature!r}: {message}") from None
    raise ServingError(f"HTTP {status} from {self.model_url}: {message}") from None

  def status(self) -> dict:
    """GET /v1/models/<name>: version states."""
    return self._request(self.model_url)

  def predict(self, signature: str, inputs: dict, output_names=None) -> dict:
    body = build_predict_request(signature, inputs)
    return parse_predict_response(self._request(f"{self.model_url}:predict", body),
                                  output_names)

  def transfer(self, image, exemplar, attributes, strength=None) -> dict:
    """float32 batches in [-1, 1] -> {"edited", "exemplar_edited"}."""
    attributes = np.asarray(attributes, np.float32)
    strength = transfer_model.strength_or_ones(attributes, strength)
    return self.predict("serving_default", {"image": image, "exemplar": exemplar,
                                            "attributes": attributes, "strength": strength})

  def transfer_bytes(self, image_bytes, exemplar_bytes, attributes, strength=None) -> dict:
    """Encoded images (one bytes or a list) -> {"edited_bytes", "exemplar_edited_bytes"} PNGs."""
    as_list = lambda v: [v] if isinstance(v, (bytes, bytearray)) else list(v)
    attributes = np.asarray(attributes, np.float32)
    strength = transfer_model.strength_or_ones(attributes, strength)
    return self.predict("transfer_bytes", {
        "image_bytes": as_list(image_bytes), "exemplar_bytes": as_list(exemplar_bytes),
        "attributes": attributes, "strength": strength})

  def encode(self, image) -> dict:
    return self.predict("encode", {"image": image})

  def decode(self, image, edited_latent, latent, skips) -> np.ndarray:
    inputs = {"image": image, "edited_latent": edited_latent, "latent": latent,
              **{f"skip_{k}": skip for k, skip in enumerate(skips)}}
    return self.predict("decode", inputs, ["edited"])["edited"]

  def _label_only_edit(self, signature, image, attributes, strength) -> np.ndarray:
    attributes = np.asarray(attributes, np.float32)
    strength = transfer_model.strength_or_ones(attributes, strength)
    return self.predict(signature, {"image": image, "attributes": attributes,
                                    "strength": strength}, ["edited"])["edited"]

  def add_attribute(self, image, attributes, strength=None) -> np.ndarray:
    """The image with the chosen attributes added from the model's presence prototypes."""
    return self._label_only_edit("add_attribute", image, attributes, strength)

  def remove_attribute(self, image, attributes, strength=None) -> np.ndarray:
    """The image with the chosen attributes removed by the model's absence prototypes."""
    return self._label_only_edit("remove_attribute", image, attributes, strength)

  def metadata(self) -> dict:
    outputs = self.predict("metadata", {})
    return {"attribute_names": [n.decode() if isinstance(n, bytes) else str(n)
                                for n in outputs["attribute_names"].tolist()],
            "image_size": int(outputs["image_size"]),
            "value_range": [float(v) for v in outputs["value_range"]],
            "version": int(outputs["version"]),
            "latent_shape": [int(v) for v in outputs["latent_shape"]],
            "has_prototypes": bool(outputs["has_prototypes"]),
            # Absent from models exported before label-only removal existed.
            "has_absence_prototypes": bool(outputs.get("has_absence_prototypes", False))}
