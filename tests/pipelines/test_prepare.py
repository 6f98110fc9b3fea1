"""prepare: shards written atomically, resumed after interruption, same result."""

import os

import numpy as np

from pipelines import celeba
from pipelines import prepare
from pipelines import tfrecord
from tests.pipelines import fixtures


def test_interrupted_run_resumes(tmp_path):
  root, out = str(tmp_path / "celeba"), str(tmp_path / "out")
  fixtures.make_celeba(root, num_good=18)
  spec = f"celeba:{root}"
  assert prepare.prepare(celeba.open_source(root, 32), spec, out, examples_per_shard=5,
                         stop_after_shards=2, verbose=False) is None
  first = sorted(os.listdir(out))
  assert "manifest.json" not in first
  assert [n for n in first if n.endswith(".tfrecord")] == ["train-00000.tfrecord", "train-00001.tfrecord"]
  # A crash mid-shard leaves a temporary file; the resumed run must remove it.
  open(os.path.join(out, "train-00002.tfrecord.tmp-999"), "wb").write(b"partial")
  stamp = os.path.getmtime(os.path.join(out, "train-00000.tfrecord"))
  manifest = prepare.prepare(celeba.open_source(root, 32), spec, out, examples_per_shard=5,
                             verbose=False)
  assert os.path.getmtime(os.path.join(out, "train-00000.tfrecord")) == stamp  # Not rewritten.
  assert not [n for n in os.listdir(out) if ".tmp-" in n]
  assert manifest["skipped"]["corrupt or truncated image"] == 1
  source = tfrecord.open_source(out, 32)
  reference = celeba.open_source(root, 32)
  bad = {"truncated.jpg", "garbage.jpg", "outside.jpg", "tiny.jpg"}
  for split in ("train", "val", "test"):
    want = [k for k in reference.keys(split) if k not in bad]
    assert source.keys(split) == want
    rows = [reference.keys(split).index(k) for k in want]
    np.testing.assert_array_equal(source.labels(split), reference.labels(split)[rows])
  assert source.skipped_counts()["corrupt or truncated image"] == 1
