"""Fixtures for the card face: cards (as the API returns them) from the published vectors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from card_layout.nationality import nationality_name
from cardservice.face import Face
from tests.api.conftest import backend, daemon, home, key_template  # noqa: F401  (API fixtures)
from tests.cups import PrivateCups, running_cups, unavailable

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
VECTOR_NAMES = sorted(p.stem for p in VECTORS.glob("*.json"))


def vector_card(name: str) -> dict[str, Any]:
    """The card dict (``GET /v1/readers/{id}/card`` shape) of a published vector."""
    v = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    identity = dict(v["identity"])
    identity["nationality_code"] = identity["nationality"]
    identity["nationality"] = nationality_name(identity["nationality"])
    return {"card_serial": v["card_serial_hex"], "state": "personalized", "identity": identity,
            "residence": v["record"]}


@pytest.fixture(scope="session")
def face() -> Face:
    return Face.load()


@pytest.fixture(scope="session")
def cups() -> Iterator[PrivateCups]:
    """A private cupsd with a cups-pdf queue (see tests/cups.py)."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"no private CUPS here: {why}")
    yield from running_cups()


@pytest.fixture
def cups_env(cups: PrivateCups, monkeypatch) -> PrivateCups:
    """``lp`` in this process's children reaches the private cupsd."""
    for key, value in cups.env.items():
        monkeypatch.setenv(key, value)
    return cups
