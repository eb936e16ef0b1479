"""Test-only dependencies whose API changes between major versions are pinned to the major the
tests are written for (issue 11, point 11)."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_schemathesis_is_pinned_to_the_major_in_use():
    test_deps = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["test"]
    spec = next(d for d in test_deps if d.startswith("schemathesis"))
    assert "<5" in spec and ">=4" in spec, spec
    assert version("schemathesis").split(".")[0] == "4"
