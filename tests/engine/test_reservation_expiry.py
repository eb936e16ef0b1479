"""Expired write reservations are released (and audited) automatically, on both backends: by the
next write touching the same citizen or card, and by the sweep the daemon runs."""

from __future__ import annotations

from datetime import date

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine
from cardservice.pki.keys import load_keys
from cardservice.store.registry import CardStatus, Terms
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import BOB, identity, make_card, temporary

TERMS = Terms("示范县公安局", "temporary", None, date(2027, 5, 28))
CITIZEN = identity().citizen_number


def _engine(demo_home, backend, clock) -> Engine:
    stores = backend.stores()
    return Engine(load_keys(demo_home), stores.registry(), stores.audit(), clock=clock)


def _releases(engine: Engine) -> list:
    return [e for e in engine.audit.entries() if e.operation == "release_reservation"]


def test_the_next_issue_for_the_citizen_releases_an_expired_pending_issue(demo_home, backend,
                                                                           clock):
    engine = _engine(demo_home, backend, clock)
    engine.registry.reserve(serial="00000000000000e1", citizen_number=CITIZEN, sequence=1,
                            terms=TERMS, sponsor_citizen_number=None, now=clock())
    card = make_card("00000000000000e2")
    clock.advance(minutes=5)  # not expired yet: one person, one card still holds
    with pytest.raises(errors.CitizenHasCardError):
        engine.issue(InProcessConnection(card), identity(), temporary())
    assert engine.registry.get("00000000000000e2") is None and _releases(engine) == []
    clock.advance(minutes=6)
    engine.issue(InProcessConnection(card), identity(), temporary())
    assert engine.registry.get("00000000000000e1") is None
    assert engine.registry.get("00000000000000e2").status is CardStatus.ACTIVE
    [event] = _releases(engine)
    assert (event.card_serial, event.actor) == ("00000000000000e1", "system")
    assert event.detail["reason"] == "expired" and event.detail["pending_issue"] is True
    assert event.detail["reserved_by"] == backend.site_id == event.detail["site"]
    assert engine.audit.verify().ok


def test_the_sweep_releases_every_expired_reservation_and_leaves_fresh_ones(demo_home, backend,
                                                                           clock):
    engine = _engine(demo_home, backend, clock)
    engine.issue(InProcessConnection(make_card("00000000000000a1")), identity(), temporary())
    engine.registry.reserve(serial="00000000000000a1", citizen_number=CITIZEN, sequence=2,
                            terms=TERMS, sponsor_citizen_number=None, now=clock())
    engine.registry.reserve(serial="00000000000000b1", citizen_number=BOB["citizen_number"],
                            sequence=1, terms=TERMS, sponsor_citizen_number=None, now=clock())
    clock.advance(minutes=11)
    engine.registry.reserve(serial="00000000000000c1", citizen_number="440524188001010014",
                            sequence=1, terms=TERMS, sponsor_citizen_number=None, now=clock())
    released = engine.release_expired()
    assert sorted(r.serial for r in released) == ["00000000000000a1", "00000000000000b1"]
    kept = engine.registry.get("00000000000000a1")  # a known card keeps its state
    assert kept.status is CardStatus.ACTIVE and kept.pending_sequence is None
    assert kept.last_sequence == 1
    assert engine.registry.get("00000000000000b1") is None  # a pending issue goes away
    assert [r.serial for r in engine.registry.reservations()] == ["00000000000000c1"]
    assert sorted(e.card_serial for e in _releases(engine)) == ["00000000000000a1",
                                                               "00000000000000b1"]
    assert engine.release_expired() == []  # nothing twice
