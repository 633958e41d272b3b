"""Benchmarks against peers (skopeo), run by `make bench`, never in CI. See docs/benchmarks.md."""
