"""Engine operations against the in-process simulated card."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout.files import Fid
from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.verify import Status
from simulator.inprocess import InProcessConnection

from .conftest import BOB, identity, make_card, temporary


def test_blank_card_reads_blank(engine, conn):
    view = engine.read(conn)
    assert view.report.status == Status.BLANK
    assert not view.locked
    assert view.serial == bytes.fromhex("0102030405060708")


def test_issue_read_resign_read_renew(engine, conn, clock):
    issued = engine.issue(conn, identity(), temporary())
    assert issued.locked
    assert issued.report.status == Status.VALID
    rec = issued.report.record
    assert (rec.sequence, rec.permit_type, rec.issued_on, rec.expires_on) == (
        1, PermitType.TEMPORARY, date(2026, 11, 28), date(2027, 5, 28))
    assert rec.issuing_authority == engine.keys.authority_name
    assert issued.report.current_slot == Fid.RES_A
    assert issued.registry.last_sequence == 1

    read = engine.read(conn)
    assert read.report.record == rec and read.report.status == Status.VALID

    clock.advance(days=30)
    moved = engine.resign(conn, PermitRequest(current_residence="博乐市南城街道幸福路3号"))
    r2 = moved.report.record
    # a move keeps the expiry: extending it is a renewal
    assert (r2.sequence, r2.current_residence, r2.issued_on, r2.expires_on) == (
        2, "博乐市南城街道幸福路3号", date(2026, 12, 28), date(2027, 5, 28))
    assert moved.report.current_slot == Fid.RES_B
    assert moved.report.identity == issued.report.identity

    renewed = engine.renew(conn, PermitRequest(permit_type=PermitType.LONG_TERM, basis=2,
                                               evidence=Evidence("labour_contract", "L-1")))
    r3 = renewed.report.record
    assert (r3.sequence, r3.permit_type, r3.basis, r3.expires_on) == (
        3, PermitType.LONG_TERM, 2, date(2028, 12, 28))
    assert r3.current_residence == "博乐市南城街道幸福路3号"
    assert renewed.report.current_slot == Fid.RES_A
    assert engine.registry.get("0102030405060708").last_sequence == 3

    ops = [(e.kind, e.operation, e.outcome) for e in reversed(engine.audit.entries(limit=10))]
    assert ops == [("intent", "issue", None), ("outcome", "issue", "success"),
                   ("intent", "resign", None), ("outcome", "resign", "success"),
                   ("intent", "renew", None), ("outcome", "renew", "success")]
    assert engine.audit.verify().ok


def test_issue_twice_refused(engine, conn):
    engine.issue(conn, identity(), temporary())
    with pytest.raises(errors.AlreadyPersonalizedError):
        engine.issue(conn, identity(), temporary())


def test_second_card_for_same_citizen_refused_until_revoked(engine, conn):
    engine.issue(conn, identity(), temporary())
    other = make_card("1112131415161718")
    other_conn = InProcessConnection(other)
    with pytest.raises(errors.CitizenHasCardError):
        engine.issue(other_conn, identity(), temporary())
    assert engine.read(other_conn).report.status == Status.BLANK  # nothing written
    engine.revoke("0102030405060708", "lost")
    view = engine.issue(other_conn, identity(), temporary())
    assert view.report.status == Status.VALID
    assert engine.read(conn).report.status == Status.REVOKED


def test_revoked_card_is_not_resigned(engine, conn):
    engine.issue(conn, identity(), temporary())
    engine.revoke("0102030405060708", "withdrawn")
    with pytest.raises(errors.CardRevokedError):
        engine.resign(conn, PermitRequest(current_residence="新址1号"))


def test_resign_blank_card_refused(engine, conn):
    with pytest.raises(errors.NotPersonalizedError):
        engine.resign(conn, PermitRequest(current_residence="新址1号"))


def test_policy_violation_writes_nothing(engine, conn, card):
    engine.issue(conn, identity(), temporary())
    before = card.image.to_json()
    with pytest.raises(errors.PolicyError) as exc:
        engine.renew(conn, PermitRequest(expires_on=date(2028, 1, 1)))
    assert exc.value.rule == "temporary_max_6_months"
    with pytest.raises(errors.PolicyError) as exc:
        engine.renew(conn, PermitRequest(permit_type=PermitType.LONG_TERM))
    assert exc.value.rule == "long_term_requires_basis"
    assert card.image.to_json() == before


def test_family_member_gets_sponsor_expiry(engine, conn):
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=PermitType.LONG_TERM, basis=1,
                                                 evidence=Evidence("lease_contract", "HT-1")))
    member_conn = InProcessConnection(make_card("2122232425262728"))
    view = engine.issue(member_conn, identity(**BOB), PermitRequest(
        current_residence="博乐市某小区1栋", permit_type=PermitType.LONG_TERM,
        sponsor_citizen_number="11010519491231002X"))
    rec = view.report.record
    assert rec.sponsor_citizen_number == "11010519491231002X"
    assert rec.expires_on == date(2028, 11, 28) and rec.basis == 1


def test_sponsor_with_ineligible_basis_refused(engine, conn):
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=PermitType.LONG_TERM, basis=2,
                                                 evidence=Evidence("labour_contract", "L-1")))
    member_conn = InProcessConnection(make_card("2122232425262728"))
    with pytest.raises(errors.PolicyError) as exc:
        engine.issue(member_conn, identity(**BOB), PermitRequest(
            current_residence="博乐市某小区1栋", permit_type=PermitType.LONG_TERM,
            sponsor_citizen_number="11010519491231002X"))
    assert exc.value.rule == "sponsor_basis_not_eligible"


def test_concurrent_issues_for_one_citizen_give_one_card(engine):
    """Two readers issuing to the same citizen at once: one card, the other stays blank."""
    import threading

    conns = [InProcessConnection(make_card(f"31323334353637{i:02x}")) for i in range(2)]
    results: list[object] = [None, None]
    start = threading.Barrier(2)

    def issue(i: int) -> None:
        start.wait()
        try:
            results[i] = engine.issue(conns[i], identity(), temporary())
        except errors.CardServiceError as exc:
            results[i] = exc

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    errors_seen = [r for r in results if isinstance(r, errors.CitizenHasCardError)]
    assert len(errors_seen) == 1
    states = sorted(engine.read(c).report.status.value for c in conns)
    assert states == ["blank", "valid"]
    assert len(engine.registry.find_by_citizen("11010519491231002X")) == 1


def test_issue_requires_residence_and_permit_type(engine, conn, card):
    before = card.image.to_json()
    with pytest.raises(errors.ValidationError) as exc:
        engine.issue(conn, identity(), PermitRequest(permit_type=PermitType.TEMPORARY))
    assert exc.value.field == "current_residence"
    with pytest.raises(errors.ValidationError) as exc:
        engine.issue(conn, identity(), PermitRequest(current_residence="博乐市1号"))
    assert exc.value.field == "permit_type"
    assert card.image.to_json() == before


def test_issue_lock_serialises_issues_across_processes(demo_home, tmp_path, clock):
    """Another process holding the data directory's issue lock makes an issue wait for it."""
    import subprocess
    import sys
    import time

    from cardservice.engine.operations import Engine
    from cardservice.pki.keys import load_keys
    from cardservice.store.audit import AuditLog
    from cardservice.store.registry import Registry

    lock = tmp_path / "issue.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"h = open({str(lock)!r}, 'a+b'); fcntl.flock(h, fcntl.LOCK_EX)\n"
        "print('locked', flush=True); time.sleep(1.0)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    eng = Engine(load_keys(demo_home), Registry(tmp_path / "r.db"), AuditLog(tmp_path / "a.db"),
                 clock=clock, issue_lock_path=lock)
    started = time.monotonic()
    view = eng.issue(InProcessConnection(make_card()), identity(), temporary())
    waited = time.monotonic() - started
    holder.wait(5)
    assert view.report.status.value == "valid"
    assert waited >= 0.5, "the issue did not wait for the other process's lock"
