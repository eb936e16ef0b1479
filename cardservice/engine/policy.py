"""Permit rules: which permit type, basis and expiry a (re-)signed record may carry.

Pure: ``today`` is a parameter. Every refusal is a :class:`~cardservice.errors.PolicyError`
whose ``rule`` is one of the stable names in :data:`RULES`.

- A temporary permit has no basis and runs at most 6 calendar months from the issue date.
- A long-term permit needs a basis 1..5 and runs at most 2 years from the issue date.
- A family-member permit (``sponsor`` given) is long-term, carries the sponsor's basis and
  citizen number and expires with the sponsor's permit; the sponsor must hold an unexpired
  long-term permit on basis 1, 3 or 4 and cannot be the applicant.
- The issue date is always ``today``; without a requested expiry the maximum is granted.
  "+N months" keeps the day of month, clamped to the month's last day (08-31 + 6 -> 02-28).
- A sponsor holds their permit in their own right: a family member cannot sponsor (no chains).
- A re-sign after a move (:func:`decide_resign_terms`) keeps the expiry; extending it is a
  renewal, combined with the re-sign only on an explicit ``extend``. A long-term permit on
  basis 1 (housing at the residence) moving needs new basis :class:`Evidence`.
- A re-sign or renewal (:func:`decide_renew_terms`) that makes the permit long-term in the
  holder's own right, or changes its basis, needs evidence as a first issue does
  (:func:`check_rewrite_evidence`); keeping the same basis needs none.
- A direct issue (no application) long-term in the holder's own right needs evidence as an
  application does (:func:`check_evidence`, called by ``engine.terms.TermsRules.for_issue``).
- A family member whose sponsor is no longer eligible may re-sign or renew as temporary.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date

from card_layout.record import PermitType
from cardservice.errors import PolicyError, ValidationError

logger = logging.getLogger(__name__)

TEMPORARY_MONTHS = 6
LONG_TERM_MONTHS = 24
BASES = range(1, 6)
FAMILY_BASES = frozenset({1, 3, 4})

RULES = (
    "expiry_in_past",
    "expiry_before_issue",
    "temporary_max_6_months",
    "long_term_max_2_years",
    "long_term_requires_basis",
    "basis_out_of_range",
    "temporary_has_no_basis",
    "sponsor_basis_not_eligible",
    "sponsor_expired",
    "sponsor_is_applicant",
    "family_expiry_is_sponsors",
    "sponsor_not_registered",
    "sponsor_is_family_member",
    "resign_keeps_expiry",
    "basis_evidence_required",
    "replacement_identity_mismatch",
    "family_relationship_invalid",
    "application_required",
    "residence_outside_site_area",
)

#: The evidence that proves each long-term basis (kind names are stable).
EVIDENCE_KINDS: dict[int, frozenset[str]] = {
    1: frozenset({"property_certificate", "lease_contract"}),
    2: frozenset({"social_insurance_record", "labour_contract"}),
    3: frozenset({"business_licence"}),
    4: frozenset({"talent_certificate"}),
    5: frozenset({"local_government_document"}),
}
RELATIONSHIPS = frozenset({"spouse", "child", "parent"})


@dataclass(frozen=True)
class Sponsor:
    """The family member whose long-term permit a family-member permit derives from."""

    citizen_number: str
    permit_type: PermitType
    basis: int | None
    expires_on: date
    #: the sponsor's own sponsor, if their permit is itself a family member's
    sponsored_by: str | None = None


@dataclass(frozen=True)
class Evidence:
    """What proves a long-term basis: a kind from :data:`EVIDENCE_KINDS` and its reference."""

    kind: str
    reference: str


@dataclass(frozen=True)
class Held:
    """The permit a card holds before a re-sign or renewal: whether the new terms grant a
    long-term standing that the evidence on file does not cover."""

    permit_type: PermitType
    basis: int | None
    #: the permit is a family member's (derived from a sponsor's, no evidence of its own)
    sponsored: bool = False


@dataclass(frozen=True)
class PermitTerms:
    """The erasable-record terms the rules grant."""

    permit_type: PermitType
    basis: int | None
    sponsor_citizen_number: str | None
    issued_on: date
    expires_on: date


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, the day clamped to the target month's end."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


def decide_terms(
    *,
    permit_type: PermitType,
    basis: int | None,
    requested_expires_on: date | None,
    today: date,
    sponsor: Sponsor | None = None,
    applicant_citizen_number: str | None = None,
) -> PermitTerms:
    """The terms of a first issue, renewal or re-sign on ``today``; raises PolicyError."""
    permit_type = _permit_type(permit_type)
    if sponsor is not None:
        return _family_terms(permit_type, basis, requested_expires_on, today, sponsor,
                             applicant_citizen_number)
    _check_basis(permit_type, basis)
    months = TEMPORARY_MONTHS if permit_type is PermitType.TEMPORARY else LONG_TERM_MONTHS
    maximum = add_months(today, months)
    expires_on = maximum if requested_expires_on is None else requested_expires_on
    _check_expiry(expires_on, today)
    if expires_on > maximum:
        rule = ("temporary_max_6_months" if permit_type is PermitType.TEMPORARY
                else "long_term_max_2_years")
        raise PolicyError(rule, f"expiry {expires_on} is after the latest allowed {maximum}")
    return PermitTerms(permit_type, basis, None, today, expires_on)


def _permit_type(value: PermitType | str) -> PermitType:
    try:
        return PermitType(value)
    except ValueError:
        raise ValidationError("permit_type", f"{value!r} is not temporary/long_term",
                              "unknown_code") from None


def _check_basis(permit_type: PermitType, basis: int | None) -> None:
    if permit_type is PermitType.TEMPORARY:
        if basis is not None:
            raise PolicyError("temporary_has_no_basis",
                              f"a temporary permit carries no basis (got {basis})")
        return
    if basis is None:
        raise PolicyError("long_term_requires_basis", "a long-term permit needs a basis 1..5")
    if basis not in BASES:
        raise PolicyError("basis_out_of_range", f"basis must be 1..5 (got {basis})")


def _check_expiry(expires_on: date, today: date) -> None:
    if expires_on < today:
        raise PolicyError("expiry_in_past", f"expiry {expires_on} is before today {today}")
    if expires_on <= today:
        raise PolicyError("expiry_before_issue",
                          f"expiry {expires_on} must be after the issue date {today}")


def _family_terms(
    permit_type: PermitType,
    basis: int | None,
    requested_expires_on: date | None,
    today: date,
    sponsor: Sponsor,
    applicant_citizen_number: str | None,
) -> PermitTerms:
    if permit_type is not PermitType.LONG_TERM:
        raise PolicyError("temporary_has_no_basis",
                          "a family-member permit is long-term with the sponsor's basis")
    if sponsor.permit_type is not PermitType.LONG_TERM or sponsor.basis not in FAMILY_BASES:
        raise PolicyError("sponsor_basis_not_eligible",
                          "the sponsor needs a long-term permit on basis 1, 3 or 4 "
                          f"(has {PermitType(sponsor.permit_type).value}, basis {sponsor.basis})")
    if basis is not None and basis != sponsor.basis:
        raise PolicyError("sponsor_basis_not_eligible",
                          f"a family-member permit carries the sponsor's basis {sponsor.basis}"
                          f" (got {basis})")
    if sponsor.sponsored_by is not None:
        raise PolicyError("sponsor_is_family_member",
                          "the sponsor holds a family member's permit; only a holder in their "
                          "own right can sponsor")
    if sponsor.expires_on < today:
        raise PolicyError("sponsor_expired", f"the sponsor's permit expired on {sponsor.expires_on}")
    if applicant_citizen_number is not None and _same_person(applicant_citizen_number, sponsor):
        raise PolicyError("sponsor_is_applicant", "the applicant cannot sponsor themselves")
    if requested_expires_on is not None and requested_expires_on != sponsor.expires_on:
        raise PolicyError("family_expiry_is_sponsors",
                          f"a family-member permit expires with the sponsor's, {sponsor.expires_on}"
                          f" (requested {requested_expires_on})")
    _check_expiry(sponsor.expires_on, today)
    return PermitTerms(PermitType.LONG_TERM, sponsor.basis, sponsor.citizen_number, today,
                       sponsor.expires_on)


def _same_person(applicant_citizen_number: str, sponsor: Sponsor) -> bool:
    return applicant_citizen_number.strip().upper() == sponsor.citizen_number.strip().upper()


def check_direct_issue(applications_required: bool) -> None:
    """A site that requires applications refuses a direct issue (rule ``application_required``)."""
    if applications_required:
        raise PolicyError("application_required",
                          "this site issues cards only from certified applications "
                          "(CARDSERVICE_REQUIRE_APPLICATIONS); submit an application")


def sponsor_eligible(sponsor: Sponsor | None, today: date) -> bool:
    """True if ``sponsor`` (None: holds no active card) may sponsor a family member today."""
    return (sponsor is not None and sponsor.permit_type is PermitType.LONG_TERM
            and sponsor.basis in FAMILY_BASES and sponsor.sponsored_by is None
            and sponsor.expires_on >= today)


def check_evidence(basis: int | None, evidence: Evidence | None, *, why: str) -> None:
    """A long-term ``basis`` needs evidence of a kind that proves it (rule
    ``basis_evidence_required``); ``why`` says what needs it."""
    if basis is None:
        return
    kinds = EVIDENCE_KINDS.get(basis, frozenset())
    if evidence is None or not evidence.reference.strip():
        raise PolicyError("basis_evidence_required",
                          f"{why} needs evidence for basis {basis}: one of {', '.join(sorted(kinds))}"
                          " with its reference")
    if evidence.kind not in kinds:
        raise PolicyError("basis_evidence_required",
                          f"{evidence.kind!r} does not prove basis {basis}; "
                          f"one of {', '.join(sorted(kinds))}")


def decide_resign_terms(
    *,
    permit_type: PermitType,
    basis: int | None,
    requested_expires_on: date | None,
    current_expires_on: date,
    extend: bool,
    evidence: Evidence | None,
    today: date,
    sponsor: Sponsor | None = None,
    applicant_citizen_number: str | None = None,
    held: Held | None = None,
) -> PermitTerms:
    """The terms of a re-sign after a move; raises PolicyError.

    Without ``extend`` the expiry stays (a change to temporary caps it at six months from
    today; a family member's follows the sponsor's); a later requested expiry is
    ``resign_keeps_expiry``. With ``extend`` this is also a renewal (:func:`decide_terms`).
    Long-term on basis 1 in the holder's own right needs new evidence for the new address;
    given the ``held`` permit, so does a new long-term standing (:func:`check_rewrite_evidence`).
    """
    permit_type = _permit_type(permit_type)
    if permit_type is PermitType.LONG_TERM and sponsor is None and basis == 1:
        check_evidence(basis, evidence, why="a move with a long-term permit on basis 1")
    if extend or sponsor is not None:
        terms = decide_terms(permit_type=permit_type, basis=basis,
                             requested_expires_on=requested_expires_on, today=today,
                             sponsor=sponsor, applicant_citizen_number=applicant_citizen_number)
    else:
        if requested_expires_on is not None and requested_expires_on > current_expires_on:
            raise PolicyError("resign_keeps_expiry",
                              f"a re-sign keeps the expiry {current_expires_on}; extending it "
                              f"to {requested_expires_on} is a renewal (extend: true)")
        keep = requested_expires_on or current_expires_on
        if permit_type is PermitType.TEMPORARY:
            keep = min(keep, add_months(today, TEMPORARY_MONTHS))
        terms = decide_terms(permit_type=permit_type, basis=basis, requested_expires_on=keep,
                             today=today)
    check_rewrite_evidence(terms, held, evidence, what="a re-sign")
    return terms


def decide_renew_terms(
    *,
    permit_type: PermitType,
    basis: int | None,
    requested_expires_on: date | None,
    held: Held | None,
    evidence: Evidence | None,
    today: date,
    sponsor: Sponsor | None = None,
    applicant_citizen_number: str | None = None,
) -> PermitTerms:
    """The terms of a renewal (:func:`decide_terms`); a new long-term standing against the
    ``held`` permit needs evidence (:func:`check_rewrite_evidence`)."""
    terms = decide_terms(permit_type=permit_type, basis=basis,
                         requested_expires_on=requested_expires_on, today=today,
                         sponsor=sponsor, applicant_citizen_number=applicant_citizen_number)
    check_rewrite_evidence(terms, held, evidence, what="a renewal")
    return terms


def check_rewrite_evidence(terms: PermitTerms, held: Held | None, evidence: Evidence | None,
                           *, what: str) -> None:
    """Rule ``basis_evidence_required`` for a re-sign or renewal: without it a temporary holder
    could be rewritten long-term (and sponsor family) with nothing on file. Applies when the
    new ``terms`` are long-term in the holder's own right and the ``held`` permit was
    temporary, a family member's, or on another basis; ``None`` (held unknown) checks nothing."""
    if (held is None or terms.permit_type is not PermitType.LONG_TERM
            or terms.sponsor_citizen_number is not None):
        return
    held_type = _permit_type(held.permit_type)
    if held_type is PermitType.TEMPORARY:
        why = f"{what} from temporary to long-term"
    elif held.sponsored:
        why = f"{what} from a family member's permit to one in the holder's own right"
    elif held.basis != terms.basis:
        why = f"{what} changing the long-term basis from {held.basis}"
    else:
        return
    check_evidence(terms.basis, evidence, why=why)
