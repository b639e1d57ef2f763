"""Benchmark harness of the production stack (``make bench``); see docs/performance.md."""
