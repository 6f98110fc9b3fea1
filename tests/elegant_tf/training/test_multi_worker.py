"""--strategy=multi_worker with two worker processes on 127.0.0.1 (TF_CONFIG), bounded in time."""

import dataclasses
import json
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from elegant_tf import train
from elegant_tf.training import checkpointing
from elegant_tf.training import train_config
from elegant_tf.training import train_lib
from pipelines import data_spec
from pipelines import pairs
from tests import helpers

SMOKE = helpers.SMOKE_FLAGS
TIMEOUT = 300


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _start_workers(run_dir, extra_flags=(), ports=None):
  ports = ports or _free_ports(2)
  workers = []
  for index in range(2):
    env = helpers.subprocess_env(TF_CONFIG=json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
        "task": {"type": "worker", "index": index}}))
    workers.append(subprocess.Popen(
        [sys.executable, "-m", "elegant_tf.train", f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
         "--strategy=multi_worker", "--export_dir=", "--eval_pairs=0", *extra_flags],
        cwd=helpers.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  return workers, ports


def _finish(workers):
  outputs = []
  for worker in workers:
    try:
      out, err = worker.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
      for w in workers:
        w.kill()
      raise
    outputs.append((worker.returncode, out, err))
  return outputs


def _digest(stdout):
  return re.search(r"weights sha256=([0-9a-f]+)", stdout).group(1)


def _single_process_weights(config):
  """One process, one device, fed the two workers' shards concatenated: the same global batch."""
  source = data_spec.open_source(config.data, config.image_size, seed=config.seed)
  # As in train_lib.train: the global seed is set before the datasets exist
  # (tf.data shuffle seeds combine the op seed with the global one).
  tf.keras.utils.set_random_seed(config.seed)
  shards = [pairs.attribute_pairs(source, config.attributes, config.batch_size // 2,
                                  seed=config.seed, shard_index=k, num_shards=2)
            for k in range(2)]
  global_batches = tf.data.Dataset.zip(*shards).map(
      lambda a, b: {key: tf.concat([a[key], b[key]], axis=0) for key in a})
  gan = train_lib.build_gan(config)
  gan.fit(global_batches, steps_per_epoch=config.train_steps, epochs=1, verbose=0, shuffle=False)
  return [v.numpy() for v in gan.generator.weights + gan.discriminator_variables]


@pytest.mark.slow
def test_two_workers_stay_identical_and_match_one_process(tmp_path):
  run_dir = tmp_path / "run"
  workers, _ = _start_workers(run_dir)
  (code0, out0, err0), (code1, out1, err1) = _finish(workers)
  assert code0 == 0, err0[-3000:]
  assert code1 == 0, err1[-3000:]
  assert _digest(out0) == _digest(out1)
  # Only the chief wrote the run directory.
  assert (run_dir / "samples" / "latest.png").exists() and (run_dir / "flags.txt").exists()
  assert "sample grid" in out0 and "sample grid" not in out1

  config = train_config.TrainConfig.from_flagfile(str(run_dir / "flags.txt"))
  config = dataclasses.replace(config, strategy="default", run_dir=str(tmp_path / "single"))
  expected = _single_process_weights(config)
  chief = train_lib.build_gan(config)
  assert checkpointing.restore_latest(
      checkpointing.checkpoint_manager(chief, str(run_dir))) == config.train_steps
  for a, b in zip([v.numpy() for v in chief.generator.weights + chief.discriminator_variables],
                  expected):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_killed_worker_then_restarted_job_resumes_from_the_checkpoint(tmp_path):
  run_dir = tmp_path / "run"
  flags = ("--train_steps=10", "--checkpoint_every=2", "--sample_every=1000")
  workers, ports = _start_workers(run_dir, flags)
  index = run_dir / "checkpoints" / "checkpoint"
  deadline = time.time() + TIMEOUT
  while not index.exists() and time.time() < deadline and workers[0].poll() is None:
    time.sleep(0.2)
  assert index.exists(), workers[0].communicate()[1][-3000:] if workers[0].poll() else "timeout"
  workers[1].send_signal(signal.SIGKILL)  # A lost worker...
  time.sleep(1.0)
  workers[0].kill()  # ...and the launcher restarts the whole job, as it must.
  for worker in workers:
    worker.communicate()
  restarted, _ = _start_workers(run_dir, flags, ports)
  (code0, out0, err0), (code1, out1, err1) = _finish(restarted)
  assert code0 == 0, err0[-3000:]
  assert code1 == 0, err1[-3000:]
  assert "resuming" in err0 and "resuming" in err1
  assert "to step 10" in out0 and _digest(out0) == _digest(out1)


def test_malformed_tf_config_fails_at_start(tmp_path, monkeypatch, capsys):
  # In this process: the cluster is checked before any strategy exists.
  monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}}')
  result = helpers.run_in_process(train.run, f"--flagfile={SMOKE}",
                                  f"--run_dir={tmp_path / 'run'}", "--strategy=multi_worker",
                                  capsys=capsys)
  assert result.returncode == 2
  assert "TF_CONFIG has no 'task'" in result.stderr
  assert not (tmp_path / "run").exists()
