"""The web server benchmark on small inputs: it runs, and each line says what was refused."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.slow  # A spawned server process and two timeouts: about 40 s.
def test_small_bombs_are_refused_and_reported():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO)
  result = subprocess.run(
      [sys.executable, "-m", "elegant_tf.benchmarks.web_bombs", "--body_mb=4", "--half_sent=20",
       "--uploads=3", "--upload_mb=1", "--read_timeout=1"],
      capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  endless, half_sent, uploads = result.stdout.strip().splitlines()
  assert endless.startswith("Content-Length: -1,") and "400 Bad Request" in endless
  assert half_sent.startswith("20 half-sent requests:") and "20 answered or closed" in half_sent
  # One edits (a random "photo": 400), one waits for it or is read after it, or is refused.
  assert uploads.startswith("3 uploads of 1 MB at once:") and "400" in uploads, uploads
