"""Serve the local web page: two photos, attributes and strength in; edited photos out.

  python -m elegant_tf.demo --model=saved_models/elegant_demo [--port=7860] [--host=127.0.0.1]

Then open http://127.0.0.1:7860/ . The work is in elegant_tf/apps/demo_server.py. A model
that cannot be loaded or a port that cannot be bound prints one line and exits with
status 2; bad photos are reported on the page and the server keeps running.
"""

from absl import flags

from elegant_tf.apps import demo_server
from elegant_tf.inference import model_loading
from pipelines import usage


def define_flags() -> None:
  """Defined when the command runs: importing defines no flags."""
  flags.DEFINE_string("model", None,
                      "Trained model: SavedModel model folder (newest version) or version "
                      "folder, a .tflite file, or a training run directory (newest checkpoint).")
  flags.DEFINE_string("host", "127.0.0.1", "Address to listen on (0.0.0.0: every interface; "
                      "the page has no login, so only on a network you trust; open it there "
                      "by IP address: other host names are refused, against DNS rebinding).")
  flags.DEFINE_integer("port", 7860, "Port to listen on (0: any free port, printed).")
  flags.DEFINE_bool("verbose", False, "Log every HTTP request to stderr.")
  usage.require_flags("model")


def main(argv):
  flag_values = flags.FLAGS
  usage.check_no_arguments(argv)
  if not 0 <= flag_values.port <= 65535:
    raise usage.UsageError(f"--port={flag_values.port} must be in [0, 65535]")
  try:
    model = model_loading.load(flag_values.model)
  except model_loading.ModelFileError as error:
    raise usage.for_flag("model", error) from error
  try:
    server = demo_server.make_server(demo_server.DemoApp(model), flag_values.host,
                                     flag_values.port, verbose=flag_values.verbose)
  except OSError as error:
    raise usage.UsageError(f"cannot listen on {flag_values.host}:{flag_values.port}: "
                           f"{error.strerror or error}") from error
  host, port = server.server_address[:2]
  print(f"serving {model.source} ({', '.join(model.attribute_names)}) on "
        f"http://{host}:{port}/  (Ctrl-C to stop)", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


def run():
  """Entry point of `python -m elegant_tf.demo` and the elegant-demo console script."""
  define_flags()
  usage.run("demo", main)


if __name__ == "__main__":
  run()
