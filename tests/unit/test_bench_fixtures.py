"""The bench's fixture databases, filled by SQLite, hold exactly what the product's own code
writes: the audit chain verifies and every entry is the reference encoding; the registry's rows
equal those ``Registry.import_rows`` stores for the same cards. Not a timed test."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from bench.fixtures import audit_fields, build_audit, build_registry, cached, citizen, serial
from card_layout.citizen import validate_citizen_number
from cardservice.store.audit import AuditLog, canonical_bytes, entry_hash
from cardservice.store.registry import CardRow, CardStatus, Registry

START = datetime(2026, 11, 28, 2, 0, 0, 123456, tzinfo=UTC)


def test_every_audit_entry_is_the_reference_encoding_and_the_chain_verifies(tmp_path) -> None:
    path = tmp_path / "audit.db"
    build_audit(path, 1001, START)
    log = AuditLog(path)
    try:
        assert (log.verify().ok, log.verify().entries, log.head()[0]) == (True, 1001, 1001)
    finally:
        log.close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, ts, kind, operation, card_serial, reader, actor, intent_id, "
                        "outcome, sequence, error_code, detail, prev_hash, hash, site_id "
                        "FROM audit ORDER BY id").fetchall()
    conn.close()
    prev = bytes(32)
    for i, row in enumerate(rows, start=1):
        fields = audit_fields(i, START)
        assert row[:12] == fields and row[14] is None
        assert (row[12], row[13]) == (prev, entry_hash(prev, canonical_bytes(fields)))
        prev = row[13]
    assert len(rows) == 1001


def test_registry_rows_equal_those_the_product_imports(tmp_path) -> None:
    n = 2_345  # three birth dates, the last one partly
    build_registry(tmp_path / "fast.db", n, START)
    reference = Registry(tmp_path / "reference.db")
    reference.import_rows(
        CardRow(serial(i), citizen(i), CardStatus.ACTIVE, 1, "示范县公安局", "temporary", None,
                date(2027, 5, 28), None, None, START, START) for i in range(n))
    reference.close()
    tables = [_dump(tmp_path / name) for name in ("fast.db", "reference.db")]
    assert tables[0] == tables[1] and len(tables[0]["cards"]) == n
    registry = Registry(tmp_path / "fast.db")
    try:
        for i in (0, 999, 1000, n - 1):
            validate_citizen_number(citizen(i))
            assert [c.serial for c in registry.find_by_citizen(citizen(i))] == [serial(i)]
    finally:
        registry.close()


def _dump(path) -> dict[str, object]:
    conn = sqlite3.connect(path)
    try:
        return {"cards": conn.execute("SELECT * FROM cards ORDER BY serial").fetchall(),
                "schema": conn.execute("SELECT type, name, sql FROM sqlite_master "
                                       "ORDER BY name").fetchall()}
    finally:
        conn.close()


def test_citizen_numbers_cross_the_birth_dates() -> None:
    assert citizen(999)[6:14] == "19500101" and citizen(1000)[6:14] == "19500102"
    assert citizen(1_000_000 - 1)[6:14] == f"{date(1950, 1, 1) + timedelta(days=999):%Y%m%d}"


def test_a_failed_build_leaves_no_cache_entry(tmp_path) -> None:
    def broken(path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("cut short")

    with pytest.raises(RuntimeError):
        cached(tmp_path, "x.db", broken)
    assert not (tmp_path / "x.db").exists()
    assert cached(tmp_path, "x.db", lambda p: p.write_bytes(b"ok")).read_bytes() == b"ok"


def test_look_ups_read_the_file_into_the_page_cache_first(tmp_path) -> None:
    """The stores section reads the registry file once before timing and says how long that
    took; every look-up still finds its card (no timing is judged here)."""
    import random

    from bench.stores import lookups

    path = tmp_path / "registry.db"
    build_registry(path, 300, START)
    figures = lookups(path, 60, 300, random.Random(3))
    assert [f.name for f in figures][:2] == ["file read into the page cache before timing",
                                             "get(serial) p50 (n=50)"]
    assert figures[0].value >= 0 and figures[0].better == "none"
