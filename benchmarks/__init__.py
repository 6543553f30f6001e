"""Benchmarks of the batch engine against the loopback simulator: see run_all.py."""
