"""Permit rules: one test per rule name, with exact dates."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout.record import PermitType
from cardservice.engine.policy import (
    EVIDENCE_KINDS,
    RULES,
    Evidence,
    PermitTerms,
    Sponsor,
    add_months,
    check_direct_issue,
    check_evidence,
    decide_resign_terms,
    decide_terms,
)
from cardservice.errors import PolicyError, ValidationError

TODAY = date(2026, 11, 28)
TEMP = PermitType.TEMPORARY
LONG = PermitType.LONG_TERM
SPONSOR_CN = "11010519491231002X"
APPLICANT_CN = "110105200001010011"


def sponsor(basis: int | None = 1, permit_type: PermitType = LONG,
            expires_on: date = date(2028, 3, 15)) -> Sponsor:
    return Sponsor(SPONSOR_CN, permit_type, basis, expires_on)


def refused(rule: str, **kwargs: object) -> PolicyError:
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("requested_expires_on", None)
    with pytest.raises(PolicyError) as info:
        decide_terms(**kwargs)  # type: ignore[arg-type]
    assert info.value.rule == rule
    assert info.value.code == "POLICY_VIOLATION"
    assert info.value.to_dict()["rule"] == rule
    return info.value


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 11, 28), 6, date(2027, 5, 28)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2024, 2, 29), 24, date(2026, 2, 28)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_temporary_default_is_six_months() -> None:
    terms = decide_terms(permit_type=TEMP, basis=None, requested_expires_on=None, today=TODAY)
    assert terms == PermitTerms(TEMP, None, None, TODAY, date(2027, 5, 28))


def test_temporary_from_month_end_clamps() -> None:
    terms = decide_terms(permit_type=TEMP, basis=None, requested_expires_on=None,
                         today=date(2026, 8, 31))
    assert terms.expires_on == date(2027, 2, 28)
    assert terms.issued_on == date(2026, 8, 31)


def test_long_term_default_is_two_years() -> None:
    terms = decide_terms(permit_type=LONG, basis=2, requested_expires_on=None, today=TODAY)
    assert terms == PermitTerms(LONG, 2, None, TODAY, date(2028, 11, 28))


def test_exact_maximum_and_shorter_expiry_accepted() -> None:
    at_max = decide_terms(permit_type=TEMP, basis=None,
                          requested_expires_on=date(2027, 5, 28), today=TODAY)
    shorter = decide_terms(permit_type=LONG, basis=5,
                           requested_expires_on=date(2027, 1, 1), today=TODAY)
    assert at_max.expires_on == date(2027, 5, 28)
    assert shorter.expires_on == date(2027, 1, 1)
    assert shorter.basis == 5


def test_string_permit_type_accepted() -> None:
    terms = decide_terms(permit_type="long_term", basis=3,  # type: ignore[arg-type]
                         requested_expires_on=None, today=TODAY)
    assert terms.permit_type is LONG


def test_rule_expiry_in_past() -> None:
    refused("expiry_in_past", permit_type=TEMP, basis=None,
            requested_expires_on=date(2026, 11, 27))


def test_rule_expiry_before_issue() -> None:
    error = refused("expiry_before_issue", permit_type=TEMP, basis=None,
                    requested_expires_on=TODAY)
    assert "2026-11-28" in error.message


def test_rule_temporary_max_6_months() -> None:
    error = refused("temporary_max_6_months", permit_type=TEMP, basis=None,
                    requested_expires_on=date(2027, 5, 29))
    assert "2027-05-28" in error.message


def test_rule_long_term_max_2_years() -> None:
    refused("long_term_max_2_years", permit_type=LONG, basis=1,
            requested_expires_on=date(2028, 11, 29))


def test_rule_long_term_requires_basis() -> None:
    refused("long_term_requires_basis", permit_type=LONG, basis=None)


@pytest.mark.parametrize("basis", [0, 6, -1, 255])
def test_rule_basis_out_of_range(basis: int) -> None:
    refused("basis_out_of_range", permit_type=LONG, basis=basis)


def test_rule_temporary_has_no_basis() -> None:
    refused("temporary_has_no_basis", permit_type=TEMP, basis=2)


@pytest.mark.parametrize("basis", [1, 3, 4])
def test_family_member_gets_sponsors_terms(basis: int) -> None:
    terms = decide_terms(permit_type=LONG, basis=None, requested_expires_on=None, today=TODAY,
                         sponsor=sponsor(basis), applicant_citizen_number=APPLICANT_CN)
    assert terms == PermitTerms(LONG, basis, SPONSOR_CN, TODAY, date(2028, 3, 15))


def test_family_member_may_repeat_sponsors_expiry_and_basis() -> None:
    terms = decide_terms(permit_type=LONG, basis=4, requested_expires_on=date(2028, 3, 15),
                         today=TODAY, sponsor=sponsor(4))
    assert terms.expires_on == date(2028, 3, 15)
    assert terms.sponsor_citizen_number == SPONSOR_CN


@pytest.mark.parametrize("basis", [2, 5, None])
def test_rule_sponsor_basis_not_eligible(basis: int | None) -> None:
    refused("sponsor_basis_not_eligible", permit_type=LONG, basis=None, sponsor=sponsor(basis))


def test_rule_sponsor_basis_not_eligible_for_temporary_sponsor() -> None:
    refused("sponsor_basis_not_eligible", permit_type=LONG, basis=None,
            sponsor=sponsor(None, permit_type=TEMP))


def test_family_member_cannot_choose_another_basis() -> None:
    refused("sponsor_basis_not_eligible", permit_type=LONG, basis=3, sponsor=sponsor(1))


def test_family_member_permit_is_not_temporary() -> None:
    refused("temporary_has_no_basis", permit_type=TEMP, basis=None, sponsor=sponsor(1))


def test_rule_sponsor_expired() -> None:
    refused("sponsor_expired", permit_type=LONG, basis=None,
            sponsor=sponsor(1, expires_on=date(2026, 11, 27)))


def test_sponsor_expiring_today_gives_no_usable_permit() -> None:
    refused("expiry_before_issue", permit_type=LONG, basis=None,
            sponsor=sponsor(1, expires_on=TODAY))


def test_rule_sponsor_is_applicant() -> None:
    refused("sponsor_is_applicant", permit_type=LONG, basis=None, sponsor=sponsor(1),
            applicant_citizen_number=SPONSOR_CN.lower())


def test_rule_family_expiry_is_sponsors() -> None:
    error = refused("family_expiry_is_sponsors", permit_type=LONG, basis=None,
                    sponsor=sponsor(1), requested_expires_on=date(2027, 1, 1))
    assert "2028-03-15" in error.message


def test_every_rule_has_a_test() -> None:
    names = {name for name in globals() if name.startswith("test_rule_")}
    assert {f"test_rule_{rule}" for rule in RULES} <= names


def test_unknown_permit_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        decide_terms(permit_type="forever", basis=None,  # type: ignore[arg-type]
                     requested_expires_on=None, today=TODAY)
    assert (info.value.field, info.value.reason) == ("permit_type", "unknown_code")


# --- re-sign, evidence, sponsors in their own right, and the application rules -----------


def test_rule_sponsor_not_registered() -> None:
    from cardservice.workflow.rules import check_application
    from tests.workflow_fixtures import FakeLookups, family

    with pytest.raises(PolicyError) as info:
        check_application(family(), FakeLookups(), TODAY)
    assert info.value.rule == "sponsor_not_registered"


def test_rule_sponsor_is_family_member() -> None:
    chained = Sponsor(SPONSOR_CN, LONG, 1, date(2028, 3, 15), sponsored_by="110105195001011234")
    refused("sponsor_is_family_member", permit_type=LONG, basis=None, sponsor=chained)


def _resign(**kwargs: object) -> PermitTerms:
    args = {"permit_type": LONG, "basis": 2, "requested_expires_on": None,
            "current_expires_on": date(2027, 6, 30), "extend": False, "evidence": None,
            "today": TODAY}
    return decide_resign_terms(**{**args, **kwargs})  # type: ignore[arg-type]


def test_rule_resign_keeps_expiry() -> None:
    assert _resign().expires_on == date(2027, 6, 30)
    assert _resign(requested_expires_on=date(2027, 1, 1)).expires_on == date(2027, 1, 1)
    assert _resign(extend=True).expires_on == date(2028, 11, 28)
    assert _resign(permit_type=TEMP, basis=None).expires_on == date(2027, 5, 28)
    with pytest.raises(PolicyError) as info:
        _resign(requested_expires_on=date(2027, 7, 1))
    assert info.value.rule == "resign_keeps_expiry"
    assert "extend" in info.value.message


def test_rule_basis_evidence_required() -> None:
    for evidence in (None, Evidence("lease_contract", " "), Evidence("labour_contract", "L1")):
        with pytest.raises(PolicyError) as info:
            _resign(basis=1, evidence=evidence)
        assert info.value.rule == "basis_evidence_required"
    assert _resign(basis=1, evidence=Evidence("property_certificate", "P-9")).basis == 1
    for basis, kinds in EVIDENCE_KINDS.items():
        for kind in kinds:
            check_evidence(basis, Evidence(kind, "ref"), why="test")


def test_rule_replacement_identity_mismatch() -> None:
    from card_layout.identity import Identity
    from cardservice.workflow.rules import check_application
    from tests.workflow_fixtures import BOB, FakeLookups, card, replacement

    lookups = FakeLookups(cards=[card("00000000000000a1", BOB["citizen_number"])],
                          identities={"00000000000000a1": Identity.create(**BOB)})
    with pytest.raises(PolicyError) as info:
        check_application(replacement(name="李五"), lookups, TODAY)
    assert info.value.rule == "replacement_identity_mismatch"


def test_rule_family_relationship_invalid() -> None:
    from cardservice.workflow.rules import check_application
    from tests.workflow_fixtures import FakeLookups, family

    with pytest.raises(PolicyError) as info:
        check_application(family("neighbour"), FakeLookups(), TODAY)
    assert info.value.rule == "family_relationship_invalid"


def test_rule_application_required() -> None:
    with pytest.raises(PolicyError) as info:
        check_direct_issue(True)
    assert info.value.rule == "application_required"


def test_rule_residence_outside_site_area() -> None:
    from cardservice.engine.area import SiteArea

    area = SiteArea.parse("示范县城关镇")
    area.check("示范县城关镇幸福路1号")
    with pytest.raises(PolicyError) as info:
        area.check("示范县新城街道和平路12号")
    assert info.value.rule == "residence_outside_site_area"


def test_every_rule_used_in_code_is_listed() -> None:
    """Every ``PolicyError("<rule>", ...)`` in the package names a rule of RULES."""
    import re
    from pathlib import Path

    import cardservice

    root = Path(cardservice.__file__).parent
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r'PolicyError\(\s*"([a-z0-9_]+)"', path.read_text("utf-8")))
        used |= set(re.findall(r'rule = \("([a-z0-9_]+)"', path.read_text("utf-8")))
    assert used and used <= set(RULES), used - set(RULES)
