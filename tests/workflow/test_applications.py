"""Submit, audit, certify, produce, hand over on both backends (in-process cards)."""

from __future__ import annotations

import socket
import subprocess
import threading
from datetime import date

import pytest

from card_layout.identity import Identity
from cardservice import errors
from cardservice.store.registry import CardStatus
from cardservice.workflow.model import Kind, Replacement, State
from cardservice.workflow.production import ProductionRun
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import make_card, temporary
from tests.workflow_fixtures import ALICE, BOB

from .conftest import CERTIFIER, CLERK, InProcessFeeder, World, draft

#: valid citizen numbers (check digits computed), men born 1990
CITIZENS = ["110105199001011232", "110105199001021238", "110105199001031233",
            "110105199001041239", "110105199001051234"]


def _certified(world: World, identity: dict, **changes):
    app = world.service.submit(draft(identity, **changes), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    return world.service.decide(app.id, "certify", True, None, CERTIFIER)


def _produce(world: World, serials: list[str], limit: int | None = None):
    feeder = InProcessFeeder({"R0": [make_card(s, seed=i) for i, s in enumerate(serials)]})
    run = ProductionRun(world.service, world.engine, feeder.access(), ["R0"],
                        CERTIFIER, limit=limit, card_wait=0.2)
    return run.run(), feeder


def test_first_issue_end_to_end(world: World) -> None:
    app = world.service.submit(draft(BOB), CLERK)
    assert (app.id, app.status, app.due_on, app.site) == ("A000001", State.SUBMITTED,
                                                          date(2026, 12, 4), "site-a")
    with pytest.raises(errors.ApplicationStateError) as exc:
        world.service.decide(app.id, "certify", True, None, CERTIFIER)
    assert "is submitted" in exc.value.message
    with pytest.raises(errors.ApplicationOpenError):
        world.service.submit(draft(BOB), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    world.service.decide(app.id, "certify", True, None, CERTIFIER)
    progress, _cards = _produce(world, ["52500000000000a1"])
    assert (progress.done, progress.failed, progress.state) == (1, 0, "finished")
    produced = world.service.get(app.id)
    assert (produced.status, produced.card_serial) == (State.PRODUCED, "52500000000000a1")
    assert world.engine.registry.get("52500000000000a1").status is CardStatus.PRODUCED
    assert world.engine.registry.active_card(BOB["citizen_number"]) is None  # not yet active
    with pytest.raises(errors.CardChangedError):
        world.service.hand_over(app.id, "52500000000000ff", CLERK)
    done = world.service.hand_over(app.id, "52500000000000A1", CLERK)
    assert done.status is State.HANDED_OVER
    assert world.engine.registry.active_card(BOB["citizen_number"]).serial == "52500000000000a1"
    assert [d.action for d in done.decisions] == ["submit", "audit_approve", "certify_approve",
                                                  "produce", "hand_over"]
    assert {d.site for d in done.decisions} == {"site-a", "county"}
    ops = [e.operation for e in world.engine.audit.entries(limit=20)]
    assert "application.hand_over" in ops and "application.certify_approve" in ops
    assert world.engine.audit.verify().ok


def test_reject_cancel_and_overdue(world: World) -> None:
    a = world.service.submit(draft(BOB), CLERK)
    with pytest.raises(errors.ValidationError):
        world.service.decide(a.id, "audit", False, " ", CLERK)
    rejected = world.service.decide(a.id, "audit", False, "address not in this community", CLERK)
    assert (rejected.status, rejected.reason) == (State.REJECTED, "address not in this community")
    b = world.service.submit(draft(BOB), CLERK)  # a rejected application is closed
    assert world.service.find(overdue=True) == []
    world.clock.advance(days=10)
    assert [x.id for x in world.service.find(overdue=True)] == [b.id]
    assert world.service.cancel(b.id, "withdrawn", CLERK).status is State.CANCELLED
    assert world.service.find(overdue=True) == []
    assert [x.id for x in world.service.find(status="rejected")] == [a.id]
    assert len(world.service.find(citizen_number=BOB["citizen_number"])) == 2


def test_production_in_due_order_with_a_failed_card(world: World) -> None:
    first = _certified(world, BOB)
    world.clock.advance(days=1)
    second = _certified(world, ALICE)
    progress, _ = _produce(world, ["52500000000000b1"], limit=1)
    assert [r[0] for r in progress.results] == [first.id]  # due first
    assert world.service.get(second.id).status is State.CERTIFIED
    assert progress.as_dict()["left"] == 0
    # a card whose write fails (answers 6581 to UPDATE BINARY) is not linked
    bad = make_card("52500000000000b2", seed=2)
    bad.faults.answer_sw(0x6581, ins=0xD6, times=50)
    feeder = InProcessFeeder({"R": [bad]})
    run = ProductionRun(world.service, world.engine, feeder.access(), ["R"],
                        CERTIFIER, card_wait=0.2)
    progress = run.run()
    assert (progress.done, progress.failed) == (0, 1)
    assert progress.results[0][0] == second.id and progress.results[0][2] is not None
    again = world.service.get(second.id)
    assert (again.status, again.card_serial) == (State.CERTIFIED, None)
    assert world.service.store.require(second.id).claimed_by is None  # free for the next run
    assert world.engine.registry.get("52500000000000b2") is None
    assert feeder.ejected == [bad]  # the spoiled card left the reader


def test_two_readers_share_the_queue_without_duplicates(world: World) -> None:
    people = [dict(BOB, citizen_number=cn, name=f"持证人{i}") for i, cn in enumerate(CITIZENS)]
    ids = [_certified(world, p).id for p in people]
    stacks = {r: [make_card(f"5250{r[-1]}{n:011x}", seed=n) for n in range(4)]
              for r in ("R1", "R2")}
    feeder = InProcessFeeder(stacks)
    run = ProductionRun(world.service, world.engine, feeder.access(),
                        ["R1", "R2"], CERTIFIER, card_wait=0.2)
    progress = run.run()
    assert (progress.done, progress.failed, progress.total) == (len(ids), 0, len(ids))
    serials = [world.service.get(i).card_serial for i in ids]
    assert len(set(serials)) == len(ids) and None not in serials
    assert len(feeder.ejected) == len(ids)


def test_rules_are_checked_again_at_certification_and_production(world: World) -> None:
    app = world.service.submit(draft(BOB), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    # the citizen got a card another way in between (a direct issue at a single-PC site)
    world.engine.issue(InProcessConnection(make_card("52500000000000c1")),
                       Identity.create(**BOB), temporary())
    with pytest.raises(errors.CitizenHasCardError):
        world.service.decide(app.id, "certify", True, None, CERTIFIER)


def test_replacement_revokes_and_links_the_old_card(world: World) -> None:
    app = _certified(world, BOB)
    _produce(world, ["52500000000000d1"])
    world.service.hand_over(app.id, "52500000000000d1", CLERK)
    with pytest.raises(errors.PolicyError) as exc:
        world.service.submit(draft({**BOB, "household_address": "新疆博乐市别处1号"},
                                   kind=Kind.REPLACEMENT,
                                   replacement=Replacement("52500000000000d1", "lost")), CLERK)
    assert exc.value.rule == "replacement_identity_mismatch"
    with pytest.raises(errors.CitizenHasCardError):  # a first issue while holding a card
        world.service.submit(draft(BOB), CLERK)
    rep = _certified(world, BOB, kind=Kind.REPLACEMENT,
                     replacement=Replacement("52500000000000d1", "lost"))
    _produce(world, ["52500000000000d2"])
    assert world.engine.registry.get("52500000000000d1").status is CardStatus.ACTIVE
    world.service.hand_over(rep.id, "52500000000000d2", CLERK)
    assert world.engine.registry.get("52500000000000d1").status is CardStatus.LOST
    assert world.engine.registry.get("52500000000000d2").status is CardStatus.ACTIVE
    assert world.engine.registry.replaced_by("52500000000000d1") == "52500000000000d2"



def test_replacement_of_a_card_issued_directly(world: World) -> None:
    """A card issued without an application (a single-PC site's direct issue): the registry
    kept the identity it was personalized with, and a replacement is checked against it."""
    world.engine.issue(InProcessConnection(make_card("52500000000000f1")),
                       Identity.create(**BOB), temporary())
    assert world.engine.registry.identity("52500000000000f1")["name"] == BOB["name"]
    with pytest.raises(errors.PolicyError) as exc:
        world.service.submit(draft({**BOB, "name": "李思"}, kind=Kind.REPLACEMENT,
                                   replacement=Replacement("52500000000000f1", "damaged")), CLERK)
    assert exc.value.rule == "replacement_identity_mismatch" and "name" in exc.value.message
    rep = _certified(world, BOB, kind=Kind.REPLACEMENT,
                     replacement=Replacement("52500000000000f1", "damaged"))
    progress, _ = _produce(world, ["52500000000000f2"])
    assert (progress.done, progress.failed) == (1, 0)
    assert world.engine.registry.get("52500000000000f1").status is CardStatus.ACTIVE
    world.service.hand_over(rep.id, "52500000000000f2", CLERK)
    old = world.engine.registry.get("52500000000000f1")
    assert (old.status, old.revoked_reason) == (CardStatus.REPLACED, "replaced")
    assert world.engine.registry.active_card(BOB["citizen_number"]).serial == "52500000000000f2"
    assert world.engine.registry.replaced_by("52500000000000f1") == "52500000000000f2"


def test_a_run_releases_only_the_claims_of_runs_that_are_gone(world: World) -> None:
    """Another run going on now (a live process) keeps its claim; an interrupted run's claim
    (its process has ended) is released and its application produced."""
    live, gone = (_certified(world, p) for p in (BOB, ALICE))
    finished = subprocess.Popen(["true"])
    finished.wait()
    host = socket.gethostname()
    assert world.service.store.claim(live.id, f"run-live@{host}:1")  # pid 1 runs
    assert world.service.store.claim(gone.id, f"run-gone@{host}:{finished.pid}")
    progress, _ = _produce(world, ["52500000000000c7", "52500000000000c8"])
    assert [r[0] for r in progress.results] == [gone.id]
    assert world.service.get(gone.id).status is State.PRODUCED
    row = world.service.store.require(live.id)
    assert (row.status, row.claimed_by) == ("certified", f"run-live@{host}:1")


class _MeetingFeeder(InProcessFeeder):
    """The first connection to each reader waits (at a barrier) until every reader has its
    first connection: readers settled one after another would break the barrier."""

    def __init__(self, stacks: dict[str, list]) -> None:
        super().__init__(stacks)
        self._first, self._lock = set(stacks), threading.Lock()
        self._barrier = threading.Barrier(len(stacks))

    def connect(self, reader: str):
        with self._lock:
            first = reader in self._first
            self._first.discard(reader)
        if first:
            self._barrier.wait(timeout=10)  # a failure guard, not a timing
        return super().connect(reader)


def test_the_cards_left_in_the_readers_are_settled_all_at_once(world: World) -> None:
    """Before it takes an application, a run reads the card left in each reader, every reader
    at once: a personalized one is ejected, a blank one is produced on."""
    people = [dict(BOB, citizen_number=cn, name=f"持证人{i}") for i, cn in enumerate(CITIZENS)]
    ids = [_certified(world, p).id for p in people[:2]]
    left = make_card("52500000000000e1")
    world.engine.issue(InProcessConnection(left), Identity.create(**people[2]), temporary())
    feeder = _MeetingFeeder({"R1": [left, make_card("52500000000000e2", seed=2)],
                             "R2": [make_card("52500000000000e3", seed=3)]})
    run = ProductionRun(world.service, world.engine, feeder.access(), ["R1", "R2"],
                        CERTIFIER, card_wait=0.2)
    progress = run.run()
    assert (progress.done, progress.failed) == (2, 0)
    assert feeder.ejected[0] is left  # out before any application was taken
    assert {r: len(t) for r, t in progress.card_times.items()} == {"R1": 1, "R2": 1}
    assert {world.service.get(i).card_serial for i in ids} == {"52500000000000e2",
                                                               "52500000000000e3"}
