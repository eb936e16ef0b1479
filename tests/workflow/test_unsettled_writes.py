"""A production write whose card left its reader mid-write: the application says so
(``unsettled_write``) until that card is read anywhere, on both backends."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.workflow.model import State
from cardservice.workflow.rules import identity_of
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import make_card, taken_out_mid_write, temporary
from tests.workflow_fixtures import ALICE, BOB

from .conftest import CERTIFIER, CLERK, World, draft

SERIAL = "52500000000000f1"


def _certified(world: World, identity: dict):
    app = world.service.submit(draft(identity), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    return world.service.decide(app.id, "certify", True, None, CERTIFIER)


def _write_cut_off(world: World, app, card) -> None:
    """The whole write lands, power is lost before the answer and the card is taken out (a run
    killed mid-write, its card carried off)."""
    conn = InProcessConnection(card)
    world.engine.read(conn)  # the run reads the blank card in (and powers it)
    with taken_out_mid_write(card), pytest.raises(errors.CardServiceError):
        world.engine.issue(conn, identity_of(app), temporary(),
                           actor="run", from_application=True)
    card.insert()


def test_an_unsettled_write_shows_until_its_card_is_read(world: World) -> None:
    app, other = _certified(world, BOB), _certified(world, ALICE)
    submitted = world.service.submit(draft(dict(BOB, citizen_number="110105199001021238",
                                                name="未审核")), CLERK)
    assert [v["unsettled_write"] for v in world.service.views([app, other])] == [None, None]
    card = make_card(SERIAL)
    _write_cut_off(world, app, card)
    (pending,) = world.service.audit.pending()

    shown = world.service.views([world.service.get(i) for i in (app.id, other.id,
                                                                submitted.id)])
    assert shown[0]["unsettled_write"] == {"card_serial": SERIAL, "intent_id": pending.id,
                                           "since": pending.ts.isoformat()}
    assert shown[0]["status"] == "certified"
    assert [v["unsettled_write"] for v in shown[1:]] == [None, None]

    world.engine.read(InProcessConnection(card))  # read anywhere: the write is settled
    assert world.service.audit.pending() == []
    assert world.service.view(world.service.get(app.id))["unsettled_write"] is None
    outcome = world.service.audit.entries(limit=1)[0]  # only its first file landed
    assert (outcome.intent_id, outcome.outcome) == (pending.id, "reconciled_failure")
    assert world.service.get(app.id).status is State.CERTIFIED  # the next run makes a card
