"""An issue interrupted before anything landed, whose card could not be read back (its intent
stays pending, its registry row ``pending``), is settled by the next issue of that card, which
then personalizes it; it used to be refused as ALREADY_PERSONALIZED ("issued before") on a
blank card."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine
from cardservice.engine.verify import Status
from tests.engine.conftest import identity, temporary


def test_an_interrupted_issue_does_not_block_the_next(engine: Engine, card, conn) -> None:
    card.faults.cut_power_in_update(1, 0)  # the first UPDATE BINARY: nothing lands
    real_power_on = card.power_on

    def taken_away() -> bytes:
        card.present = False
        return real_power_on()

    card.power_on = taken_away
    with pytest.raises(errors.WriteVerifyError) as exc:
        engine.issue(conn, identity(), temporary())
    card.power_on = real_power_on
    card.insert()
    serial = card.image.serial.hex()
    assert [i.id for i in engine._journal.pending(serial)] == [exc.value.intent_id]
    assert engine.registry.get(serial) is not None  # the reservation of the interrupted issue

    view = engine.issue(conn, identity(), temporary())
    assert view.report.status is Status.VALID and view.reconciled == ()
    assert engine._journal.pending(serial) == []
    outcomes = {e.intent_id: e.outcome for e in engine.audit.entries(card_serial=serial)
                if e.kind == "outcome"}
    assert outcomes[exc.value.intent_id] == "reconciled_failure"
    assert engine.registry.get(serial).status.value == "active"
