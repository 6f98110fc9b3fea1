"""The command line: smoke.flags end to end in a subprocess, resume after a kill, bad flags
(in this process: the same flag parsing and checks, no second TensorFlow)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from elegant_tf import train
from elegant_tf.models import precision
from tests import helpers
from tests.elegant_tf import tiny

SMOKE = helpers.SMOKE_FLAGS


def _train(*args):
  return helpers.run_module("elegant_tf.train", *args)


@pytest.mark.slow
def test_smoke_flags_train_export_sample_and_evaluate(tmp_path, capsys):
  # A subprocess: the test that the command runs from `python -m`.
  run_dir, export_dir = tmp_path / "run", tmp_path / "models" / "smoke"
  result = _train(f"--flagfile={SMOKE}", f"--run_dir={run_dir}", f"--export_dir={export_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "trained" in result.stdout and "to step 4" in result.stdout
  assert (export_dir / "1" / "saved_model.pb").exists()
  assert (run_dir / "samples" / "latest.png").stat().st_size > 100
  assert list((run_dir / "tensorboard" / "train").iterdir())
  assert "| Eyeglasses |" in result.stdout and "| Bangs |" in result.stdout
  flags_text = (run_dir / "flags.txt").read_text()
  assert "--image_size=32" in flags_text and "--attributes=Eyeglasses,Bangs" in flags_text
  # A second run (in this process) exports the next version, never overwriting the first.
  again = helpers.run_in_process(train.run, f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
                                 f"--export_dir={export_dir}", capsys=capsys)
  assert again.returncode == 0, again.stderr[-3000:]
  assert sorted(os.listdir(export_dir)) == ["1", "2"]


@pytest.mark.slow
def test_killed_run_resumes_with_run_dir_alone(tmp_path):
  run_dir = tmp_path / "run"
  process = subprocess.Popen(
      [sys.executable, "-m", "elegant_tf.train", f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
       "--train_steps=400", "--checkpoint_every=2", "--sample_every=1000", "--export_dir=",
       "--eval_pairs=0"],
      cwd=helpers.REPO, env=helpers.subprocess_env(), stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL)
  index = run_dir / "checkpoints" / "checkpoint"
  deadline = time.time() + 240
  while not index.exists() and time.time() < deadline and process.poll() is None:
    time.sleep(0.2)
  time.sleep(1.0)
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert index.exists(), "no checkpoint appeared before the kill"
  # How far the run got before the kill depends on the machine's speed, so the
  # target is read from the newest checkpoint (CheckpointManager numbers them by
  # step): resuming must train exactly 4 more steps from there.
  # A kill during a save leaves TensorFlow's "ckpt-N_temp" folder: count only
  # finished checkpoints, named by their index files.
  saved_step = max(int(match.group(1)) for match in (
      re.fullmatch(r"ckpt-(\d+)\.index", name) for name in os.listdir(run_dir / "checkpoints"))
      if match)
  target = saved_step + 4
  resumed = _train(f"--run_dir={run_dir}", f"--train_steps={target}")
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert "resuming" in resumed.stderr
  assert f"to step {target}" in resumed.stdout


@pytest.mark.parametrize("flag, message", [
    ("--attributes=Eyeglases", "did you mean 'Eyeglasses'"),
    ("--image_size=44", "multiple of 2**encoder_depth"),
    ("--batch_size=3 --strategy=mirrored --cpu_replicas=2", "divisible by the 2 replicas"),
    ("--data=imagenet:/x", "train: --data=imagenet:/x: unknown data kind 'imagenet'"),
    ("--attributes=Bangs,Bangs", "twice"),
])
def test_bad_settings_fail_before_any_work_naming_the_problem(tmp_path, capsys, flag, message):
  run_dir = tmp_path / "run"
  result = helpers.run_in_process(train.run, f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
                                  *flag.split(), capsys=capsys)
  assert result.returncode == 2
  assert message in result.stderr
  assert not (run_dir / "checkpoints").exists()


def test_unknown_flag_is_rejected(capsys):
  result = helpers.run_in_process(train.run, f"--flagfile={SMOKE}", "--image_sise=64",
                                  capsys=capsys)
  assert result.returncode != 0
  assert "image_sise" in result.stderr


@pytest.mark.slow
def test_run_starts_with_one_line_naming_strategy_devices_and_precision(tmp_path, capsys):
  run_dir = tmp_path / "run"
  result = helpers.run_in_process(train.run, f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
                                  "--train_steps=2", "--export_dir=", "--eval_pairs=0",
                                  "--precision=auto", capsys=capsys)
  assert result.returncode == 0, result.stderr[-3000:]
  first = result.stdout.splitlines()[0]
  # auto resolves per machine: bfloat16 with amx_bf16/avx512_bf16 or a bf16 GPU.
  assert re.fullmatch(r"strategy=default \(\w+\) replicas=1 devices=\S+ "
                      r"precision=(float32|mixed_bfloat16) \(auto: .+\)", first), first
  assert "--precision=auto\n" in (run_dir / "flags.txt").read_text()


def test_unknown_precision_is_rejected(tmp_path, capsys):
  bad = helpers.run_in_process(train.run, f"--flagfile={SMOKE}", f"--run_dir={tmp_path / 'run'}",
                               "--precision=bf16", capsys=capsys)
  assert bad.returncode != 0 and "precision" in bad.stderr


def test_the_end_of_run_exports_and_evaluates_one_float32_twin(tmp_path, monkeypatch):
  # A bf16 run's generator is copied to float32 once; the export and the evaluation
  # both get that copy (they used to get a copy each, or the bf16 network itself).
  config = tiny.tiny_config(tmp_path, precision="mixed_bfloat16",
                            export_dir=str(tmp_path / "export"), eval_pairs=2)
  with precision.policy_scope("mixed_bfloat16"):
    generator = tiny.untrained_generator()
  received, copied = [], []
  float32_copy = precision.float32_copy
  monkeypatch.setattr(precision, "float32_copy",
                      lambda network: copied.append(network) or float32_copy(network))
  monkeypatch.setattr(train.export_lib, "export_trained",
                      lambda network, source, config: received.append(network) or "export")
  monkeypatch.setattr(train.ground_truth_eval, "write_run_evaluation",
                      lambda network, source, config: received.append(network) or {})
  result = train.end_of_run(config)(generator, None)
  assert result == {"export": "export", "evaluation": {}}
  assert copied == [generator] and len(received) == 2 and received[0] is received[1]
  assert precision.compute_dtype(received[0]) == "float32"
