"""Application states and the rules checked at submission, certification and production."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from card_layout.identity import Identity
from cardservice import errors
from cardservice.engine.policy import Evidence, check_direct_issue
from cardservice.store.registry import CardStatus
from cardservice.workflow.model import (
    TRANSITIONS,
    Decision,
    Kind,
    State,
    mask_citizen_number,
    next_state,
)
from cardservice.workflow.rules import check_application
from tests.workflow_fixtures import (
    ALICE,
    BOB,
    NOW,
    TODAY,
    FakeLookups,
    application,
    card,
    family,
    long_term,
    replacement,
)

HAPPY = [("audit_approve", State.AUDITED), ("certify_approve", State.CERTIFIED),
         ("produce", State.PRODUCED), ("hand_over", State.HANDED_OVER)]


def test_the_happy_path_records_every_decision() -> None:
    app = application()
    for action, state in HAPPY:
        app = app.step(action, Decision(action, "tok", "site-a", NOW))
        assert app.status is state
    assert [d.action for d in app.decisions] == [a for a, _ in HAPPY]
    assert not app.open


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_every_illegal_transition_names_the_state(state: State, action: str) -> None:
    if state in TRANSITIONS[action]:
        assert next_state(state, action) is TRANSITIONS[action][state]
        return
    with pytest.raises(errors.ApplicationStateError) as exc:
        next_state(state, action)
    assert exc.value.code == "APPLICATION_STATE"
    assert f"is {state.value}" in exc.value.message


def test_reject_from_submitted_or_audited_and_cancel_ends_it() -> None:
    assert next_state(State.SUBMITTED, "audit_reject") is State.REJECTED
    assert next_state(State.AUDITED, "certify_reject") is State.REJECTED
    assert next_state(State.CERTIFIED, "cancel") is State.CANCELLED
    with pytest.raises(errors.ApplicationStateError):
        next_state(State.PRODUCED, "cancel")


def test_overdue_only_while_open() -> None:
    app = application(due_on=date(2026, 11, 27))
    assert app.overdue(TODAY) and not app.overdue(date(2026, 11, 27))
    assert not dataclasses.replace(app, status=State.HANDED_OVER).overdue(TODAY)


def test_mask_citizen_number() -> None:
    assert mask_citizen_number("11010519491231002X") == "110105********002X"


def test_first_issue_passes_and_gets_terms() -> None:
    terms = check_application(application(), FakeLookups(), TODAY)
    assert terms.expires_on == date(2027, 5, 30)


def test_one_person_one_card() -> None:
    lookups = FakeLookups(cards=[card("00000000000000a1", BOB["citizen_number"])])
    with pytest.raises(errors.CitizenHasCardError):
        check_application(application(), lookups, TODAY)
    with pytest.raises(errors.ApplicationOpenError) as exc:
        check_application(application(), FakeLookups(open_apps={BOB["citizen_number"]: "A0"}),
                          TODAY)
    assert exc.value.code == "APPLICATION_OPEN"
    # its own open application does not count
    check_application(application(), FakeLookups(open_apps={BOB["citizen_number"]: "A1"}), TODAY)


def test_long_term_needs_evidence_of_its_basis() -> None:
    check_application(long_term(1), FakeLookups(), TODAY)
    for app in (long_term(1, evidence=None), long_term(2)):
        with pytest.raises(errors.PolicyError) as exc:
            check_application(app, FakeLookups(), TODAY)
        assert exc.value.rule == "basis_evidence_required"
    check_application(long_term(2, evidence=Evidence("labour_contract", "L-7")), FakeLookups(),
                      TODAY)


def _alice_card(**kw):
    return card("00000000000000b1", ALICE["citizen_number"], **kw)


def test_family_needs_an_eligible_sponsor_in_own_right() -> None:
    terms = check_application(family(), FakeLookups(cards=[_alice_card()]), TODAY)
    assert (terms.basis, terms.expires_on, terms.sponsor_citizen_number) == (
        1, date(2028, 3, 15), ALICE["citizen_number"])
    cases = [
        (FakeLookups(), "sponsor_not_registered"),
        (FakeLookups(cards=[_alice_card(basis=2)]), "sponsor_basis_not_eligible"),
        (FakeLookups(cards=[_alice_card(sponsor="110105195001011234")]),
         "sponsor_is_family_member"),
        (FakeLookups(cards=[_alice_card(status=CardStatus.REVOKED)]), "sponsor_not_registered"),
    ]
    for lookups, rule in cases:
        with pytest.raises(errors.PolicyError) as exc:
            check_application(family(), lookups, TODAY)
        assert exc.value.rule == rule
    with pytest.raises(errors.PolicyError) as exc:
        check_application(family("cousin"), FakeLookups(cards=[_alice_card()]), TODAY)
    assert exc.value.rule == "family_relationship_invalid"


def _bob_old(status=CardStatus.ACTIVE):
    return FakeLookups(cards=[card("00000000000000a1", BOB["citizen_number"], status=status)],
                       identities={"00000000000000a1": Identity.create(**BOB)})


def test_replacement_names_the_old_card_with_the_same_identity() -> None:
    check_application(replacement(), _bob_old(), TODAY)  # an active card is no obstacle
    check_application(replacement(), _bob_old(CardStatus.LOST), TODAY)
    with pytest.raises(errors.CardRevokedError):
        check_application(replacement(), _bob_old(CardStatus.REPLACED), TODAY)
    for field, value in [("name", "李四四"), ("household_address", "新疆博乐市其他路2号"),
                         ("nationality", "02")]:
        with pytest.raises(errors.PolicyError) as exc:
            check_application(replacement(**{field: value}), _bob_old(), TODAY)
        assert exc.value.rule == "replacement_identity_mismatch"
        assert field in exc.value.message
    with pytest.raises(errors.PolicyError) as exc:
        check_application(replacement("00000000000000ff"), _bob_old(), TODAY)
    assert exc.value.rule == "replacement_identity_mismatch"
    with pytest.raises(errors.ValidationError):
        check_application(replacement(reason="stolen"), _bob_old(), TODAY)


def test_bad_identity_is_a_validation_error() -> None:
    with pytest.raises(errors.ValidationError) as exc:
        check_application(application(identity={**BOB, "citizen_number": "110105199001011233"}),
                          FakeLookups(), TODAY)
    assert exc.value.field == "identity.citizen_number"


def test_direct_issue_refused_where_applications_are_required() -> None:
    check_direct_issue(False)
    with pytest.raises(errors.PolicyError) as exc:
        check_direct_issue(True)
    assert exc.value.rule == "application_required"
    assert Kind.FAMILY.value == "family"
