"""A re-sign or renewal that grants a long-term standing in the holder's own right needs basis
evidence as a first issue does; keeping the basis, or a family member's permit, needs none."""

from __future__ import annotations

from datetime import date

import pytest

from cardservice.engine.policy import (
    Evidence,
    Held,
    PermitTerms,
    Sponsor,
    decide_renew_terms,
    decide_resign_terms,
)
from cardservice.errors import PolicyError
from tests.unit.test_policy import LONG, SPONSOR_CN, TEMP, TODAY

LICENCE = Evidence("business_licence", "91650000MA0000000X")


def _renew(**kwargs: object) -> PermitTerms:
    args = {"permit_type": LONG, "basis": 3, "requested_expires_on": None,
            "held": Held(TEMP, None), "evidence": None, "today": TODAY}
    return decide_renew_terms(**{**args, **kwargs})  # type: ignore[arg-type]


def _resign(**kwargs: object) -> PermitTerms:
    args = {"permit_type": LONG, "basis": 3, "requested_expires_on": None,
            "current_expires_on": date(2027, 6, 30), "extend": False, "evidence": None,
            "held": Held(LONG, 2), "today": TODAY}
    return decide_resign_terms(**{**args, **kwargs})  # type: ignore[arg-type]


def _refused(call, **kwargs: object) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        call(**kwargs)
    assert (info.value.code, info.value.rule) == ("POLICY_VIOLATION", "basis_evidence_required")
    return info.value


def test_renew_temporary_to_long_term_needs_evidence() -> None:
    error = _refused(_renew)
    assert "from temporary to long-term" in error.message and "business_licence" in error.message
    _refused(_renew, evidence=Evidence("lease_contract", "HT-1"))  # does not prove basis 3
    _refused(_renew, evidence=Evidence("business_licence", "  "))
    terms = _renew(evidence=LICENCE)
    assert (terms.permit_type, terms.basis, terms.expires_on) == (LONG, 3, date(2028, 11, 28))


def test_renew_keeping_the_basis_needs_no_evidence() -> None:
    assert _renew(held=Held(LONG, 3)).basis == 3
    assert _renew(permit_type=TEMP, basis=None, held=Held(LONG, 3)).permit_type is TEMP
    assert _renew(permit_type=TEMP, basis=None).permit_type is TEMP


def test_renew_changing_the_basis_needs_evidence() -> None:
    assert "from 2" in _refused(_renew, held=Held(LONG, 2)).message
    assert _renew(held=Held(LONG, 2), evidence=LICENCE).basis == 3


def test_resign_changing_the_basis_needs_evidence() -> None:
    assert "re-sign changing the long-term basis from 2" in _refused(_resign).message
    _refused(_resign, extend=True)
    assert _resign(evidence=LICENCE).basis == 3
    assert _resign(basis=2).basis == 2  # the same basis 2 on a move: none
    _refused(_resign, basis=2, held=Held(TEMP, None))  # temporary -> long-term on a move


def test_family_member_is_unaffected() -> None:
    sponsor = Sponsor(SPONSOR_CN, LONG, 3, date(2028, 3, 15))
    family = Held(LONG, 3, sponsored=True)
    terms = _renew(basis=None, held=family, sponsor=sponsor)
    assert (terms.basis, terms.sponsor_citizen_number) == (3, SPONSOR_CN)
    assert _resign(basis=None, held=family, sponsor=sponsor).sponsor_citizen_number == SPONSOR_CN
    assert _renew(permit_type=TEMP, basis=None, held=family).permit_type is TEMP
    # leaving the sponsor for an own basis is a new standing: it needs its own evidence
    _refused(_renew, held=family)
    assert _renew(held=family, evidence=LICENCE).sponsor_citizen_number is None


def test_held_unknown_keeps_the_old_resign_contract() -> None:
    assert _resign(held=None).basis == 3
    _refused(_resign, basis=1, held=None)  # basis 1 on a move still needs evidence
