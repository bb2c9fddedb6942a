"""Benchmarks: seeded workloads and scripts that print numbers measured in one run.

Benchmarks are never tests: they print ratios and rates, and tests never
assert on wall-clock time.
"""
