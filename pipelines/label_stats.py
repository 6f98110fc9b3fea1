"""Warnings about chosen attributes whose labels fight each other in the data.

ELEGANT swaps one attribute between an image that has it and one that lacks it.
If two chosen attributes never occur together (hair colours), or almost always
do, their latent slabs cannot be told apart from the data alone: say so before
a long run instead of after it.
"""

from typing import Sequence

import numpy as np

# Share of co-occurrence above which two attributes count as "nearly always together".
TOGETHER_THRESHOLD = 0.95


def attribute_warnings(labels: np.ndarray, names: Sequence[str],
                       together_threshold: float = TOGETHER_THRESHOLD) -> list:
  """Return human-readable warnings for pairs of columns of `labels` (0/1, [N, len(names)]).

  Mutually exclusive: both have positives but no example has both.
  Nearly always together: of the examples having either, at least
  `together_threshold` have both (Jaccard index), so one never appears alone.
  """
  labels = np.asarray(labels).astype(bool)
  if labels.ndim != 2 or labels.shape[1] != len(names):
    raise ValueError(f"labels of shape {labels.shape} do not match {len(names)} names")
  warnings = []
  counts = labels.sum(axis=0)
  for first in range(len(names)):
    for second in range(first + 1, len(names)):
      if counts[first] == 0 or counts[second] == 0:
        continue
      both = int(np.sum(labels[:, first] & labels[:, second]))
      either = int(np.sum(labels[:, first] | labels[:, second]))
      pair = f"{names[first]} and {names[second]}"
      if both == 0:
        warnings.append(f"{pair} are mutually exclusive in the data ({counts[first]} and "
                        f"{counts[second]} examples, none with both): swapping one also "
                        "implies the other")
      elif both / either >= together_threshold:
        warnings.append(f"{pair} nearly always co-occur ({both} of {either} examples with "
                        "either have both): the model cannot separate them")
  return warnings
