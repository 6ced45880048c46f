"""Benchmarks: ``python -m bench.<name>``. Never timed assertions inside the test suite.

Each benchmark prints a table and writes JSON to ``bench/results/`` (git-ignored); the
numbers worth keeping, with the command and the machine, go to ``docs/performance.md``.
"""
