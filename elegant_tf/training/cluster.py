"""Who this process is in a multi-worker job, read from the standard TF_CONFIG variable.

TF_CONFIG is what Kubernetes operators, Vertex AI and Slurm launchers set:
{"cluster": {"worker": ["host:port", ...], "chief": [...]?}, "task": {"type": "worker", "index": 0}}.
It is checked here, before TensorFlow reads it, so a malformed one fails at
start with a message naming the problem instead of hanging or crashing later.
"""

import dataclasses
import json
import os

TASK_TYPES = ("chief", "worker")


class ClusterError(ValueError):
  """TF_CONFIG is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class ClusterInfo:
  task_type: str
  task_index: int
  num_workers: int  # Processes that train: chief (if any) + workers.
  has_chief_task: bool = False

  @property
  def is_chief(self) -> bool:
    """The chief writes; without a 'chief' task, worker 0 is the chief."""
    return self.task_type == "chief" or (self.task_type == "worker" and self.task_index == 0
                                         and not self.has_chief_task)

  @property
  def name(self) -> str:
    return f"{self.task_type}:{self.task_index}"


def parse_tf_config(text) -> ClusterInfo:
  """Parse and check a TF_CONFIG string; raise ClusterError naming the problem."""
  if not text:
    raise ClusterError("the multi_worker strategy needs the TF_CONFIG environment variable "
                       '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                       '"task": {"type": "worker", "index": 0}})')
  try:
    config = json.loads(text)
  except json.JSONDecodeError as error:
    raise ClusterError(f"TF_CONFIG is not valid JSON: {error}") from error
  if not isinstance(config, dict):
    raise ClusterError("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
  cluster, task = config.get("cluster"), config.get("task")
  if not isinstance(cluster, dict) or not cluster:
    raise ClusterError("TF_CONFIG has no 'cluster' (a map of task type to host:port lists)")
  if not isinstance(task, dict):
    raise ClusterError("TF_CONFIG has no 'task' ({\"type\": \"worker\", \"index\": N})")
  unknown = sorted(set(cluster) - set(TASK_TYPES))
  if unknown:
    raise ClusterError(f"TF_CONFIG cluster has task types {unknown} that this trainer does not "
                       f"run; valid: {', '.join(TASK_TYPES)}")
  for kind, addresses in cluster.items():
    if not isinstance(addresses, list) or not addresses or not all(
        isinstance(a, str) and ":" in a for a in addresses):
      raise ClusterError(f"TF_CONFIG cluster[{kind!r}] must be a non-empty list of 'host:port'")
  if len(cluster.get("chief", [])) > 1:
    raise ClusterError("TF_CONFIG may have at most one chief")
  task_type, task_index = task.get("type"), task.get("index")
  if task_type not in cluster:
    raise ClusterError(f"TF_CONFIG task type {task_type!r} is not in the cluster "
                       f"({', '.join(cluster)})")
  if not isinstance(task_index, int) or isinstance(task_index, bool):
    raise ClusterError(f"TF_CONFIG task index must be an integer, got {task_index!r}")
  if not 0 <= task_index < len(cluster[task_type]):
    raise ClusterError(f"TF_CONFIG task index {task_index} is out of range: the cluster has "
                       f"{len(cluster[task_type])} {task_type} task(s)")
  num_workers = sum(len(cluster.get(kind, [])) for kind in TASK_TYPES)
  return ClusterInfo(task_type, task_index, num_workers, has_chief_task="chief" in cluster)


def from_environment() -> ClusterInfo:
  return parse_tf_config(os.environ.get("TF_CONFIG", ""))
