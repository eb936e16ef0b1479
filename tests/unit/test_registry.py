"""The card registry: one person one card, monotonic sequence, revocation, bad input."""

from __future__ import annotations

import sqlite3
import stat
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cardservice.errors import (
    AlreadyPersonalizedError,
    CardRevokedError,
    CitizenHasCardError,
    NotFoundError,
    ValidationError,
)
from cardservice.store.registry import CardRow, CardStatus, Registry

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CITIZEN = "11010519491231002X"
OTHER_CITIZEN = "440524188001010014"
SERIAL_A = "0123456789abcdef"
SERIAL_B = "fedcba9876543210"


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    yield reg
    reg.close()


def issue(reg: Registry, serial: str = SERIAL_A, citizen: str = CITIZEN, *, now=NOW, seq=1):
    return reg.record_issue(
        serial=serial,
        citizen_number=citizen,
        sequence=seq,
        issuing_authority="北京市公安局朝阳分局",
        permit_type="temporary",
        basis=None,
        expires_on=date(2026, 9, 1),
        sponsor_citizen_number=None,
        now=now,
    )


def write(reg: Registry, seq: int, *, serial: str = SERIAL_A, now=NOW):
    return reg.record_write(
        serial=serial,
        sequence=seq,
        issuing_authority="上海市公安局浦东分局",
        permit_type="long_term",
        basis=2,
        expires_on=date(2028, 3, 1),
        now=now,
    )


def test_issue_then_get_returns_the_row(registry):
    row = issue(registry)
    assert registry.get(SERIAL_A) == row
    assert row.status is CardStatus.ACTIVE
    assert row.last_sequence == 1
    assert row.issuing_authority == "北京市公安局朝阳分局"
    assert row.expires_on == date(2026, 9, 1)
    assert row.created_at == row.updated_at == NOW
    assert registry.count() == 1


def test_get_accepts_upper_case_serial_and_unknown_is_none(registry):
    issue(registry)
    assert registry.get(SERIAL_A.upper()).serial == SERIAL_A
    assert registry.get(SERIAL_B) is None


@pytest.mark.parametrize("bad", ["", "0123", "0123456789abcdeg", "0123456789abcdef0", 42])
def test_malformed_serial_is_a_validation_error(registry, bad):
    with pytest.raises(ValidationError) as err:
        registry.get(bad)
    assert err.value.field == "serial"
    assert err.value.code == "VALIDATION_ERROR"


def test_second_active_card_for_citizen_is_refused(registry):
    issue(registry)
    with pytest.raises(CitizenHasCardError) as err:
        issue(registry, SERIAL_B)
    assert err.value.code == "CITIZEN_HAS_CARD"
    assert SERIAL_A in err.value.message
    assert registry.get(SERIAL_B) is None


def test_ensure_can_issue_refuses_other_serial_allows_same_or_new_citizen(registry):
    issue(registry)
    with pytest.raises(CitizenHasCardError):
        registry.ensure_can_issue(CITIZEN, SERIAL_B)
    assert registry.ensure_can_issue(CITIZEN, SERIAL_A) is None
    assert registry.ensure_can_issue(OTHER_CITIZEN, SERIAL_B) is None


def test_second_card_allowed_after_revoke(registry):
    issue(registry)
    registry.revoke(SERIAL_A, "lost", NOW)
    registry.ensure_can_issue(CITIZEN, SERIAL_B)
    new = issue(registry, SERIAL_B, now=NOW + timedelta(days=1))
    assert registry.active_card(CITIZEN) == new
    assert [r.serial for r in registry.find_by_citizen(CITIZEN)] == [SERIAL_B, SERIAL_A]


def test_serial_seen_before_is_refused_even_when_revoked(registry):
    issue(registry)
    with pytest.raises(AlreadyPersonalizedError):
        issue(registry, SERIAL_A, OTHER_CITIZEN)
    registry.revoke(SERIAL_A, "withdrawn", NOW)
    with pytest.raises(AlreadyPersonalizedError):
        issue(registry, SERIAL_A, CITIZEN)


def test_partial_unique_index_enforces_one_active_card_in_sql(tmp_path):
    path = tmp_path / "registry.db"
    Registry(path).close()
    raw = sqlite3.connect(path)
    insert = (
        "INSERT INTO cards (serial, citizen_number, status, last_sequence, issuing_authority, "
        "permit_type, basis, expires_on, sponsor_citizen_number, revoked_reason, created_at, "
        "updated_at) VALUES (?, ?, 'active', 1, 'a', 'temporary', NULL, '2026-09-01', "
        "NULL, NULL, 't', 't')"
    )
    raw.execute(insert, (SERIAL_A, CITIZEN))
    with pytest.raises(sqlite3.IntegrityError, match="cards.citizen_number"):
        raw.execute(insert, (SERIAL_B, CITIZEN))
    raw.close()


def test_import_rows_maps_index_violation_to_citizen_has_card(registry):
    row = issue(registry)
    twin = replace(row, serial=SERIAL_B)
    with pytest.raises(CitizenHasCardError):
        registry.import_rows([twin])
    assert registry.count() == 1


