"""Benchmarks: `python bench/run.py` (see bench/README.md). Not part of the app or the test suite."""
