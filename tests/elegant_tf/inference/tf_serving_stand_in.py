"""A stand-in for tensorflow_model_server's REST predict API, for the serving-client tests.

  python tests/elegant_tf/tf_serving_stand_in.py MODEL_NAME VERSION_DIR PORT_FILE

The real server cannot be installed here, so this one loads the SavedModel the way
its C++ loader does: the MetaGraph tagged "serve" is imported into a TF1 session on
its own graph (`tf.compat.v1.saved_model.loader.load`), and each request feeds and
fetches the tensor names that the SignatureDef lists. Nothing of the TF2 object API
(restored functions, tracked Python objects) is used, so a signature that only works
through `tf.saved_model.load(...).signatures` fails here as it would in TF Serving.

REST shape as TF Serving's columnar predict: POST /v1/models/<name>:predict with
{"signature_name", "inputs"}; string tensors as {"b64": ...} when the name ends in
"_bytes"; a signature with one output answers it unnamed; errors are
{"error": "<message>"} with HTTP 400 (bad request), 404 (unknown model). The port the
server bound is written to PORT_FILE when it is ready.
"""

import base64
import http.server
import json
import os
import sys

import numpy as np
import tensorflow as tf


class SignatureRunner:
  """Feeds and fetches one SavedModel's SignatureDefs by tensor name in a TF1 session."""

  def __init__(self, version_dir: str):
    self.graph = tf.Graph()
    self.session = tf.compat.v1.Session(graph=self.graph)
    with self.graph.as_default():
      meta_graph = tf.compat.v1.saved_model.loader.load(
          self.session, [tf.saved_model.SERVING], version_dir)
    self.signatures = dict(meta_graph.signature_def)

  def run(self, key: str, inputs: dict) -> dict:
    """{output alias: numpy value}; KeyError for an unknown input alias, ValueError for a
    missing one, tf.errors.OpError from the graph's own checks."""
    signature = self.signatures[key]
    unknown = sorted(set(inputs) - set(signature.inputs))
    if unknown:
      raise KeyError(f"input tensor alias not found in signature: {unknown[0]}. Inputs "
                     f"expected to be in the set {{{','.join(sorted(signature.inputs))}}}.")
    absent = sorted(set(signature.inputs) - set(inputs))
    if absent:
      raise ValueError(f"missing input(s) {','.join(absent)} of signature {key}")
    feeds = {}
    for alias, value in inputs.items():
      info = signature.inputs[alias]
      dtype = tf.dtypes.as_dtype(info.dtype)
      feeds[info.name] = (np.array(value, dtype=object) if dtype == tf.string
                          else np.asarray(value, dtype=dtype.as_numpy_dtype))
    fetches = {alias: info.name for alias, info in signature.outputs.items()}
    return self.session.run(fetches, feed_dict=feeds)


def _from_json(value):
  if isinstance(value, dict):
    return base64.b64decode(value["b64"])
  return [_from_json(item) for item in value] if isinstance(value, list) else value


def _to_json(name: str, value):
  value = np.asarray(value)
  if value.dtype == object or value.dtype.kind == "S":
    items = value.tolist() if value.ndim else [value.item()]
    out = [{"b64": base64.b64encode(item).decode()} if name.endswith("_bytes")
           else item.decode() for item in items]
    return out if value.ndim else out[0]
  return value.tolist()


def _error_message(error: Exception) -> str:
  """The error as TF Serving reports it: the op's status message, without the
  "Graph execution error:" heading that Python's session adds or the node trace."""
  message = getattr(error, "message", None) or (str(error.args[0]) if error.args else "")
  lines = [line.strip() for line in message.strip().splitlines()]
  kept = [line for line in lines
          if line and line != "Graph execution error:" and not line.startswith("[[")]
  return " ".join(kept) or type(error).__name__


def make_handler(model_name: str, runner: SignatureRunner):
  class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
      pass

    def reply(self, code, body):
      data = json.dumps(body).encode()
      self.send_response(code)
      self.send_header("Content-Type", "application/json")
      self.send_header("Content-Length", str(len(data)))
      self.end_headers()
      self.wfile.write(data)

    def do_POST(self):
      body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
      if self.path != f"/v1/models/{model_name}:predict":
        name = self.path.split("/")[3].split(":")[0]
        return self.reply(404, {"error": f"Servable not found for request: Latest({name})"})
      key = body.get("signature_name", "serving_default")
      if key not in runner.signatures:
        return self.reply(400, {"error": f'Serving signature name: "{key}" not found in '
                                         "signature def"})
      try:
        outputs = runner.run(key, {k: _from_json(v) for k, v in body["inputs"].items()})
      except (KeyError, ValueError, tf.errors.OpError) as error:
        return self.reply(400, {"error": _error_message(error)})
      named = {k: _to_json(k, v) for k, v in outputs.items()}
      # TF Serving's columnar format drops the name of a signature's only output.
      self.reply(200, {"outputs": next(iter(named.values())) if len(named) == 1 else named})

  return Handler


def main(argv) -> None:
  model_name, version_dir, port_file = argv[1:4]
  runner = SignatureRunner(version_dir)
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(model_name, runner))
  with open(port_file + ".tmp", "w") as f:  # Renamed: a reader never sees half a number.
    f.write(str(server.server_address[1]))
  os.replace(port_file + ".tmp", port_file)
  server.serve_forever()


if __name__ == "__main__":
  main(sys.argv)
