"""Benchmarks: each subpackage has a `main()` that prints its figures (`make bench` runs them all)."""
