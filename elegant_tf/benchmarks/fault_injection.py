"""Fault injection: kill training with SIGKILL at random points and resume each time.

Usage: python -m elegant_tf.benchmarks.fault_injection [--kills=10] [--seed=0]
       [--train_steps=5000] [--checkpoint_every=5] [--min_wait=8] [--max_wait=30]
       [--final_timeout=300] [--run_dir=DIR] [--keep]

Trains elegant_tf/configs/smoke.flags (with more steps) in a subprocess, kills it
with SIGKILL after a random wait, then resumes with `--run_dir=DIR` alone, --kills
times. Prints one row per kill: the step of the
newest ckpt-N file before the kill, the step the resumed run started from (its
"resuming ... from step N" log line; 0 if it started over), the steps lost between
the two, checkpoints it reported skipping as damaged, whether the resume
succeeded (it restored and then either ran until the next kill or finished with
status 0; the last resume is stopped once it writes a newer checkpoint), and the half-written files (.incomplete-*, *.tmp*) found right after
the kill and at the end. Not a test: it takes minutes and the kill points are
random.
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from absl import flags

from pipelines import usage

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE_FLAGS = os.path.join(REPO, "elegant_tf", "configs", "smoke.flags")
_CHECKPOINT = re.compile(r"ckpt-(\d+)\.index$")
_RESUMING = re.compile(r"resuming .* from step (\d+)")
_SKIPPED = re.compile(r"skipped checkpoint (\S+)")


def define_flags():
  flags.DEFINE_integer("kills", 10, "Kills, each followed by a resume.")
  flags.DEFINE_integer("seed", 0, "Seed of the random waits before the kills.")
  flags.DEFINE_integer("train_steps", 5000,
                       "Long enough that no kill comes after the end of training.")
  flags.DEFINE_integer("checkpoint_every", 5, "Steps between checkpoints of the run.")
  flags.DEFINE_float("min_wait", 8.0,
                     "Shortest wait before a kill, in seconds (TF starts in ~5 s).")
  flags.DEFINE_float("max_wait", 30.0, "Longest wait before a kill, in seconds.")
  flags.DEFINE_float("final_timeout", 300.0,
                     "Seconds the last resume may take to write a newer checkpoint.")
  flags.DEFINE_string("run_dir", None, "Default: a new temporary folder.")
  flags.DEFINE_bool("keep", False, "Keep the temporary run folder.")


FLAGS = flags.FLAGS


def newest_checkpoint_step(run_dir: str) -> int:
  """Step of the newest ckpt-N.index under run_dir/checkpoints (0 if none)."""
  directory = os.path.join(run_dir, "checkpoints")
  if not os.path.isdir(directory):
    return 0
  steps = [int(m.group(1)) for m in map(_CHECKPOINT.search, os.listdir(directory)) if m]
  return max(steps, default=0)


def half_written_files(run_dir: str) -> list:
  """Relative paths of temporary files a killed writer may leave behind."""
  found = []
  for folder, _, names in os.walk(run_dir):
    for name in names:
      if name.startswith(".incomplete-") or ".tmp" in name:
        found.append(os.path.relpath(os.path.join(folder, name), run_dir))
  return sorted(found)


def launch(args: list, log_path: str) -> subprocess.Popen:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
  with open(log_path, "w") as log:
    return subprocess.Popen([sys.executable, "-m", "elegant_tf.train", *args], cwd=REPO,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def read_log(log_path: str) -> str:
  with open(log_path, errors="replace") as f:
    return f.read()


def main(argv) -> int:
  usage.check_no_arguments(argv)
  if FLAGS.kills < 1 or not 0 < FLAGS.min_wait <= FLAGS.max_wait:
    raise usage.UsageError("need --kills >= 1 and 0 < --min_wait <= --max_wait")
  temporary = None if FLAGS.run_dir else tempfile.mkdtemp(prefix="fault_injection_")
  run_dir = FLAGS.run_dir or os.path.join(temporary, "run")
  rng = random.Random(FLAGS.seed)
  first = [f"--flagfile={SMOKE_FLAGS}", f"--run_dir={run_dir}", "--export_dir=",
           f"--train_steps={FLAGS.train_steps}",
           f"--checkpoint_every={FLAGS.checkpoint_every}",
           f"--sample_every={FLAGS.train_steps}", f"--log_every={FLAGS.checkpoint_every}"]
  rows = []
  try:
    log_dir = temporary or tempfile.mkdtemp(prefix="fault_injection_logs_")
    process = launch(first, os.path.join(log_dir, "launch_0.log"))
    for kill in range(FLAGS.kills):
      wait = rng.uniform(FLAGS.min_wait, FLAGS.max_wait)
      try:
        process.wait(timeout=wait)
        finished_early = True
      except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        finished_early = False
      before = newest_checkpoint_step(run_dir)
      leftovers = half_written_files(run_dir)
      log_path = os.path.join(log_dir, f"launch_{kill + 1}.log")
      process = launch([f"--run_dir={run_dir}"], log_path)
      last = kill == FLAGS.kills - 1
      stopped_at = 0
      # Wait for the resumed run to say where it starts (or to end).
      deadline = time.monotonic() + (FLAGS.final_timeout if last else 300)
      started = None
      while time.monotonic() < deadline and process.poll() is None:
        match = _RESUMING.search(read_log(log_path))
        if match:
          started = int(match.group(1))
          break
        time.sleep(0.5)
      if last:
        # The last resume must restore and write a newer checkpoint (or finish); then
        # it is stopped, so the benchmark does not wait for the whole run.
        while (time.monotonic() < deadline and process.poll() is None
               and newest_checkpoint_step(run_dir) <= (started or 0)):
          time.sleep(0.5)
        if process.poll() is None:
          os.kill(process.pid, signal.SIGKILL)
          process.wait()
          stopped_at = newest_checkpoint_step(run_dir)
      log = read_log(log_path)
      match = _RESUMING.search(log)
      started = int(match.group(1)) if match else (started or 0)
      exited = process.poll()
      if last and exited == -signal.SIGKILL:
        exited = None if stopped_at > started else exited  # Stopped after progressing.
      succeeded = bool(match) and (exited is None or exited == 0)
      rows.append({
          "kill": kill + 1, "wait": wait, "before": before, "started": started,
          "lost": before - started, "damaged": len(_SKIPPED.findall(log)),
          "succeeded": succeeded if before else None, "exit": exited,
          "early": finished_early,
          "leftovers": leftovers})
    final_leftovers = half_written_files(run_dir)
    final_step = newest_checkpoint_step(run_dir)
  finally:
    if process.poll() is None:
      os.kill(process.pid, signal.SIGKILL)
      process.wait()

  print(f"run dir: {run_dir}; logs: {log_dir}")
  print(f"{'kill':>4} {'wait s':>6} {'ckpt before':>11} {'resumed at':>10} {'lost':>5} "
        f"{'damaged':>7} {'resume ok':>9} {'exit':>5} half-written after the kill")
  for row in rows:
    ok = "n/a" if row["succeeded"] is None else ("yes" if row["succeeded"] else "NO")
    note = " (run ended before the kill)" if row["early"] else ""
    print(f"{row['kill']:>4} {row['wait']:>6.1f} {row['before']:>11} {row['started']:>10} "
          f"{row['lost']:>5} {row['damaged']:>7} {ok:>9} {str(row['exit']):>5} "
          f"{', '.join(row['leftovers']) or 'none'}{note}")
  attempted = [row for row in rows if row["succeeded"] is not None]
  print(f"\nresumes that succeeded: {sum(row['succeeded'] for row in attempted)} of "
        f"{len(attempted)} (kills before the first checkpoint have nothing to resume)")
  print(f"checkpoints that failed to restore (skipped as damaged): "
        f"{sum(row['damaged'] for row in rows)}")
  print(f"steps lost per kill: {[row['lost'] for row in rows]}")
  print(f"newest checkpoint at the end: step {final_step} of {FLAGS.train_steps}")
  print(f"half-written files left at the end: {', '.join(final_leftovers) or 'none'}")
  if temporary and not FLAGS.keep:
    shutil.rmtree(temporary, ignore_errors=True)
  return 0


if __name__ == "__main__":
  define_flags()
  usage.run("fault_injection", main)
