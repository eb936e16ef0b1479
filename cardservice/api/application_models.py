"""Request and response bodies of the application and production routes (field names are a
public contract: extend, never rename)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from card_layout.record import PermitType
from cardservice.api.models import SERIAL_PATTERN, EvidenceIn, IdentityIn


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicationResidenceIn(_In):
    current_residence: str
    permit_type: PermitType
    basis: int | None = Field(default=None, ge=1, le=5)


class SponsorIn(_In):
    citizen_number: str
    relationship: Literal["spouse", "child", "parent"]


class ReplacementIn(_In):
    card_serial: str = Field(pattern=SERIAL_PATTERN, description="the card it replaces")
    reason: Literal["lost", "damaged"]


class ApplicationIn(_In):
    kind: Literal["first_issue", "replacement", "family"] = "first_issue"
    identity: IdentityIn
    residence: ApplicationResidenceIn
    evidence: EvidenceIn | None = Field(
        default=None, description="for a long-term basis in the holder's own right")
    sponsor: SponsorIn | None = Field(default=None, description="for kind family")
    replacement: ReplacementIn | None = Field(default=None, description="for kind replacement")


class DecisionIn(_In):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=200)


class HandOverIn(_In):
    card_serial: str = Field(pattern=SERIAL_PATTERN, description="as read from the reader")
    reader_id: str | None = Field(
        default=None, max_length=200,
        description="the reader holding the card (GET /v1/readers): the card is read there and "
                    "must be card_serial, verify, and hold this application's holder "
                    "(CARD_CHANGED, CARD_INVALID); without it only card_serial is matched")


class CancelIn(_In):
    reason: str | None = Field(default=None, max_length=200)


class ProductionRunIn(_In):
    readers: list[str] | Literal["all"] = Field(
        default="all", description='reader names or ids, or "all"')
    limit: int | None = Field(default=None, ge=1)
    card_wait: float = Field(default=30.0, gt=0, le=3600,
                             description="seconds a reader may wait for its next card")


class UnsettledWriteOut(BaseModel):
    card_serial: str
    intent_id: int = Field(description="the write's intent in the audit log")
    since: str = Field(description="when the write began")


class ApplicationOut(BaseModel):
    """An application; ``card_serial`` once produced."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    status: str
    due_on: str
    due_on_provisional: bool
    card_serial: str | None
    identity: dict[str, Any]
    residence: dict[str, Any]
    site: str
    submitted_at: str
    overdue: bool | None = None
    unsettled_write: UnsettledWriteOut | None = Field(
        default=None, description="a certified application whose card write has no outcome "
        "yet: its run is writing the card now, or stopped mid-write and the card left its "
        "reader. No run produces it again until that card is read (any reader, any site), "
        "which settles the write")


class ProductionRunOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    state: str
    readers: list[str]
    total: int
    done: int
    failed: int
    left: int
    rate: float
    eta_seconds: float | None
    #: a stop was asked for (POST .../stop); the run still finishes the cards in hand
    stop_requested: bool = False
