"""Power cuts after every APDU and inside every UPDATE of issue, re-sign and renew.

For each cut point the card must read as its old valid state or its new valid state, and the
registry and the audit log must agree with what the card holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.verify import Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from cardservice.transport import CardConnection
from simulator.card import VirtualCard
from simulator.inprocess import InProcessConnection

from .conftest import Clock, identity, make_card, temporary

SERIAL = "0102030405060708"
UPDATE_OFFSETS = (0, 1, 2, 5, 9, 40, 100, "half", "len-4", "len-1", "len")


@dataclass
class Outcome:
    card_state: str  # "old" | "new"
    audit: str  # outcome of the operation's intent
    registry_seq: int | None


def fresh_engine(demo_home) -> Engine:
    return Engine(load_keys(demo_home), Registry(":memory:"), AuditLog(":memory:"), clock=Clock())


def issued_card(engine: Engine, permit: PermitRequest | None = None) -> VirtualCard:
    card = make_card(SERIAL)
    engine.issue(InProcessConnection(card), identity(), permit or temporary())
    return card


def run_with_fault(engine: Engine, card: VirtualCard, op: Callable, arm: Callable) -> None:
    conn = InProcessConnection(card)
    arm(card.faults)
    try:
        op(engine, conn)
    except errors.CardServiceError as exc:
        assert isinstance(exc, (errors.CardRemovedError, errors.WriteVerifyError)), exc
    card.faults.clear()


def judge(engine: Engine, card: VirtualCard, old_seq: int | None, new_seq: int,
          conn: CardConnection | None = None) -> Outcome:
    """Read the card (in-process unless ``conn`` is given, e.g. through pcscd) and check that it
    holds the old or new record and that the registry and the audit log agree with it."""
    view = engine.read(conn or InProcessConnection(card))
    report = view.report
    if old_seq is None and report.status == Status.BLANK:
        state = "old"
    else:
        assert report.status == Status.VALID, (report.status, report.checks)
        assert report.record.sequence in (old_seq, new_seq)
        state = "new" if report.record.sequence == new_seq else "old"
    intents = [e for e in engine.audit.entries(limit=50) if e.kind == "intent"]
    newest = intents[0] if intents else None
    audit = "none"
    if newest is not None and newest.detail["sequence"] == new_seq:
        outcomes = [e for e in engine.audit.entries(limit=50) if e.intent_id == newest.id]
        assert len(outcomes) == 1, "the intent must be resolved exactly once"
        audit = "success" if outcomes[0].outcome.endswith("success") else "failure"
    row = engine.registry.get(SERIAL)
    reg = row.last_sequence if row else None
    # the registry and the audit log agree with the card
    if state == "new":
        assert audit == "success" and reg == new_seq
    else:
        assert audit in ("failure", "none") and reg == old_seq
    assert engine.audit.verify().ok
    return Outcome(state, audit, reg)


def update_offsets(length: int) -> list[int]:
    named = {"half": length // 2, "len-4": length - 4, "len-1": length - 1, "len": length}
    return sorted({named.get(o, o) for o in UPDATE_OFFSETS if named.get(o, o) <= length})


def count_apdus(demo_home, setup, op) -> tuple[int, list[int]]:
    engine = fresh_engine(demo_home)
    card = setup(engine)
    before, updates_before = card.apdu_count, card.update_count
    lengths: list[int] = []
    original = card.os.process

    def spy(apdu: bytes) -> bytes:
        if len(apdu) > 7 and apdu[1] == 0xD6:
            lengths.append(int.from_bytes(apdu[5:7], "big") if apdu[4] == 0 else apdu[4])
        return original(apdu)

    card.os.process = spy
    op(engine, InProcessConnection(card))
    assert card.update_count - updates_before == len(lengths)
    return card.apdu_count - before, lengths


def sweep(demo_home, setup, op, old_seq, new_seq) -> dict[str, int]:
    total, update_lengths = count_apdus(demo_home, setup, op)
    counts = {"old": 0, "new": 0, "points": 0}
    arms = [lambda f, n=n: f.cut_power_after(n) for n in range(total)]
    for nth, length in enumerate(update_lengths, start=1):
        arms += [lambda f, nth=nth, k=k: f.cut_power_in_update(nth, k)
                 for k in update_offsets(length)]
    for arm in arms:
        engine = fresh_engine(demo_home)
        card = setup(engine)
        run_with_fault(engine, card, op, arm)
        outcome = judge(engine, card, old_seq, new_seq)
        counts[outcome.card_state] += 1
        counts["points"] += 1
    return counts


def _issue(engine, conn):
    engine.issue(conn, identity(), temporary())


def _resign(engine, conn):
    engine.resign(conn, PermitRequest(current_residence="博乐市南城街道幸福路3号"))


def _renew(engine, conn):
    engine.renew(conn, PermitRequest(permit_type=PermitType.LONG_TERM, basis=3,
                                     evidence=Evidence("business_licence", "B-1")))


@pytest.mark.parametrize("name,setup,op,old,new", [
    ("issue", lambda e: make_card(SERIAL), _issue, None, 1),
    ("resign", issued_card, _resign, 1, 2),
    ("renew", issued_card, _renew, 1, 2),
    ("resign-over-stale", lambda e: _three_writes(e), _resign, 3, 4),
])
def test_tearing_sweep(demo_home, name, setup, op, old, new, capsys):
    counts = sweep(demo_home, setup, op, old, new)
    with capsys.disabled():
        print(f"\n{name}: {counts['points']} cut points, 0 corrupt cards "
              f"({counts['old']} old, {counts['new']} new)")
    assert counts["old"] > 0 and counts["new"] > 0


def _three_writes(engine: Engine) -> VirtualCard:
    """A card whose slot B holds an older record longer than the next one (a stale tail)."""
    card = issued_card(engine)
    engine.resign(InProcessConnection(card),
                  PermitRequest(current_residence="博乐市南城街道幸福路3号" * 3))
    engine.resign(InProcessConnection(card), PermitRequest(current_residence="博乐市1号"))
    return card
