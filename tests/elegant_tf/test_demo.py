"""The demo command: it serves the page from `python -m`, and refuses a bad model."""

import http.client
import subprocess
import sys

import pytest

from elegant_tf import demo
from tests import helpers


def test_the_command_refuses_a_bad_model(tmp_path, capsys):
  bad = helpers.run_in_process(demo.run, f"--model={tmp_path}", capsys=capsys)
  assert bad.returncode == 2
  assert bad.stderr.strip().splitlines()[-1].startswith(f"demo: --model: {tmp_path} is neither")


@pytest.mark.slow
def test_the_command_serves_the_page():
  # A subprocess: the one test that the command runs from `python -m`.
  process = subprocess.Popen(
      [sys.executable, "-m", "elegant_tf.demo", f"--model={helpers.DEMO_MODEL}", "--port=0"],
      stdout=subprocess.PIPE, text=True, cwd=helpers.REPO, env=helpers.subprocess_env())
  try:
    line = process.stdout.readline()  # "serving ... on http://127.0.0.1:PORT/ ..."
    assert " on http://127.0.0.1:" in line, line
    port = int(line.split(" on http://127.0.0.1:")[1].split("/")[0])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/")
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200 and b'value="Mustache"' in body
  finally:
    process.terminate()
    process.wait(timeout=60)
