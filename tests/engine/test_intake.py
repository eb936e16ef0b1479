"""Issue intake refuses what must not enter a write-once identity, before anything is written:
a birth date after the engine's today, and a sponsor number that fails the citizen-number rules
(VALIDATION_ERROR, not a registry look-up of the number as typed)."""

from __future__ import annotations

import pytest

from card_layout import citizen
from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import ALICE, BOB, identity, make_card

LEASE = Evidence("lease_contract", "HT-2026-0042")


def _future_identity() -> Identity:
    first17 = "110105" + "20261129" + "123"  # the clock's today is 2026-11-28
    return Identity.create(**{**BOB, "citizen_number": first17 + citizen.check_digit(first17)})


def test_future_birth_date_refused_before_any_write(engine, conn, card):
    before = card.image.to_json()
    with pytest.raises(errors.ValidationError) as exc:
        engine.issue(conn, _future_identity(), PermitRequest(
            current_residence="博乐市某小区1栋", permit_type=PermitType.TEMPORARY))
    assert exc.value.field == "citizen_number" and exc.value.code == "VALIDATION_ERROR"
    assert card.image.to_json() == before
    assert card.update_count == 0


@pytest.mark.parametrize(("sponsor", "reason"), [
    ("11010519491231002Y", "bad_format"),
    ("110105194912310021", "bad_check_digit"),
    ("11010519491231002", "bad_format"),
    ("000000194912310020", "bad_region"),
    ("１１０１０５１９４９１２３１００２X", "bad_format"),  # full-width digits
])
def test_sponsor_number_validated_like_any_citizen_number(engine, conn, sponsor, reason):
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=PermitType.LONG_TERM, basis=1,
                                                 evidence=LEASE))
    member = make_card("2122232425262728")
    with pytest.raises(errors.ValidationError) as exc:
        engine.issue(InProcessConnection(member), identity(**BOB), PermitRequest(
            current_residence="博乐市某小区1栋", permit_type=PermitType.LONG_TERM,
            sponsor_citizen_number=sponsor))
    assert exc.value.field == "sponsor_citizen_number"
    assert exc.value.reason == reason
    assert member.update_count == 0


def test_sponsor_lower_case_x_is_found(engine, conn):
    """The number is looked up in stored form (x -> X), not as typed."""
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=PermitType.LONG_TERM, basis=1,
                                                 evidence=LEASE))
    view = engine.issue(InProcessConnection(make_card("2122232425262728")), identity(**BOB),
                        PermitRequest(current_residence="博乐市某小区1栋",
                                      permit_type=PermitType.LONG_TERM,
                                      sponsor_citizen_number=ALICE["citizen_number"].lower()))
    assert view.report.record.sponsor_citizen_number == ALICE["citizen_number"]
