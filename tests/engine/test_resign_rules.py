"""Re-sign and renew, corrected: the expiry stays on a move, ``extend`` renews, basis-1 moves
need evidence, and a family member whose sponsor lost eligibility is not locked out."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.verify import Check, Result
from simulator.inprocess import InProcessConnection

from .conftest import BOB, identity, make_card

LONG = PermitType.LONG_TERM
TEMP = PermitType.TEMPORARY
SPONSOR_CN = "11010519491231002X"
LEASE = Evidence("lease_contract", "HT-2026-0042")
#: what proves each basis at the first issue
ISSUE_EVIDENCE = {1: LEASE, 2: Evidence("labour_contract", "L-2026-1")}


def _long_term(engine, conn, basis=1):
    return engine.issue(conn, identity(), PermitRequest(
        current_residence="博乐市某小区1栋", permit_type=LONG, basis=basis,
        evidence=ISSUE_EVIDENCE[basis]))


def _family(engine):
    member = InProcessConnection(make_card("2122232425262728"))
    engine.issue(member, identity(**BOB), PermitRequest(
        current_residence="博乐市某小区1栋", permit_type=LONG, sponsor_citizen_number=SPONSOR_CN))
    return member


def test_resign_keeps_expiry_and_extend_renews(engine, conn, clock):
    issued = _long_term(engine, conn, basis=2)
    clock.advance(days=100)
    moved = engine.resign(conn, PermitRequest(current_residence="博乐市南城街道幸福路3号"))
    assert moved.report.record.expires_on == issued.report.record.expires_on == date(2028, 11, 28)
    assert moved.report.record.issuing_authority == engine.keys.authority_name
    with pytest.raises(errors.PolicyError) as exc:
        engine.resign(conn, PermitRequest(current_residence="x路1号",
                                          expires_on=date(2029, 1, 1)))
    assert exc.value.rule == "resign_keeps_expiry"
    extended = engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号", extend=True))
    assert extended.report.record.expires_on == date(2029, 3, 8)  # two years from today


def test_resign_to_temporary_caps_the_kept_expiry(engine, conn, clock):
    _long_term(engine, conn, basis=2)
    view = engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号",
                                             permit_type=TEMP))
    assert (view.report.record.permit_type, view.report.record.basis) == (TEMP, None)
    assert view.report.record.expires_on == date(2027, 5, 28)


def test_basis_1_move_needs_evidence(engine, conn, card):
    _long_term(engine, conn, basis=1)
    before = card.image.to_json()
    with pytest.raises(errors.PolicyError) as exc:
        engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号"))
    assert exc.value.rule == "basis_evidence_required"
    with pytest.raises(errors.PolicyError) as exc:
        engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号",
                                          evidence=Evidence("labour_contract", "L-1")))
    assert exc.value.rule == "basis_evidence_required"
    assert card.image.to_json() == before  # nothing written
    view = engine.resign(conn, PermitRequest(current_residence="博乐市北京路9号",
                                             evidence=LEASE))
    assert view.report.record.basis == 1
    intent = next(e for e in engine.audit.entries(limit=5) if e.kind == "intent")
    assert intent.detail["evidence"] == {"kind": "lease_contract", "reference": "HT-2026-0042"}
    # or it becomes temporary
    temp = engine.resign(conn, PermitRequest(current_residence="博乐市南路1号", permit_type=TEMP))
    assert temp.report.record.permit_type is TEMP


def test_family_member_of_revoked_sponsor_resigns_as_temporary(engine, conn):
    _long_term(engine, conn, basis=1)
    member = _family(engine)
    check = engine.read(member).report.check(Check.SPONSOR)
    assert (check.result, check.reason) == (Result.SUCCEEDED, "ok")
    engine.revoke("0102030405060708", "withdrawn")
    view = engine.read(member)
    check = view.report.check(Check.SPONSOR)
    assert (check.result, check.reason) == (Result.WARNING, "sponsor_not_eligible")
    assert view.report.status.value == "valid"  # a warning, not a failure
    with pytest.raises(errors.PolicyError) as exc:  # long-term still needs the sponsor
        engine.resign(member, PermitRequest(current_residence="博乐市北京路9号"))
    assert exc.value.rule == "sponsor_not_registered"
    moved = engine.resign(member, PermitRequest(current_residence="博乐市北京路9号",
                                                permit_type=TEMP))
    rec = moved.report.record
    assert (rec.permit_type, rec.basis, rec.sponsor_citizen_number) == (TEMP, None, None)
    assert rec.expires_on == date(2027, 5, 28)
    renewed = engine.renew(member, PermitRequest(permit_type=TEMP))
    assert renewed.report.record.permit_type is TEMP
    assert engine.read(member).report.check(Check.SPONSOR).reason == "not_family"


def test_family_member_renews_as_temporary_when_sponsor_expired(engine, conn, clock):
    _long_term(engine, conn, basis=1)
    member = _family(engine)
    clock.advance(days=2 * 366)  # the sponsor's permit (and the member's) has expired
    assert engine.read(member).report.check(Check.SPONSOR).result is Result.WARNING
    with pytest.raises(errors.PolicyError) as exc:
        engine.renew(member, PermitRequest())
    assert exc.value.rule == "sponsor_expired"
    renewed = engine.renew(member, PermitRequest(permit_type=TEMP))
    assert renewed.report.record.permit_type is TEMP


def test_family_member_cannot_sponsor(engine, conn):
    _long_term(engine, conn, basis=1)
    _family(engine)
    third = InProcessConnection(make_card("3132333435363738"))
    with pytest.raises(errors.PolicyError) as exc:
        engine.issue(third, identity(citizen_number="110105201001011232", name="王五", gender="male"),
                     PermitRequest(current_residence="博乐市某小区1栋", permit_type=LONG,
                                   sponsor_citizen_number=BOB["citizen_number"]))
    assert exc.value.rule == "sponsor_is_family_member"
