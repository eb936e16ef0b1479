"""The systemd unit bounds the daemon's resources (issue 11, point 3): file descriptors above
the daemon's own connection cap, and a memory ceiling."""

from __future__ import annotations

import configparser
from pathlib import Path

from cardservice.config import Settings

UNIT = Path(__file__).resolve().parents[2] / "ops" / "cardservice.service"


def _service() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return dict(parser["Service"])


def _bytes(value: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(value[:-1]) * units[value[-1]] if value[-1] in units else int(value)


def test_descriptors_are_bounded_above_the_connection_cap():
    limit = int(_service()["LimitNOFILE"])
    settings = Settings(home=Path("/nonexistent"))
    assert settings.max_connections + 64 < limit <= 65536


def test_memory_is_bounded():
    service = _service()
    assert 128 << 20 <= _bytes(service["MemoryHigh"]) < _bytes(service["MemoryMax"]) <= 1 << 30
