"""Warnings for chosen attributes that never or always co-occur."""

import numpy as np

from pipelines import label_stats


def test_exclusive_and_together_and_independent():
  rng = np.random.default_rng(0)
  hair = rng.integers(0, 3, 200)
  male = rng.integers(0, 2, 200)
  labels = np.stack([hair == 0, hair == 1, male, male, rng.integers(0, 2, 200)], 1).astype(np.uint8)
  names = ["Black_Hair", "Blond_Hair", "Male", "Goatee", "Smiling"]
  warnings = label_stats.attribute_warnings(labels, names)
  assert len(warnings) == 2
  assert "Black_Hair and Blond_Hair are mutually exclusive" in warnings[0]
  assert "Male and Goatee nearly always co-occur" in warnings[1]


def test_no_warning_for_empty_columns():
  labels = np.zeros((10, 2), np.uint8)
  assert label_stats.attribute_warnings(labels, ["A", "B"]) == []
