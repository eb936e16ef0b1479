"""A card's verification report: the named checks, their results, the overall status (by the
precedence in :mod:`cardservice.engine.verify`) and the registry's verdicts (REVOCATION,
ROLLBACK, SPONSOR) applied to a report."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from types import SimpleNamespace

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

# The members again, as plain attributes: ``CHECK.FORMAT is Check.FORMAT``. On Python 3.11 a
# member looked up on its enum class goes through the metaclass's ``__getattr__`` hook (0.10 µs
# a look-up here, 0.03 µs from these), and every read makes dozens of them in the functions
# below and in engine.verify (Python 3.12.1, which has no such hook: 0.03 µs on the class).
CHECK = SimpleNamespace(**Check.__members__)
RESULT = SimpleNamespace(**Result.__members__)
STATUS = SimpleNamespace(**Status.__members__)


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


_SUCCEEDED = {check: CheckResult(check, RESULT.SUCCEEDED, "ok") for check in Check}


def failure(check: Check, reason: str) -> CheckResult:
    return CheckResult(check, RESULT.FAILED, reason)


def not_checked(check: Check, reason: str) -> CheckResult:
    return CheckResult(check, RESULT.NOT_CHECKED, reason)


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
        return self._with_checks({check: not_checked(check, REGISTRY_UNAVAILABLE)
                                  for check in (CHECK.REVOCATION, CHECK.ROLLBACK)})

    def with_registry(
        self, *, revoked: bool | None, last_sequence: int | None,
        sponsor_eligible: bool | None = None,
    ) -> VerificationReport:
        """This report with REVOCATION, ROLLBACK and SPONSOR filled from the registry (None =
        unknown)."""
        return self._with_checks({
            CHECK.REVOCATION: _revocation(revoked),
            CHECK.ROLLBACK: rollback_check(self.record, last_sequence, self.counter),
            CHECK.SPONSOR: _sponsor(self.record, sponsor_eligible),
        })

    def _with_checks(self, updated: dict[Check, CheckResult]) -> VerificationReport:
        """This report with the checks in ``updated`` replaced (in place, the order kept) and
        the status worked out again; every other field as it is (built directly: a read
        makes one of these, and ``dataclasses.replace`` costs three times as much)."""
        checks = tuple([updated.get(item.check, item) for item in self.checks])
        return VerificationReport(status_of(checks), checks,
                                  *[getattr(self, name) for name in _KEPT_FIELDS])


#: the fields :meth:`VerificationReport._with_checks` carries over, in order (all but the first
#: two, the status and the checks)
_KEPT_FIELDS = tuple(f.name for f in fields(VerificationReport))[2:]


def _revocation(revoked: bool | None) -> CheckResult:
    if revoked is None:
        return not_checked(CHECK.REVOCATION, NOT_CHECKED_REGISTRY)
    return failure(CHECK.REVOCATION, "revoked") if revoked else succeeded(CHECK.REVOCATION)


def _sponsor(record: ResidenceRecord | None, eligible: bool | None) -> CheckResult:
    if record is None or record.sponsor_citizen_number is None:
        return not_checked(CHECK.SPONSOR, "not_family")
    if eligible is None:
        return not_checked(CHECK.SPONSOR, NOT_CHECKED_REGISTRY)
    return succeeded(CHECK.SPONSOR) if eligible else CheckResult(CHECK.SPONSOR, RESULT.WARNING,
                                                           "sponsor_not_eligible")


def rollback_check(record: ResidenceRecord | None, last_sequence: int | None,
              counter: int | None) -> CheckResult:
    """The registry's last sequence, else the card's own counter, shows an older record."""
    if record is not None and last_sequence is not None and record.sequence < last_sequence:
        return failure(CHECK.ROLLBACK, "sequence_below_registry")
    if record is not None and counter is not None and record.sequence < counter:
        return failure(CHECK.ROLLBACK, "sequence_below_counter")
    if last_sequence is None:
        return not_checked(CHECK.ROLLBACK, NOT_CHECKED_REGISTRY)
    if record is None:
        return not_checked(CHECK.ROLLBACK, "no_record")
    return succeeded(CHECK.ROLLBACK)


def status_of(checks: tuple[CheckResult, ...]) -> Status:
    """The overall status from the checks, by the precedence in the module docstring (one pass
    over the checks: it is worked out twice in every read)."""
    failed: list[CheckResult] = []
    signed = 0  # signature checks present and checked
    for item in checks:
        result = item.result
        if result is RESULT.FAILED:
            failed.append(item)
        elif result is RESULT.NOT_CHECKED:
            if item.check == CHECK.FORMAT and item.reason == "empty":
                return STATUS.BLANK
            continue
        if item.check in _SIGNATURES:
            signed += 1
    status = STATUS.VALID if signed == len(_SIGNATURES) else STATUS.UNSIGNED
    if not failed:  # the common case: only the signatures' presence is left to decide
        return status
    validity, revoked = None, False
    for item in failed:
        if item.check == CHECK.VALIDITY:
            validity = item
        elif item.check == CHECK.REVOCATION:
            revoked = True
        else:
            return STATUS.INVALID
    if validity is not None and validity.reason != "expired":
        return STATUS.INVALID
    if revoked:
        return STATUS.REVOKED
    return STATUS.EXPIRED if validity is not None else status


_SIGNATURES = (CHECK.IDENTITY_SIGNATURE, CHECK.RECORD_SIGNATURE)
