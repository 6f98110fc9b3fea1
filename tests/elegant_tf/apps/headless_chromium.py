"""Drive headless Chromium through chromedriver's W3C WebDriver HTTP API (standard library).

A few endpoints are all the page tests need (open a URL, find, click, type a file path,
run a script, take a screenshot), so no client package: urllib speaks WebDriver's JSON.
Chromium and chromedriver come from the system (Debian: `apt-get install chromium
chromium-driver`); `missing()` says why a test must skip when they are not there.
"""

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Optional

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# The flags that keep Chromium from hanging on a closed network (background fetches,
# component updates, QUIC probes) and from needing a display, GPU or sandbox.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000")
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # The W3C key of an element reference.


def browser_path() -> Optional[str]:
  for name in BROWSERS:
    path = shutil.which(name)
    if path:
      return path
  return None


def missing() -> Optional[str]:
  """Why a browser test cannot run here, or None when it can."""
  if browser_path() is None:
    return "no Chromium found (" + ", ".join(BROWSERS) + "); apt-get install chromium"
  if shutil.which("chromedriver") is None:
    return "no chromedriver found; apt-get install chromium-driver"
  return None


def free_port() -> int:
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    return probe.getsockname()[1]


class WebDriverError(RuntimeError):
  pass


class Browser:
  """One headless Chromium session; use as a context manager."""

  def __init__(self, start_timeout: float = 60.0):
    self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
    port = free_port()
    self._url = f"http://127.0.0.1:{port}"
    self._driver = subprocess.Popen(["chromedriver", f"--port={port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    self._session = None
    try:
      deadline = time.monotonic() + start_timeout
      while not self._ready():
        if self._driver.poll() is not None or time.monotonic() > deadline:
          raise WebDriverError("chromedriver did not start")
        time.sleep(0.1)
      options = {"binary": browser_path(),
                 "args": list(CHROMIUM_FLAGS) + [f"--user-data-dir={self._profile}"]}
      answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
          "browserName": "chrome", "goog:chromeOptions": options}}})
      self._session = answer["sessionId"]
    except BaseException:
      self.close()
      raise

  def _ready(self) -> bool:
    try:
      return bool(self._call("GET", "/status", timeout=2)["ready"])
    except (OSError, WebDriverError):
      return False

  def _call(self, method: str, path: str, body=None, timeout: float = 120):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(self._url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
      with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
      answer = json.loads(error.read() or b"{}")
      value = answer.get("value") or {}
      raise WebDriverError(f"{method} {path}: {value.get('error')}: "
                           f"{(str(value.get('message', '')).splitlines() or [''])[0]}") from error
    return answer["value"]

  def _in_session(self, method: str, path: str, body=None):
    return self._call(method, f"/session/{self._session}{path}", body)

  def open(self, url: str) -> None:
    self._in_session("POST", "/url", {"url": url})

  def find(self, css: str) -> str:
    return self._in_session("POST", "/element", {"using": "css selector", "value": css})[_ELEMENT]

  def click(self, css: str) -> None:
    self._in_session("POST", f"/element/{self.find(css)}/click", {})

  def type(self, css: str, text: str) -> None:
    """Send keys; on <input type=file> the text is the path of the file to choose."""
    self._in_session("POST", f"/element/{self.find(css)}/value", {"text": text})

  def script(self, source: str, *args):
    """Run `source` (a function body: `return ...`) in the page; its result, as JSON."""
    return self._in_session("POST", "/execute/sync", {"script": source, "args": list(args)})

  def wait_for(self, source: str, timeout: float = 300.0, poll: float = 0.2):
    """Poll a script until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
      value = self.script(source)
      if value:
        return value
      if time.monotonic() > deadline:
        raise WebDriverError(f"waited {timeout:g} s for: {source}")
      time.sleep(poll)

  def screenshot_png(self) -> bytes:
    return base64.b64decode(self._in_session("GET", "/screenshot"))

  def close(self) -> None:
    if self._session is not None:
      try:
        self._in_session("DELETE", "")
      except (OSError, WebDriverError):
        pass
      self._session = None
    if self._driver.poll() is None:
      self._driver.terminate()
      try:
        self._driver.wait(timeout=30)
      except subprocess.TimeoutExpired:
        self._driver.kill()
        self._driver.wait()
    shutil.rmtree(self._profile, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
