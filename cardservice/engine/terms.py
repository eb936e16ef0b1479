"""The terms of a write, before anything touches the card: an issue's required fields and
terms, a re-sign's or renewal's merge with the current record (expiry, extend, basis evidence,
sponsor rules), the sponsor's registry standing, and the record that carries the terms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime

from card_layout import citizen
from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.record import PermitType, ResidenceRecord
from cardservice import errors
from cardservice.engine.model import CardView, PermitRequest, field_error
from cardservice.engine.policy import (
    Held,
    PermitTerms,
    Sponsor,
    check_evidence,
    decide_renew_terms,
    decide_resign_terms,
    decide_terms,
    sponsor_eligible,
)
from cardservice.engine.report import Status, VerificationReport
from cardservice.store.registry import CardStatus, Registry


class TermsRules:
    """Policy decisions that need the registry (sponsors) and today's date."""

    def __init__(self, registry: Registry, today: Callable[[], date]) -> None:
        self.registry = registry
        self.today = today

    def check_born(self, identity: Identity) -> None:
        """A write-once identity must not carry a birth date after today."""
        try:
            citizen.validate_citizen_number(identity.citizen_number, today=self.today())
        except FieldError as exc:
            raise field_error(exc) from exc

    def for_issue(self, request: PermitRequest, applicant: str, *,
                  from_application: bool = False) -> PermitTerms:
        """An issue's terms; the residence and the permit type are required. A direct issue
        long-term in the holder's own right needs ``request.evidence`` as an application does
        (else it would grant, with nothing on file, what an application must prove); one
        ``from_application`` had its evidence checked at submission."""
        if not request.current_residence:
            raise errors.ValidationError("current_residence", "is required", "empty")
        if request.permit_type is None:
            raise errors.ValidationError("permit_type", "is required", "empty")
        sponsor_cn = request.sponsor_citizen_number
        sponsor = self.sponsor(sponsor_cn) if sponsor_cn else None
        terms = decide_terms(permit_type=request.permit_type, basis=request.basis,
                             requested_expires_on=request.expires_on, today=self.today(),
                             sponsor=sponsor, applicant_citizen_number=applicant)
        if not from_application and terms.sponsor_citizen_number is None:
            check_evidence(terms.basis, request.evidence, why="a long-term permit")
        return terms

    def for_rewrite(self, operation: str, request: PermitRequest, current: ResidenceRecord,
                    applicant: str) -> PermitTerms:
        """Re-sign or renewal terms. A family member keeps the sponsor only while staying
        long-term without naming an own basis; as temporary (or on an own basis) the sponsor
        is dropped, so a holder whose sponsor lost eligibility is not locked out. A new
        long-term standing in the holder's own right (from temporary, from a family member's
        permit, or on another basis) needs ``request.evidence`` as a first issue does."""
        merged = _merge(request, current)
        family = (current.sponsor_citizen_number is not None and request.basis is None
                  and merged.permit_type is PermitType.LONG_TERM)
        sponsor = self.sponsor(current.sponsor_citizen_number) if family else None
        if family:
            merged = dataclasses.replace(merged, basis=None)
        held = Held(current.permit_type, current.basis,
                    sponsored=current.sponsor_citizen_number is not None)
        if operation == "renew":
            return decide_renew_terms(permit_type=merged.permit_type, basis=merged.basis,
                                      requested_expires_on=request.expires_on, held=held,
                                      evidence=request.evidence, today=self.today(),
                                      sponsor=sponsor, applicant_citizen_number=applicant)
        return decide_resign_terms(
            permit_type=merged.permit_type, basis=merged.basis,
            requested_expires_on=request.expires_on, current_expires_on=current.expires_on,
            extend=request.extend, evidence=request.evidence, today=self.today(),
            sponsor=sponsor, applicant_citizen_number=applicant, held=held)

    def sponsor(self, citizen_number: str) -> Sponsor:
        """The sponsor's registry row, looked up by the number in stored form only after it
        passed the same format and check-digit rules as any citizen number."""
        try:
            citizen_number = citizen.validate_citizen_number(
                citizen_number, "sponsor_citizen_number", today=self.today())
        except FieldError as exc:
            raise field_error(exc) from exc
        sponsor = self.sponsor_or_none(citizen_number)
        if sponsor is None:
            raise errors.PolicyError("sponsor_not_registered",
                                     "the sponsor holds no active card in the registry")
        return sponsor

    def sponsor_or_none(self, citizen_number: str) -> Sponsor | None:
        row = self.registry.active_card(citizen_number)
        if row is None:
            return None
        return Sponsor(row.citizen_number, PermitType(row.permit_type), row.basis, row.expires_on,
                       sponsored_by=row.sponsor_citizen_number)

    def sponsor_eligible(self, report: VerificationReport) -> bool | None:
        """Whether the record's sponsor may still sponsor (``None``: the record has none)."""
        record = report.record
        if record is None or record.sponsor_citizen_number is None:
            return None
        return sponsor_eligible(self.sponsor_or_none(record.sponsor_citizen_number),
                                self.today())


def writable_record(view: CardView) -> ResidenceRecord:
    """The current record of a card that may be re-signed or renewed, or the reason why not
    (a produced card not handed over yet: APPLICATION_STATE)."""
    report = view.report
    if view.registry_error and view.registry_error["code"] == "REGISTRY_UNAVAILABLE":
        raise errors.RegistryUnavailableError(view.registry_error["message"])
    if not view.locked or report.identity is None:
        raise errors.NotPersonalizedError(f"card {view.serial.hex()} is blank; issue it first")
    if view.registry is not None and view.registry.revoked:
        raise errors.CardRevokedError(
            f"card {view.serial.hex()} is {view.registry.status.value} in the registry"
        )
    if view.registry is not None and view.registry.status is CardStatus.PRODUCED:
        # the hand-over activates it: a write now would make it active without the holder
        raise errors.NotHandedOverError(
            f"card {view.serial.hex()} was produced for an application and is not handed over "
            "yet; hand it over first")
    if report.status not in (Status.VALID, Status.EXPIRED) or report.record is None:
        failed = [c for c in report.checks if c.result.value == "failed"]
        why = ", ".join(f"{c.check.value}: {c.reason}" for c in failed) or report.status.value
        raise errors.CardInvalidError(f"the card does not verify ({why}); not re-signed")
    return report.record


def build_record(sequence: int, residence: str, terms: PermitTerms, *, authority: str,
                 signed_at: datetime) -> ResidenceRecord:
    """The residence record carrying ``terms`` (a field the card format refuses is a
    VALIDATION_ERROR)."""
    try:
        return ResidenceRecord.create(
            sequence=sequence, permit_type=terms.permit_type, basis=terms.basis,
            sponsor_citizen_number=terms.sponsor_citizen_number,
            current_residence=residence, issuing_authority=authority,
            issued_on=terms.issued_on, expires_on=terms.expires_on, signed_at=signed_at,
        )
    except FieldError as exc:
        raise field_error(exc) from exc


def _merge(request: PermitRequest, current: ResidenceRecord) -> PermitRequest:
    """Fill what the request leaves open from the current record."""
    permit_type = request.permit_type or current.permit_type
    basis = request.basis
    if basis is None and permit_type == current.permit_type:
        basis = current.basis
    return dataclasses.replace(request, permit_type=permit_type, basis=basis)
