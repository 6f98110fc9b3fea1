"""Benchmarks: scripts that print tables for this machine (never run as tests)."""
