"""The engine asks for basis evidence when a renewal or re-sign grants a new long-term standing,
writes nothing without it, and keeps the evidence in the write's audit intent."""

from __future__ import annotations

import pytest

from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence

from .conftest import identity

LONG = PermitType.LONG_TERM
TEMP = PermitType.TEMPORARY
LICENCE = Evidence("business_licence", "91650000MA0000000X")
LABOUR = Evidence("labour_contract", "L-2026-7")


def _intent(engine) -> dict:
    return next(e for e in engine.audit.entries(limit=5) if e.kind == "intent").detail


def test_renew_temporary_to_long_term_needs_evidence(engine, conn, card):
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=TEMP))
    before = card.image.to_json()
    with pytest.raises(errors.PolicyError) as exc:
        engine.renew(conn, PermitRequest(permit_type=LONG, basis=3))
    assert exc.value.rule == "basis_evidence_required"
    assert card.image.to_json() == before  # nothing written
    view = engine.renew(conn, PermitRequest(permit_type=LONG, basis=3, evidence=LICENCE))
    assert (view.report.record.permit_type, view.report.record.basis) == (LONG, 3)
    assert _intent(engine)["evidence"] == {"kind": "business_licence",
                                           "reference": "91650000MA0000000X"}
    # the same basis again: no new evidence
    assert engine.renew(conn, PermitRequest()).report.record.basis == 3


def test_resign_changing_the_basis_needs_evidence(engine, conn):
    engine.issue(conn, identity(), PermitRequest(current_residence="博乐市某小区1栋",
                                                 permit_type=LONG, basis=2, evidence=LABOUR))
    with pytest.raises(errors.PolicyError) as exc:
        engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号", basis=3))
    assert exc.value.rule == "basis_evidence_required"
    view = engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号", basis=3,
                                             evidence=LICENCE))
    assert view.report.record.basis == 3
    assert _intent(engine)["evidence"]["kind"] == "business_licence"
    moved = engine.resign(conn, PermitRequest(current_residence="博乐市南路1号"))
    assert moved.report.record.basis == 3  # a move keeping basis 3: none
