"""Benchmarks: run with `.venv/bin/python -m benchmarks` (see benchmarks/README.md)."""
