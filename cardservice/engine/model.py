"""The engine's value types: the clock, a caller's permit request, a write intent and a card as
read (``CardView``), with the helpers that shape a view's registry part."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.policy import Evidence
from cardservice.engine.report import Check, CheckResult, Result, Status, VerificationReport
from cardservice.store.registry import CardRow

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PermitRequest:
    """What a caller asks for; ``None`` keeps the card's current value (re-sign / renew)."""

    current_residence: str | None = None
    permit_type: PermitType | None = None
    basis: int | None = None
    sponsor_citizen_number: str | None = None
    expires_on: date | None = None
    #: a re-sign also renews (new expiry); without it a re-sign keeps the expiry
    extend: bool = False
    #: new evidence for the long-term basis (a move on basis 1 needs it, and so does a re-sign
    #: or renewal to long-term in the holder's own right or to another basis)
    evidence: Evidence | None = None
    #: the caller's own name for this request (the API: its Idempotency-Key, scoped to the
    #: token and route): repeated after its write landed, nothing is written again
    request_id: str | None = None


@dataclass(frozen=True)
class Intent:
    """An audit intent: what is about to be written to which card."""

    id: int
    serial: str
    detail: dict


@dataclass(frozen=True)
class CardView:
    """A card as read: the verification report, the lock state and the registry's row."""

    report: VerificationReport
    locked: bool
    registry: CardRow | None
    #: why the registry part is missing or incomplete ({"code", "message"}); reads never fail
    #: on registry state: a conflict, a pending intent or an unreachable database shows here
    registry_error: dict | None = None
    #: Pending write intents this read settled: ``(intent id, whether the write landed)``.
    reconciled: tuple[tuple[int, bool], ...] = ()
    #: the answer to a write repeated (same request_id) after its first attempt landed: nothing
    #: was written now (nor is the face printed again)
    repeated: bool = False

    @property
    def serial(self) -> bytes:
        return self.report.serial

    @property
    def personalized(self) -> bool:
        return self.locked


def field_error(exc: FieldError) -> errors.ValidationError:
    return errors.ValidationError(exc.field, exc.message, exc.reason)


def error_block(exc: errors.CardServiceError, *, pending_write: bool = False) -> dict:
    """``pending_write``: a write of this card is not settled in the registry (the card's own
    content is shown; the registry refused to take it, e.g. CITIZEN_HAS_CARD)."""
    return {"code": exc.code, "message": exc.message, "retriable": exc.retriable,
            "pending_write": pending_write}


def locked_but_empty(report: VerificationReport) -> VerificationReport:
    """A locked card must hold its identity: an empty identity file there is damage, not a
    blank card (which could be mistaken for one to issue)."""
    return damaged(report, "locked_but_empty")


def damaged(report: VerificationReport, reason: str) -> VerificationReport:
    """``report`` as INVALID with its format check failed for ``reason``: a card the registry
    knows as issued that reads blank or unsigned was tampered with or damaged."""
    checks = tuple(CheckResult(c.check, Result.FAILED, reason)
                   if c.check == Check.FORMAT else c for c in report.checks)
    return dataclasses.replace(report, status=Status.INVALID, checks=checks)


def unregistered(report: VerificationReport) -> VerificationReport:
    """``report`` as INVALID with its revocation check failed ``not_registered``: the county
    registry holds every card issued in the county, so a signed card it does not know was not
    issued through it (a stolen site key can backdate a record's ``signed_at``, not the
    registry's rows)."""
    checks = tuple(CheckResult(c.check, Result.FAILED, "not_registered")
                   if c.check == Check.REVOCATION else c for c in report.checks)
    return dataclasses.replace(report, status=Status.INVALID, checks=checks)


def identity_fields(identity: Identity) -> dict[str, str]:
    """The fixed identity as the registry keeps it (the fields ``Identity.create`` takes)."""
    return {"name": identity.name, "gender": identity.gender.name.lower(),
            "nationality": identity.nationality, "citizen_number": identity.citizen_number,
            "household_address": identity.household_address}
