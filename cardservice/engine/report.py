"""A card's verification report: the named checks, their results, the overall status (by the
precedence in :mod:`cardservice.engine.verify`) and the registry's verdicts (REVOCATION,
ROLLBACK, SPONSOR) applied to a report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from card_layout.files import Fid
from card_layout.identity import Identity
from card_layout.record import ResidenceRecord
from card_layout.signature import SignatureBlock
from card_layout.slots import SlotState


class Check(str, Enum):
    FORMAT = "format"
    IDENTITY_SIGNATURE = "identity_signature"
    RECORD_SIGNATURE = "record_signature"
    CERTIFICATE_CHAIN = "certificate_chain"
    VALIDITY = "validity"
    REVOCATION = "revocation"
    ROLLBACK = "rollback"
    CHIP_AUTHENTIC = "chip_authentic"
    CARD_COUNTER = "card_counter"
    SPONSOR = "sponsor"


class Result(str, Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    WARNING = "warning"


class Status(str, Enum):
    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BLANK = "blank"
    UNSIGNED = "unsigned"
    #: a verify-only installation whose trust bundle is older than its max_age (or missing):
    #: the card verifies but its revocation state is not known to be current
    REVOCATION_STALE = "revocation_stale"


#: every check, in the order a report lists them
CHECKS = tuple(Check)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    result: Result
    reason: str


NOT_CHECKED_REGISTRY = "not_checked_registry"
REGISTRY_UNAVAILABLE = "registry_unavailable"


@dataclass(frozen=True)
class ChipEvidence:
    """What the card said for itself: the counter of its SELECT answer (None: a card OS without
    one), the host's INTERNAL AUTHENTICATE challenge and the chip's answer (None: none given)."""

    counter: int | None
    challenge: bytes | None
    answer: bytes | None


def succeeded(check: Check) -> CheckResult:
    return _SUCCEEDED[check]


_SUCCEEDED = {check: CheckResult(check, Result.SUCCEEDED, "ok") for check in Check}


def failure(check: Check, reason: str) -> CheckResult:
    return CheckResult(check, Result.FAILED, reason)


def not_checked(check: Check, reason: str) -> CheckResult:
    return CheckResult(check, Result.NOT_CHECKED, reason)


@dataclass(frozen=True)
class VerificationReport:
    status: Status
    checks: tuple[CheckResult, ...]
    serial: bytes
    identity: Identity | None
    record: ResidenceRecord | None
    current_slot: Fid | None
    identity_signature: SignatureBlock | None
    record_signature: SignatureBlock | None
    slots: tuple[SlotState, SlotState] | None
    counter: int | None = None  # the card's record-write counter as the chip vouched for it
    photo: bytes | None = None  # EF.PHOTO when it was read and matches the signed hash

    def check(self, check: Check) -> CheckResult:
        for item in self.checks:
            if item.check == check:
                return item
        return not_checked(check, "not_checked")

    def registry_unavailable(self) -> VerificationReport:
        """The registry could not be asked: revocation and rollback are skipped with reason
        ``registry_unavailable`` (the card's own verdicts stand)."""
        updated = {item.check: item for item in self.checks}
        for check in (Check.REVOCATION, Check.ROLLBACK):
            updated[check] = not_checked(check, REGISTRY_UNAVAILABLE)
        checks = tuple(updated[check] for check in CHECKS)
        return replace(self, checks=checks, status=status_of(checks))

    def with_registry(
        self, *, revoked: bool | None, last_sequence: int | None,
        sponsor_eligible: bool | None = None,
    ) -> VerificationReport:
        """This report with REVOCATION, ROLLBACK and SPONSOR filled from the registry (None =
        unknown)."""
        updated = {item.check: item for item in self.checks}
        updated[Check.REVOCATION] = _revocation(revoked)
        updated[Check.ROLLBACK] = rollback_check(self.record, last_sequence, self.counter)
        updated[Check.SPONSOR] = _sponsor(self.record, sponsor_eligible)
        checks = tuple(updated[check] for check in CHECKS)
        return replace(self, checks=checks, status=status_of(checks))


def _revocation(revoked: bool | None) -> CheckResult:
    if revoked is None:
        return not_checked(Check.REVOCATION, NOT_CHECKED_REGISTRY)
    return failure(Check.REVOCATION, "revoked") if revoked else succeeded(Check.REVOCATION)


def _sponsor(record: ResidenceRecord | None, eligible: bool | None) -> CheckResult:
    if record is None or record.sponsor_citizen_number is None:
        return not_checked(Check.SPONSOR, "not_family")
    if eligible is None:
        return not_checked(Check.SPONSOR, NOT_CHECKED_REGISTRY)
    return succeeded(Check.SPONSOR) if eligible else CheckResult(Check.SPONSOR, Result.WARNING,
                                                           "sponsor_not_eligible")


def rollback_check(record: ResidenceRecord | None, last_sequence: int | None,
              counter: int | None) -> CheckResult:
    """The registry's last sequence, else the card's own counter, shows an older record."""
    if record is not None and last_sequence is not None and record.sequence < last_sequence:
        return failure(Check.ROLLBACK, "sequence_below_registry")
    if record is not None and counter is not None and record.sequence < counter:
        return failure(Check.ROLLBACK, "sequence_below_counter")
    if last_sequence is None:
        return not_checked(Check.ROLLBACK, NOT_CHECKED_REGISTRY)
    if record is None:
        return not_checked(Check.ROLLBACK, "no_record")
    return succeeded(Check.ROLLBACK)


def status_of(checks: tuple[CheckResult, ...]) -> Status:
    """The overall status from the checks, by the precedence in the module docstring."""
    by_check = {item.check: item for item in checks}
    fmt = by_check.get(Check.FORMAT)
    if fmt is not None and fmt.result is Result.NOT_CHECKED and fmt.reason == "empty":
        return Status.BLANK
    failed = {item.check: item for item in by_check.values() if item.result is Result.FAILED}
    if not failed:  # the common case: only the signatures' presence is left to decide
        return _signed_status(by_check)
    validity = failed.get(Check.VALIDITY)
    if any(c not in (Check.VALIDITY, Check.REVOCATION) for c in failed) or (
            validity is not None and validity.reason != "expired"):
        return Status.INVALID
    if Check.REVOCATION in failed:
        return Status.REVOKED
    if validity is not None:
        return Status.EXPIRED
    return _signed_status(by_check)


def _signed_status(by_check: dict[Check, CheckResult]) -> Status:
    for check in (Check.IDENTITY_SIGNATURE, Check.RECORD_SIGNATURE):
        item = by_check.get(check)
        if item is None or item.result is Result.NOT_CHECKED:
            return Status.UNSIGNED
    return Status.VALID
