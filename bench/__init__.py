"""Benchmarks and load tools (`make bench`, `make chaos`); not part of the gateway package."""
