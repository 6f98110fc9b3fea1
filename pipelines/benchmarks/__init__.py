"""Standalone benchmark and inspection scripts for the data pipelines (not tests)."""
