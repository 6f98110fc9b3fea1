"""A small TF Serving REST client for the exported ELEGANT (standard library HTTP only).

  client = ServingClient("http://localhost:8501", "elegant")
  out = client.transfer(image, exemplar, attributes, strength)   # numpy in, numpy out
  png = client.transfer_bytes(open("me.jpg", "rb").read(), open("ex.png", "rb").read(),
                              attributes, strength)["edited_bytes"][0]

Requests use TF Serving's columnar format, POST /v1/models/<name>[/versions/<v>]:predict
with {"signature_name": ..., "inputs": {...}}; string tensors travel as {"b64": ...}.
Connection errors (refused, reset, timeout) are retried with backoff; HTTP errors
are not (the server answered). A missing model or signature raises its own error.
"""

import base64
import json
import socket
import time
import urllib.error
import urllib.request
from typing import Optional

import numpy as np


class ServingError(RuntimeError):
  """TF Serving answered with an error (bad request, failed assertion, ...)."""


class ModelNotFoundError(ServingError):
  """The server does not serve this model (or version)."""


class SignatureNotFoundError(ServingError):
  """The model has no signature of this name."""


class ServingUnavailableError(ServingError):
  """No answer after all retries (server down, unreachable, or too slow)."""


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


def _from_json_value(value):
  if isinstance(value, dict) and set(value) == {"b64"}:
    return base64.b64decode(value["b64"])
  if isinstance(value, list) and value and isinstance(value[0], (dict, list)) \
      and _contains_b64(value):
    return [_from_json_value(item) for item in value]
  return np.asarray(value)


def _contains_b64(value) -> bool:
  while isinstance(value, list) and value:
    value = value[0]
  return isinstance(value, dict) and "b64" in value


def parse_predict_response(body: dict, output_names=None) -> dict:
  """{output name: numpy array or list of bytes} from a columnar predict response.

  TF Serving drops the name when a signature has a single output; `output_names`
  (if given with one name) restores it.
  """
  if "error" in body:
    raise ServingError(body["error"])
  if "outputs" not in body:
    raise ServingError(f"response has no 'outputs': {str(body)[:200]}")
  outputs = body["outputs"]
  if not isinstance(outputs, dict) or (output_names and len(output_names) == 1
                                       and output_names[0] not in outputs):
    name = output_names[0] if output_names else "output"
    outputs = {name: outputs}
  return {name: _from_json_value(value) for name, value in outputs.items()}


class ServingClient:
  """Calls the ELEGANT signatures of one model on a TF Serving REST endpoint."""

  def __init__(self, base_url: str, model_name: str, version: Optional[int] = None,
               timeout: float = 30.0, retries: int = 3, backoff: float = 0.5):
    self.base_url = base_url.rstrip("/")
    self.model_name = model_name
    self.version = version
    self.timeout = timeout
    self.retries = retries
    self.backoff = backoff

  @property
  def model_url(self) -> str:
    url = f"{self.base_url}/v1/models/{self.model_name}"
    return url if self.version is None else f"{url}/versions/{self.version}"

  def _request(self, url: str, body: Optional[dict] = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    last_error = None
    for attempt in range(self.retries + 1):
      if attempt:
        time.sleep(self.backoff * 2 ** (attempt - 1))
      request = urllib.request.Request(url, data=data,
                                       headers={"Content-Type": "application/json"})
      try:
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
          return json.loads(response.read())
      except urllib.error.HTTPError as error:
        # The server answered: retrying would give the same answer.
        self._raise_http_error(error, body)
      except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as error:
        last_error = error
    reason = getattr(last_error, "reason", last_error)
    raise ServingUnavailableError(f"{url}: no answer after {self.retries + 1} attempts "
                                  f"({reason})")

  def _raise_http_error(self, error, body) -> None:
    try:
      message = json.loads(error.read()).get("error", "")
    except (ValueError, AttributeError):
      message = ""
    message = message or error.reason
    signature = (body or {}).get("signature_name")
    if error.code == 404 or "could not find" in message.lower() and "servable" in message.lower():
      raise ModelNotFoundError(f"model {self.model_name!r}"
                               + (f" version {self.version}" if self.version else "")
                               + f" is not served at {self.base_url}: {message}") from None
    if signature and "signature" in message.lower() and (
        "not found" in message.lower() or "serving signature name" in message.lower()):
      raise SignatureNotFoundError(f"model {self.model_name!r} has no signature "
                                   f"{signature!r}: {message}") from None
    raise ServingError(f"HTTP {error.code} from {self.model_url}: {message}") from None

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
    strength = np.ones_like(attributes) if strength is None else strength
    return self.predict("serving_default", {"image": image, "exemplar": exemplar,
                                            "attributes": attributes, "strength": strength})

  def transfer_bytes(self, image_bytes, exemplar_bytes, attributes, strength=None) -> dict:
    """Encoded images (one bytes or a list) -> {"edited_bytes", "exemplar_edited_bytes"} PNGs."""
    as_list = lambda v: [v] if isinstance(v, (bytes, bytearray)) else list(v)
    attributes = np.asarray(attributes, np.float32)
    strength = np.ones_like(attributes) if strength is None else strength
    return self.predict("transfer_bytes", {
        "image_bytes": as_list(image_bytes), "exemplar_bytes": as_list(exemplar_bytes),
        "attributes": attributes, "strength": strength})

  def encode(self, image) -> dict:
    return self.predict("encode", {"image": image})

  def decode(self, image, edited_latent, latent, skips) -> np.ndarray:
    inputs = {"image": image, "edited_latent": edited_latent, "latent": latent,
              **{f"skip_{k}": skip for k, skip in enumerate(skips)}}
    return self.predict("decode", inputs, ["edited"])["edited"]

  def add_attribute(self, image, attributes, strength=None) -> np.ndarray:
    attributes = np.asarray(attributes, np.float32)
    strength = np.ones_like(attributes) if strength is None else strength
    return self.predict("add_attribute", {"image": image, "attributes": attributes,
                                          "strength": strength}, ["edited"])["edited"]

  def metadata(self) -> dict:
    outputs = self.predict("metadata", {})
    return {"attribute_names": [n.decode() if isinstance(n, bytes) else str(n)
                                for n in outputs["attribute_names"].tolist()],
            "image_size": int(outputs["image_size"]),
            "value_range": [float(v) for v in outputs["value_range"]],
            "version": int(outputs["version"]),
            "latent_shape": [int(v) for v in outputs["latent_shape"]],
            "has_prototypes": bool(outputs["has_prototypes"])}
