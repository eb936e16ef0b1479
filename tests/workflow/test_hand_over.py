"""Hand-over with the card as read at the counter (console, CLI, API with ``reader_id``): the
produced card must be the one in the reader, verify, and hold the application's holder; else
it is not handed over and the application and the registry stay ``produced``."""

from __future__ import annotations

import pytest

from card_layout.files import Fid
from card_layout.identity import Identity
from cardservice import errors
from cardservice.engine.policy import Evidence
from cardservice.store.registry import CardStatus
from cardservice.workflow.model import Residence, State
from cardservice.workflow.service import Actor, check_handed_card
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import make_card, temporary
from tests.workflow_fixtures import ALICE, BOB

from .conftest import CERTIFIER, CLERK, World, draft
from .test_applications import _certified, _produce

SERIAL = "52500000000000b1"


def _produced(world: World):
    app = _certified(world, BOB)
    progress, feeder = _produce(world, [SERIAL])
    assert (progress.done, progress.failed) == (1, 0)
    return app, feeder.ejected[0]


def test_the_produced_card_as_read_is_handed_over(world: World) -> None:
    app, card = _produced(world)
    view = world.engine.read(InProcessConnection(card))
    done = world.service.hand_over(app.id, SERIAL, CLERK, card=view)
    assert done.status is State.HANDED_OVER
    assert world.engine.registry.get(SERIAL).status is CardStatus.ACTIVE


def test_a_card_altered_since_production_is_not_handed_over(world: World) -> None:
    app, card = _produced(world)
    memory = card.image.files[Fid.ID].memory
    memory[20] ^= 0x01  # a bit of the identity file (its CRC no longer holds)
    view = world.engine.read(InProcessConnection(card))
    assert view.report.status.value == "invalid"
    with pytest.raises(errors.CardInvalidError) as exc:
        world.service.hand_over(app.id, SERIAL, CLERK, card=view)
    assert "does not verify (format: bad_crc)" in exc.value.message
    assert world.service.get(app.id).status is State.PRODUCED
    assert world.engine.registry.get(SERIAL).status is CardStatus.PRODUCED
    assert world.engine.registry.active_card(BOB["citizen_number"]) is None


def test_another_card_in_the_reader_is_card_changed(world: World) -> None:
    app, _card = _produced(world)
    other = make_card("52500000000000b2", seed=3)
    world.engine.issue(InProcessConnection(other), Identity.create(**ALICE), temporary())
    view = world.engine.read(InProcessConnection(other))
    with pytest.raises(errors.CardChangedError):
        world.service.hand_over(app.id, SERIAL, CLERK, card=view)
    assert world.service.get(app.id).status is State.PRODUCED


def test_a_valid_card_of_someone_else_is_refused(world: World) -> None:
    """The holder check itself (a card with the produced serial holding another citizen cannot
    be made without the county's keys; the check stands behind the signature)."""
    app, _card = _produced(world)
    other = make_card("52500000000000b3", seed=4)
    world.engine.issue(InProcessConnection(other), Identity.create(**ALICE), temporary())
    with pytest.raises(errors.CardInvalidError) as exc:
        check_handed_card(app, world.engine.read(InProcessConnection(other)))
    assert "does not hold the holder" in exc.value.message



def test_only_the_site_that_took_the_application_audits_it_and_hands_it_over(
        world: World) -> None:
    """county.md: the acceptance point audits the application and hands the card over; the
    county centre certifies and produces for every site."""
    other = Actor("clerk-b", "site-b")
    app = world.service.submit(draft(BOB), CLERK)
    with pytest.raises(errors.OtherSiteError) as exc:
        world.service.decide(app.id, "audit", True, None, other)
    assert exc.value.code == "FORBIDDEN" and "taken at site-a" in exc.value.message
    assert world.service.get(app.id).status is State.SUBMITTED
    world.service.decide(app.id, "audit", True, None, CLERK)
    world.service.decide(app.id, "certify", True, None, CERTIFIER)
    progress, _feeder = _produce(world, [SERIAL])
    assert progress.done == 1
    with pytest.raises(errors.OtherSiteError):
        world.service.hand_over(app.id, SERIAL, other)
    assert world.engine.registry.get(SERIAL).status is CardStatus.PRODUCED
    assert world.service.hand_over(app.id, SERIAL, CLERK).status is State.HANDED_OVER


def test_the_applications_evidence_is_in_its_cards_issue_intent(world: World) -> None:
    """A long-term application's evidence, checked at submission, is kept with the write that
    produces its card too (as a direct issue's is)."""
    app = _certified(world, BOB, residence=Residence("示范县城关镇幸福路1号", "long_term", 1),
                     evidence=Evidence("lease_contract", "HT-2026-0042"))
    progress, _feeder = _produce(world, [SERIAL])
    assert progress.done == 1 and world.service.get(app.id).status is State.PRODUCED
    intents = [e for e in world.engine.audit.entries(card_serial=SERIAL)
               if e.kind == "intent" and e.operation == "issue"]
    assert [e.detail["evidence"] for e in intents] == [
        {"kind": "lease_contract", "reference": "HT-2026-0042"}]
