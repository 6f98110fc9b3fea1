import json

import pytest

from elegant_tf.training import cluster

TWO_WORKERS = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
               "task": {"type": "worker", "index": 1}}


def test_worker_zero_is_chief_without_a_chief_task():
  info = cluster.parse_tf_config(json.dumps(TWO_WORKERS))
  assert (info.num_workers, info.is_chief, info.name) == (2, False, "worker:1")
  zero = dict(TWO_WORKERS, task={"type": "worker", "index": 0})
  assert cluster.parse_tf_config(json.dumps(zero)).is_chief


def test_explicit_chief_counts_as_a_worker_and_is_chief():
  config = {"cluster": {"chief": ["h:1"], "worker": ["h:2"]}, "task": {"type": "chief", "index": 0}}
  info = cluster.parse_tf_config(json.dumps(config))
  assert info.is_chief and info.num_workers == 2
  config["task"] = {"type": "worker", "index": 0}
  assert not cluster.parse_tf_config(json.dumps(config)).is_chief


@pytest.mark.parametrize("text, message", [
    ("", "^the multi_worker strategy needs the TF_CONFIG environment variable"),
    ("{not json", "not valid JSON"),
    (json.dumps({"cluster": TWO_WORKERS["cluster"]}), "has no 'task'"),
    (json.dumps({"task": {"type": "worker", "index": 0}}), "has no 'cluster'"),
    (json.dumps(dict(TWO_WORKERS, task={"type": "worker", "index": 2})), "index 2 is out of range"),
    (json.dumps(dict(TWO_WORKERS, task={"type": "ps", "index": 0})), "'ps' is not in the cluster"),
    (json.dumps(dict(TWO_WORKERS, task={"type": "worker", "index": "0"})), "must be an integer"),
    (json.dumps({"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}), "valid: chief"),
    (json.dumps({"cluster": {"worker": ["nohostport"]}, "task": {"type": "worker", "index": 0}}),
     "list of 'host:port'"),
])
def test_malformed_tf_config_names_the_problem(text, message):
  with pytest.raises(cluster.ClusterError, match=message):
    cluster.parse_tf_config(text)
