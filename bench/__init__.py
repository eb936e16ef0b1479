"""Benchmarks with targets (issue 6 §1): ``python -m bench [--quick] [--json] [--strict]``."""
