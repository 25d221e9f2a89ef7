"""Benchmarks, run by hand (`.venv/bin/python bench/matcher.py`); never part of the test run."""
