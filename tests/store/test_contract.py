"""The same contract on both backends (``backend`` runs each test on SQLite and PostgreSQL):
registry, audit log, tokens, idempotency; same behaviour, same error codes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from cardservice.errors import (
    AlreadyPersonalizedError,
    ApplicationStateError,
    CardRevokedError,
    CitizenHasCardError,
    NotFoundError,
    ValidationError,
)
from cardservice.store.audit import AuditStateError
from cardservice.store.idempotency import IdempotencyKeyReusedError, StoredResponse
from cardservice.store.registry import CardStatus, Registry, Terms
from cardservice.store.tokens import TokenNameTakenError, TokenStore

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CITIZEN = "11010519491231002X"
OTHER = "440524188001010014"
SERIAL_A, SERIAL_B = "0123456789abcdef", "fedcba9876543210"
TERMS = Terms("示范县公安局", "temporary", None, date(2026, 9, 1))


def _issue(reg, serial=SERIAL_A, citizen=CITIZEN, seq=1):
    return reg.record_issue(serial=serial, citizen_number=citizen, sequence=seq,
                            issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                            expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW)


# --- registry ----------------------------------------------------------------------------------


def test_registry_issue_get_find(backend):
    reg = Registry(backend.database("registry"))
    row = _issue(reg)
    assert reg.get(SERIAL_A.upper()) == row
    assert (row.status, row.issued_site, row.last_write_site) == (CardStatus.ACTIVE, "site-a",
                                                                 "site-a")
    assert row.created_at == NOW and row.expires_on == date(2026, 9, 1)
    assert [r.serial for r in reg.find_by_citizen(CITIZEN)] == [SERIAL_A]
    assert reg.get(SERIAL_B) is None and reg.count() == 1
    with pytest.raises(ValidationError):
        reg.get("nothex")


def test_registry_one_person_one_card_and_errors(backend):
    reg = Registry(backend.database("registry"))
    _issue(reg)
    with pytest.raises(CitizenHasCardError):
        _issue(reg, SERIAL_B)
    with pytest.raises(AlreadyPersonalizedError):
        _issue(reg, SERIAL_A, OTHER)
    with pytest.raises(NotFoundError):
        reg.revoke(SERIAL_B, "lost", NOW)
    assert reg.revoke(SERIAL_A, "lost", NOW).status is CardStatus.LOST
    with pytest.raises(CardRevokedError):
        reg.revoke(SERIAL_A, "lost", NOW)
    with pytest.raises(CardRevokedError):
        reg.record_write(serial=SERIAL_A, sequence=2, issuing_authority="x",
                         permit_type="temporary", basis=None, expires_on=date(2027, 1, 1),
                         now=NOW)
    assert _issue(reg, SERIAL_B).status is CardStatus.ACTIVE  # after revoking the first


def test_registry_sequence_never_decreases(backend):
    reg = Registry(backend.database("registry"))
    _issue(reg, seq=5)
    row = reg.record_write(serial=SERIAL_A, sequence=3, issuing_authority="b",
                           permit_type="long_term", basis=2, expires_on=date(2028, 3, 1), now=NOW)
    assert (row.last_sequence, row.permit_type, row.basis) == (5, "long_term", 2)


def test_reservation_then_confirm_across_sites(backend):
    site_a = Registry(backend.database("registry"))
    site_b = Registry(backend.site("site-b").database("registry"))
    pending = site_a.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=1, terms=TERMS,
                             sponsor_citizen_number=None, now=NOW)
    assert pending.status is CardStatus.PENDING and pending.pending_site == "site-a"
    # another site's issue for the same citizen loses before touching its card
    with pytest.raises(CitizenHasCardError):
        site_b.reserve(serial=SERIAL_B, citizen_number=CITIZEN, sequence=1, terms=TERMS,
                       sponsor_citizen_number=None, now=NOW)
    assert site_a.active_card(CITIZEN) is None  # pending is not a card yet
    row = site_a.confirm(serial=SERIAL_A, citizen_number=CITIZEN, sequence=1, terms=TERMS,
                         sponsor_citizen_number=None, now=NOW)
    assert (row.status, row.last_sequence, row.pending_sequence) == (CardStatus.ACTIVE, 1, None)
    site_b.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                   sponsor_citizen_number=None, now=NOW)
    row = site_b.confirm(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                         sponsor_citizen_number=None, now=NOW + timedelta(seconds=1))
    assert (row.issued_site, row.last_write_site, row.last_sequence) == ("site-a", "site-b", 2)
    assert site_a.get(SERIAL_A).last_sequence == 2


def test_reservation_release_and_expiry_listing(backend):
    reg = Registry(backend.database("registry"))
    reg.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=1, terms=TERMS,
                sponsor_citizen_number=None, now=NOW)
    assert [r.serial for r in reg.reservations(older_than=NOW + timedelta(minutes=5))] == [SERIAL_A]
    assert reg.reservations(older_than=NOW) == []
    assert reg.release(SERIAL_A, NOW) is None  # a pending issue disappears
    assert reg.get(SERIAL_A) is None
    _issue(reg)
    reg.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                sponsor_citizen_number=None, now=NOW)
    row = reg.release(SERIAL_A, NOW)
    assert (row.status, row.pending_sequence, row.last_sequence) == (CardStatus.ACTIVE, None, 1)
    reg.revoke(SERIAL_A, "withdrawn", NOW)
    with pytest.raises(CardRevokedError):
        reg.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=3, terms=TERMS,
                    sponsor_citizen_number=None, now=NOW)


def test_a_produced_card_is_neither_reserved_nor_confirmed_by_a_rewrite(backend):
    """Only the hand-over makes a produced card active; a re-sign or renewal may not."""
    reg = Registry(backend.database("registry"))
    reg.record_issue(serial=SERIAL_A, citizen_number=CITIZEN, sequence=1,
                     issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                     expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW,
                     status=CardStatus.PRODUCED)
    for write in (reg.reserve, reg.confirm):
        with pytest.raises(ApplicationStateError) as exc:
            write(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                  sponsor_citizen_number=None, now=NOW)
        assert exc.value.code == "APPLICATION_STATE" and "hand it over" in exc.value.message
    row = reg.get(SERIAL_A)
    assert (row.status, row.last_sequence, row.pending_sequence) == (CardStatus.PRODUCED, 1,
                                                                     None)
    assert reg.activate(SERIAL_A, NOW).status is CardStatus.ACTIVE  # the hand-over still works
    reg.reserve(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                sponsor_citizen_number=None, now=NOW)
    assert reg.confirm(serial=SERIAL_A, citizen_number=CITIZEN, sequence=2, terms=TERMS,
                       sponsor_citizen_number=None, now=NOW).last_sequence == 2


def test_racing_reservations_leave_exactly_one(backend):
    regs = [Registry(backend.site(f"s{i}").database("registry")) for i in range(4)]
    outcomes: list[str] = []

    def attempt(i: int) -> None:
        try:
            regs[i].reserve(serial=f"{i:016x}", citizen_number=CITIZEN, sequence=1, terms=TERMS,
                            sponsor_citizen_number=None, now=NOW)
            outcomes.append("won")
        except CitizenHasCardError:
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert len(regs[0].find_by_citizen(CITIZEN)) == 1


# --- audit ---------------------------------------------------------------------------------------


def test_audit_intent_outcome_pending_verify(backend):
    log = backend.stores().audit()
    intent = log.intent(operation="issue", card_serial=SERIAL_A, reader="r", actor="tok",
                        detail={"sequence": 1, "住址": "和平路12号"}, now=NOW)
    assert [e.id for e in log.pending(card_serial=SERIAL_A)] == [intent]
    log.outcome(intent, success=None, sequence=None, error_code="CARD_REMOVED", detail={},
                now=NOW)
    assert [e.id for e in log.pending()] == [intent]  # unknown keeps it pending
    log.outcome(intent, success=True, sequence=1, error_code=None, detail={}, now=NOW,
                reconciled=True)
    assert log.pending() == []
    with pytest.raises(AuditStateError):
        log.outcome(intent, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    with pytest.raises(NotFoundError):
        log.outcome(999_999, success=True, sequence=1, error_code=None, detail={}, now=NOW)
    log.event(operation="revoke", card_serial=SERIAL_A, actor="tok", detail={"reason": "lost"},
              now=NOW)
    entries = log.entries(card_serial=SERIAL_A, limit=10)
    assert [e.kind for e in entries] == ["event", "outcome", "outcome", "intent"]
    assert entries[-1].detail["住址"] == "和平路12号"
    result = log.verify()
    assert (result.ok, result.entries) == (True, 4)
    with pytest.raises(ValidationError):
        log.event(operation="", card_serial=None, actor=None, detail=None, now=NOW)


def test_audit_threads_append_concurrently(backend):
    log = backend.stores().audit()

    def work(n: int) -> None:
        for i in range(10):
            log.event(operation="t", card_serial=None, actor=str(n), detail={"i": i}, now=NOW)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.verify().ok and log.count() == 40


# --- tokens and idempotency ----------------------------------------------------------------


def test_tokens_contract(backend):
    store = TokenStore(backend.database("tokens"))
    secret, info = store.create("desk 1", "certifier", NOW)
    assert store.authenticate(secret) == info
    with pytest.raises(TokenNameTakenError):
        store.create("desk 1", "reader", NOW)
    assert store.revoke("desk 1", NOW).revoked_at == NOW
    assert store.authenticate(secret) is None
    store.create("desk 1", "reader", NOW)
    assert [t.name for t in store.list()] == ["desk 1", "desk 1"]
    with pytest.raises(NotFoundError):
        store.revoke("nobody", NOW)
    with pytest.raises(ValidationError):
        store.create("x", "superuser", NOW)


def test_idempotency_contract(backend):
    store = backend.stores().idempotency(ttl=timedelta(hours=1))
    assert store.lookup("s", "k", "d1") is None
    store.store("s", "k", "d1", StoredResponse(200, {"ok": "是"}), NOW)
    store.store("s", "k", "d1", StoredResponse(200, {"ok": "again"}), NOW)  # first one stays
    assert store.lookup("s", "k", "d1") == StoredResponse(200, {"ok": "是"})
    with pytest.raises(IdempotencyKeyReusedError):
        store.lookup("s", "k", "d2")
    assert store.prune(NOW + timedelta(minutes=30)) == 0
    assert store.prune(NOW + timedelta(hours=2)) == 1