def test_racing_issues_for_one_citizen_leave_exactly_one_active(tmp_path):
    path = tmp_path / "registry.db"
    regs = [Registry(path) for _ in range(4)]
    serials = [f"{i:016x}" for i in range(1, 5)]
    errors: list[Exception] = []

    def run(reg: Registry, serial: str) -> None:
        try:
            issue(reg, serial)
        except CitizenHasCardError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(regs, serials, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3
    assert len(regs[0].find_by_citizen(CITIZEN)) == 1
    for reg in regs:
        reg.close()


def test_find_by_citizen_newest_first_and_empty_for_unknown(registry):
    issue(registry, SERIAL_A, now=NOW)
    registry.revoke(SERIAL_A, "replaced", NOW)
    issue(registry, SERIAL_B, now=NOW + timedelta(hours=1))
    assert [r.serial for r in registry.find_by_citizen(CITIZEN)] == [SERIAL_B, SERIAL_A]
    assert registry.find_by_citizen(OTHER_CITIZEN) == []
    assert registry.active_card(OTHER_CITIZEN) is None


def test_record_write_updates_fields_and_raises_sequence(registry):
    issue(registry)
    later = NOW + timedelta(days=30)
    row = write(registry, 2, now=later)
    assert row.last_sequence == 2
    assert row.issuing_authority == "上海市公安局浦东分局"
    assert row.permit_type == "long_term"
    assert row.basis == 2
    assert row.expires_on == date(2028, 3, 1)
    assert row.updated_at == later
    assert row.created_at == NOW


def test_last_sequence_never_decreases(registry):
    issue(registry)
    write(registry, 5)
    assert write(registry, 3).last_sequence == 5
    assert registry.get(SERIAL_A).last_sequence == 5
    assert write(registry, 6).last_sequence == 6


def test_record_write_unknown_serial_and_revoked_card(registry):
    with pytest.raises(NotFoundError):
        write(registry, 2)
    issue(registry)
    registry.revoke(SERIAL_A, "lost", NOW)
    with pytest.raises(CardRevokedError):
        write(registry, 2)
    assert registry.get(SERIAL_A).last_sequence == 1


@pytest.mark.parametrize("bad", [-1, True, 1.5, "2"])
def test_bad_sequence_is_a_validation_error(registry, bad):
    issue(registry)
    with pytest.raises(ValidationError) as err:
        write(registry, bad)
    assert err.value.field == "sequence"


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("lost", CardStatus.LOST),
        ("replaced", CardStatus.REPLACED),
        ("withdrawn", CardStatus.REVOKED),
    ],
)
def test_revoke_maps_reason_to_status(registry, reason, status):
    issue(registry)
    later = NOW + timedelta(days=2)
    row = registry.revoke(SERIAL_A, reason, later)
    assert row.status is status
    assert row.revoked_reason == reason
    assert row.updated_at == later
    assert registry.active_card(CITIZEN) is None


def test_revoke_errors(registry):
    with pytest.raises(NotFoundError) as err:
        registry.revoke(SERIAL_A, "lost", NOW)
    assert err.value.code == "NOT_FOUND"
    issue(registry)
    with pytest.raises(ValidationError) as bad_reason:
        registry.revoke(SERIAL_A, "stolen", NOW)
    assert bad_reason.value.field == "reason"
    registry.revoke(SERIAL_A, "lost", NOW)
    with pytest.raises(CardRevokedError) as again:
        registry.revoke(SERIAL_A, "withdrawn", NOW)
    assert again.value.code == "CARD_REVOKED"
    assert registry.get(SERIAL_A).status is CardStatus.LOST


def test_times_are_stored_in_utc(registry):
    plus8 = datetime(2026, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    issue(registry, now=plus8)
    row = registry.get(SERIAL_A)
    assert row.created_at == NOW
    assert row.created_at.utcoffset() == timedelta(0)


def test_data_survives_reopen_and_file_is_private(tmp_path):
    path = tmp_path / "sub" / "registry.db"
    reg = Registry(path)
    issue(reg)
    reg.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reopened = Registry(path)
    assert reopened.get(SERIAL_A).citizen_number == CITIZEN
    mode = reopened._conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = reopened._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)
    reopened.close()


def test_import_rows_bulk_and_indexes_used(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    rows = [
        CardRow(
            serial=f"{i:016x}",
            citizen_number=f"C{i:017d}",
            status=CardStatus.ACTIVE,
            last_sequence=1,
            issuing_authority="a",
            permit_type="temporary",
            basis=None,
            expires_on=date(2026, 9, 1),
            sponsor_citizen_number=None,
            revoked_reason=None,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(2000)
    ]
    assert reg.import_rows(rows) == 2000
    assert reg.count() == 2000
    assert reg.get(f"{1999:016x}").citizen_number == f"C{1999:017d}"
    plan = reg._conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM cards WHERE citizen_number = ? ORDER BY created_at DESC",
        ("x",),
    ).fetchall()
    assert "USING INDEX cards_by_citizen" in " ".join(str(p) for p in plan)
    reg.close()


def test_memory_database_works():
    reg = Registry(":memory:")
    issue(reg)
    assert reg.count() == 1
    reg.close()


def test_get_reads_every_change_made_by_another_connection(tmp_path):
    """A read asks the database every time (only an unchanged row's conversion is reused): a
    revocation or a write through another process's connection shows at the next get."""
    reader, other = Registry(tmp_path / "shared.db"), Registry(tmp_path / "shared.db")
    try:
        issue(other)
        first = reader.get(SERIAL_A)
        assert reader.get(SERIAL_A) == first and first.status is CardStatus.ACTIVE
        write(other, 2, now=NOW + timedelta(minutes=1))
        assert reader.get(SERIAL_A).last_sequence == 2
        other.revoke(SERIAL_A, "lost", NOW + timedelta(minutes=2))
        assert reader.get(SERIAL_A).status is CardStatus.LOST
        assert reader.get(SERIAL_A).revoked
    finally:
        reader.close()
        other.close()
