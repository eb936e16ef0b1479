"""Reads never fail because of registry state; writes reserve before the first card APDU.

Regression for the bug of issue 9: a card issued at PC B and re-signed at PC A, where the
citizen already had a card, was written, A's registry refused the update, the intent stayed
pending, and from then on every plain read of that card at A failed with CITIZEN_HAS_CARD."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardStatus, Registry
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import identity, make_card, temporary


def _site(demo_home, tmp_path, name, clock) -> Engine:
    folder = tmp_path / name
    folder.mkdir()
    return Engine(load_keys(demo_home), Registry(folder / "registry.db"),
                  AuditLog(folder / "audit.db"), clock=clock)


def test_resign_at_a_site_where_the_citizen_has_a_card_is_refused_before_writing(
        demo_home, tmp_path, clock):
    site_a, site_b = (_site(demo_home, tmp_path, n, clock) for n in ("a", "b"))
    site_a.issue(InProcessConnection(make_card("00000000000000a1")), identity(), temporary())
    card_b = make_card("00000000000000b1")
    site_b.issue(InProcessConnection(card_b), identity(), temporary())
    before = card_b.image.to_json()
    with pytest.raises(errors.CitizenHasCardError):
        site_a.resign(InProcessConnection(card_b), temporary("博乐市新城街道和平路1号"))
    view = site_a.read(InProcessConnection(card_b))
    assert view.report.record.sequence == 1  # the card was not written
    assert view.registry_error is None and site_a.audit.pending() == []
    assert card_b.image.to_json() == before  # not one byte changed
    assert site_a.registry.get("00000000000000b1") is None  # no reservation left behind


def test_a_pending_write_the_registry_refuses_does_not_fail_reads(demo_home, tmp_path, clock):
    """The state the old bug left behind: the card holds the write, the registry refuses it."""
    site_a, site_b = (_site(demo_home, tmp_path, n, clock) for n in ("a", "b"))
    site_a.issue(InProcessConnection(make_card("00000000000000a2")), identity(), temporary())
    card_b = make_card("00000000000000b2")
    site_b.issue(InProcessConnection(card_b), identity(), temporary())
    # write at B, then replay B's intent into A's log as if A had written it
    site_b.resign(InProcessConnection(card_b), temporary("博乐市新城街道和平路2号"))
    intent = site_b.audit.entries(limit=2)[1]
    assert intent.kind == "intent"
    site_a.audit.intent(operation="resign", card_serial=intent.card_serial, reader="r",
                        actor=None, detail=intent.detail, now=clock())
    for _ in range(2):  # every read, not only the first
        view = site_a.read(InProcessConnection(card_b))
        assert view.report.status.value == "valid" and view.report.record.sequence == 2
        assert view.registry_error["code"] == "CITIZEN_HAS_CARD"
        assert view.registry_error["pending_write"] is True
    assert len(site_a.audit.pending()) == 1  # left for an operator (cardservice reconcile)


def test_a_confirmed_issue_leaves_no_reservation_and_records_the_site(engine, conn, card):
    engine.issue(conn, identity(), temporary())
    row = engine.registry.get(card.image.serial.hex())
    assert row.status is CardStatus.ACTIVE and row.pending_sequence is None
    assert row.issued_site == "local" == row.last_write_site


def test_a_write_refused_by_the_registry_closes_its_intent(engine, conn, card):
    engine.issue(conn, identity(), temporary())
    engine.revoke(card.image.serial.hex(), "lost")
    with pytest.raises(errors.CardRevokedError):
        engine.resign(conn, temporary("博乐市新城街道和平路3号"))
    assert engine.audit.pending() == []


def test_a_read_sees_a_revocation_written_by_another_process_at_once(engine, conn, tmp_path):
    """The registry row a read uses is reused only while nobody wrote the file: the CLI's
    revocation (another connection) shows in the very next read."""
    engine.issue(conn, identity(), temporary())
    assert engine.read(conn).report.status.value == "valid"
    assert engine.read(conn).report.status.value == "valid"
    cli = Registry(tmp_path / "registry.db")
    cli.revoke(engine.read(conn).report.serial.hex(), "lost", engine.clock())
    cli.close()
    view = engine.read(conn)
    assert view.report.status.value == "revoked" and view.registry.status is CardStatus.LOST
