"""A direct issue (no application) long-term in the holder's own right needs basis evidence as an
application does, writes nothing without it, and keeps it in the issue's audit intent; an issue
from an application (its evidence checked at submission) is not asked again."""

from __future__ import annotations

import pytest

from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence

from .conftest import identity

LONG = PermitType.LONG_TERM
LICENCE = Evidence("business_licence", "91650000MA0000000X")
RESIDENCE = "博乐市某小区1栋"


def _intent(engine) -> dict:
    return next(e for e in engine.audit.entries(limit=5) if e.kind == "intent").detail


@pytest.mark.parametrize("evidence", [None, Evidence("business_licence", "  "),
                                      Evidence("lease_contract", "HT-1")])
def test_direct_long_term_issue_without_proving_evidence_is_refused(engine, conn, card,
                                                                    evidence):
    before = card.image.to_json()
    with pytest.raises(errors.PolicyError) as exc:
        engine.issue(conn, identity(), PermitRequest(current_residence=RESIDENCE,
                                                     permit_type=LONG, basis=3,
                                                     evidence=evidence))
    assert exc.value.rule == "basis_evidence_required"
    assert card.image.to_json() == before  # nothing written
    assert engine.registry.get(card.image.serial.hex()) is None  # nor reserved


def test_direct_long_term_issue_with_evidence_keeps_it_in_the_audit(engine, conn):
    view = engine.issue(conn, identity(), PermitRequest(current_residence=RESIDENCE,
                                                        permit_type=LONG, basis=3,
                                                        evidence=LICENCE))
    assert (view.report.record.permit_type, view.report.record.basis) == (LONG, 3)
    assert _intent(engine)["evidence"] == {"kind": "business_licence",
                                           "reference": "91650000MA0000000X"}


def test_temporary_issue_needs_no_evidence(engine, conn):
    view = engine.issue(conn, identity(), PermitRequest(current_residence=RESIDENCE,
                                                        permit_type=PermitType.TEMPORARY))
    assert view.report.record.permit_type is PermitType.TEMPORARY
    assert "evidence" not in _intent(engine)


def test_issue_from_an_application_is_not_asked_again(engine, conn):
    view = engine.issue(conn, identity(), PermitRequest(current_residence=RESIDENCE,
                                                        permit_type=LONG, basis=3),
                        from_application=True)
    assert view.report.record.basis == 3
