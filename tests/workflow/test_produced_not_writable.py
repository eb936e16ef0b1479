"""A card produced for an application becomes active only at its hand-over: a re-sign or
renewal before that is refused before anything is written, on both backends."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.engine.model import PermitRequest
from cardservice.store.registry import CardStatus
from cardservice.workflow.production import ProductionRun
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import make_card, temporary
from tests.workflow_fixtures import BOB

from .conftest import CERTIFIER, CLERK, InProcessFeeder, World, draft

SERIAL = "52500000000000a7"


def _produced(world: World):
    """A certified application produced on one card: (the application, the card)."""
    app = world.service.submit(draft(BOB), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    world.service.decide(app.id, "certify", True, None, CERTIFIER)
    feeder = InProcessFeeder({"R0": [make_card(SERIAL)]})
    progress = ProductionRun(world.service, world.engine, feeder.access(), ["R0"], CERTIFIER,
                             card_wait=0.2).run()
    assert (progress.done, progress.failed) == (1, 0)
    (card,) = feeder.ejected
    return app, card


def test_a_produced_card_is_not_rewritten_before_its_hand_over(world: World) -> None:
    app, card = _produced(world)
    registry, audit = world.engine.registry, world.engine.audit
    assert registry.get(SERIAL).status is CardStatus.PRODUCED
    before, entries = card.image.to_json(), len(audit.entries(limit=1000))
    writes = [lambda conn: world.engine.resign(conn, temporary("博乐市新城街道和平路1号")),
              lambda conn: world.engine.renew(conn, PermitRequest())]
    for write in writes:
        with pytest.raises(errors.ApplicationStateError) as exc:
            write(InProcessConnection(card))
        assert exc.value.code == "APPLICATION_STATE"
        assert f"card {SERIAL} was produced for an application" in exc.value.message
    row = registry.get(SERIAL)
    assert (row.status, row.last_sequence, row.pending_sequence) == (CardStatus.PRODUCED, 1,
                                                                     None)
    assert card.image.to_json() == before  # not one byte written
    assert len(audit.entries(limit=1000)) == entries and audit.pending() == []
    assert registry.active_card(BOB["citizen_number"]) is None

    world.service.hand_over(app.id, SERIAL, CLERK)
    view = world.engine.resign(InProcessConnection(card), temporary("博乐市新城街道和平路1号"))
    assert view.report.record.sequence == 2
    assert registry.get(SERIAL).status is CardStatus.ACTIVE
