"""What hostile requests cost the web page's server: memory, threads, answers.

  python -m elegant_tf.benchmarks.web_bombs [--body_mb=1024] [--half_sent=300]
      [--uploads=8 --upload_mb=23] [--read_timeout=20]

Serves `demo_server` over a stub model (no edit runs: every request here is refused
before one would) in a spawned process on 127.0.0.1, and prints:
- a body of --body_mb sent with `Content-Length: -1`: the answer and the server's peak
  resident memory (VmHWM) before and after;
- --half_sent requests whose headers never end: the server's threads while they are
  open, and how many it has closed --read_timeout + 5 s later;
- --uploads clients posting a --upload_mb photo (as base64 JSON) at once: their
  answers and the peak memory.
Linux only (it reads /proc/PID/status). All traffic stays on 127.0.0.1.
"""

import base64
import http.client
import json
import multiprocessing
import os
import socket
import threading
import time
import types

from absl import flags

from pipelines import usage

FLAGS = flags.FLAGS


def define_flags() -> None:
  flags.DEFINE_integer("body_mb", 1024, "Megabytes sent after Content-Length: -1.")
  flags.DEFINE_integer("half_sent", 300, "Requests opened whose headers never end.")
  flags.DEFINE_integer("uploads", 8, "Clients posting an upload at once.")
  flags.DEFINE_integer("upload_mb", 23, "Size of each upload (random bytes, not an image).")
  flags.DEFINE_float("read_timeout", 20.0, "The server's read timeout, seconds.")


def _serve(ports, read_timeout: float) -> None:
  """In the spawned process: the server over a stub model, its port put on `ports`."""
  # Deferred: only the spawned server process loads TensorFlow; the parent measures it.
  from elegant_tf.apps import demo_server
  model = types.SimpleNamespace(attribute_names=["Eyeglasses"], image_size=64)
  server = demo_server.make_server(demo_server.DemoApp(model, samples=[]), "127.0.0.1", 0,
                                   read_timeout=read_timeout)
  ports.put(server.server_address[1])
  server.serve_forever()


def _status(pid: int) -> dict:
  with open(f"/proc/{pid}/status") as f:
    return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _peak_mb(pid: int) -> float:
  return int(_status(pid)["VmHWM"].split()[0]) / 1024


def _status_line(connection: socket.socket) -> str:
  try:
    return connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1") or "closed, no answer"
  except OSError as error:
    return f"no answer ({error.strerror or error})"


def endless_body(port: int, pid: int, megabytes: int) -> None:
  before = _peak_mb(pid)
  with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
    connection.sendall(f"POST /api/transfer HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       "Content-Type: application/json\r\nContent-Length: -1\r\n\r\n".encode())
    chunk, sent = b" " * (1 << 20), 0
    try:
      for _ in range(megabytes):
        connection.sendall(chunk)
        sent += 1
      connection.shutdown(socket.SHUT_WR)
    except OSError:
      pass  # The server closed: what it answered is still to be read.
    answer = _status_line(connection)
  print(f"Content-Length: -1, {sent} of {megabytes} MB taken: {answer!r}; peak RSS "
        f"{before:.0f} -> {_peak_mb(pid):.0f} MB")


def half_sent_requests(port: int, pid: int, count: int, read_timeout: float) -> None:
  resting = int(_status(pid)["Threads"])
  connections = []
  for _ in range(count):
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
    connections.append(connection)
  time.sleep(2)
  open_threads = int(_status(pid)["Threads"])
  time.sleep(read_timeout + 5)
  ended = 0
  for connection in connections:
    connection.setblocking(False)
    try:
      connection.recv(4096)  # An answer or the end of the stream: the server let go.
      ended += 1
    except BlockingIOError:
      pass  # Still held open.
    except OSError:
      ended += 1  # Reset.
    connection.close()
  print(f"{count} half-sent requests: server threads {resting} -> {open_threads}; "
        f"{ended} answered or closed {read_timeout + 5:g} s later")


def concurrent_uploads(port: int, pid: int, count: int, megabytes: int) -> None:
  photo = {"upload": base64.b64encode(os.urandom(megabytes << 20)).decode(), "name": "big.jpg"}
  body = json.dumps({"a": photo, "b": {"sample": 0}, "attributes": ["Eyeglasses"]}).encode()
  before, answers = _peak_mb(pid), []

  def post():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
      connection.request("POST", "/api/transfer", body, {"Content-Type": "application/json"})
      answers.append(str(connection.getresponse().status))
    except OSError as error:
      answers.append(type(error).__name__)
    finally:
      connection.close()

  clients = [threading.Thread(target=post) for _ in range(count)]
  for client in clients:
    client.start()
  for client in clients:
    client.join(600)
  tally = ", ".join(f"{answers.count(a)} x {a}" for a in sorted(set(answers)))
  print(f"{count} uploads of {megabytes} MB at once: {tally}; peak RSS {before:.0f} -> "
        f"{_peak_mb(pid):.0f} MB")


def main(argv) -> None:
  usage.check_no_arguments(argv)
  context = multiprocessing.get_context("spawn")
  ports = context.Queue()
  server = context.Process(target=_serve, args=(ports, FLAGS.read_timeout), daemon=True)
  server.start()
  try:
    port = ports.get(timeout=300)
    endless_body(port, server.pid, FLAGS.body_mb)
    half_sent_requests(port, server.pid, FLAGS.half_sent, FLAGS.read_timeout)
    concurrent_uploads(port, server.pid, FLAGS.uploads, FLAGS.upload_mb)
  finally:
    server.terminate()
    server.join(30)


if __name__ == "__main__":
  define_flags()
  usage.run("web_bombs", main)
