"""Request and response bodies of API v1 (kept apart: ``*In`` models are requests, the others
are responses). Field names are a public contract: extend, never rename."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from card_layout.record import PermitType

SERIAL_PATTERN = r"^[0-9A-Fa-f]{16}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------


class IdentityIn(_In):
    name: str
    gender: str = Field(description="male | female (or 1 | 2)")
    nationality: str = Field(description='GB/T 3304 code or name, e.g. "01" or "汉"')
    citizen_number: str
    household_address: str
    photo: str | None = Field(
        default=None, description="the holder's photo: base64 (standard alphabet, padded) of a "
        "JPEG of at most 4096 bytes, 60..480 x 75..640 px; bound into the signed identity")


class ResidenceIn(_In):
    current_residence: str
    permit_type: PermitType
    basis: int | None = Field(default=None, ge=1, le=5)
    sponsor_citizen_number: str | None = None
    expires_on: date | None = None


CARD_SERIAL_DESCRIPTION = ("the serial of the card as the client read it (GET .../card); "
                           "409 CARD_CHANGED if another card is in the reader, nothing written")


class EvidenceIn(_In):
    kind: str = Field(description="e.g. lease_contract, property_certificate, labour_contract")
    reference: str = Field(min_length=1, max_length=100, description="e.g. the contract number")


class IssueIn(_In):
    identity: IdentityIn
    residence: ResidenceIn
    evidence: EvidenceIn | None = Field(
        default=None, description="basis evidence: needed for a long-term permit in the "
        "holder's own right (not a family member's), as for an application")
    card_serial: str = Field(pattern=SERIAL_PATTERN, description=CARD_SERIAL_DESCRIPTION)


class ResignIn(_In):
    current_residence: str
    permit_type: PermitType | None = None
    basis: int | None = Field(default=None, ge=1, le=5)
    expires_on: date | None = None
    extend: bool = Field(default=False, description="also renew: a new expiry (else it stays)")
    evidence: EvidenceIn | None = Field(
        default=None, description="new basis evidence (a move on basis 1 needs it, and so does "
        "a change to long-term or to another basis)")
    card_serial: str = Field(pattern=SERIAL_PATTERN, description=CARD_SERIAL_DESCRIPTION)


class RenewIn(_In):
    permit_type: PermitType | None = None
    basis: int | None = Field(default=None, ge=1, le=5)
    expires_on: date | None = None
    evidence: EvidenceIn | None = Field(
        default=None, description="basis evidence: needed when the renewal makes the permit "
        "long-term in the holder's own right or changes its basis")
    card_serial: str = Field(pattern=SERIAL_PATTERN, description=CARD_SERIAL_DESCRIPTION)


class PrintIn(_In):
    side: Literal["front", "back", "both"] = "both"
    card_serial: str | None = Field(default=None, pattern=SERIAL_PATTERN,
                                    description="print only if this card is in the reader")


class RevokeIn(_In):
    reason: Literal["lost", "replaced", "withdrawn"]


# --- responses --------------------------------------------------------------------------


class DatabaseHealth(BaseModel):
    backend: Literal["sqlite", "postgresql"]
    site_id: str
    available: bool
    message: str | None = None


class TrustHealth(BaseModel):
    """A verify-only installation's trust bundle (``CARDSERVICE_MODE=verify``)."""

    #: when the installed bundle was built; None: no bundle is installed
    bundle_issued_at: datetime | None
    #: older than its max_age, or none installed: a card that would read valid reads
    #: revocation_stale
    stale: bool
    revoked_cards: int
    #: cards on the county's list of issued cards; None: the bundle carries no list
    issued_cards: int | None
    message: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    pcsc_available: bool
    reader_count: int
    version: str
    database: DatabaseHealth | None = None
    #: only on a verify-only installation: its bundle (a stale or missing one: degraded)
    trust: TrustHealth | None = None


class Reader(BaseModel):
    id: str
    name: str
    card_present: bool
    atr_hex: str | None


class IdentityOut(BaseModel):
    name: str
    gender: str
    nationality: str
    nationality_code: str
    citizen_number: str
    birth_date: date
    household_address: str
    photo_sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the photo the signed identity binds")
    photo: str | None = Field(
        default=None, description="the photo (base64 JPEG), only when read with ?photo=true "
        "and it matches photo_sha256")


class ResidenceOut(BaseModel):
    current_residence: str
    issuing_authority: str
    issued_on: date
    expires_on: date
    permit_type: str
    basis: int | None
    sponsor_citizen_number: str | None
    sequence: int
    #: when the authority signed the record (ISO-8601 UTC; None on records from before the
    #: signed time existed)
    signed_at: str | None = None


class Check(BaseModel):
    check: str
    result: str
    reason: str


class Verification(BaseModel):
    status: str
    #: "registry_unavailable": the status rests on the card alone (revocation, rollback skipped)
    status_reason: str | None = None
    checks: list[Check]


class RegistryCard(BaseModel):
    card_serial: str
    citizen_number: str
    status: str
    last_sequence: int
    issuing_authority: str
    permit_type: str
    basis: int | None
    sponsor_citizen_number: str | None
    expires_on: date
    revoked_reason: str | None
    created_at: str
    updated_at: str
    #: the site that issued the card and the site of the last write (revocation included)
    issued_site: str | None = None
    last_write_site: str | None = None
    #: a write reserved before its card APDUs and not confirmed yet
    pending_sequence: int | None = None
    pending_site: str | None = None
    pending_since: str | None = None


class RegistryError(BaseModel):
    code: str
    message: str
    retriable: bool
    pending_write: bool


class ErrorDetail(BaseModel):
    code: str
    message: str
    retriable: bool
    field: str | None = None
    rule: str | None = None
    intent_id: int | None = None


class PrintOut(BaseModel):
    """A print of the card's face: ``failed`` carries the error (``PRINT_FAILED`` is retriable:
    print again with ``POST .../card/print``; the chip is already written)."""

    status: Literal["printed", "failed"]
    card_serial: str
    queue: str | None
    sides: list[Literal["front", "back"]]
    job: str | None = None
    error: ErrorDetail | None = None


class Reconciled(BaseModel):
    intent_id: int
    outcome: Literal["reconciled_success", "reconciled_failure"]


class Card(BaseModel):
    card_serial: str
    state: Literal["blank", "personalized"]
    identity: IdentityOut | None
    residence: ResidenceOut | None
    verification: Verification
    registry: RegistryCard | None
    #: a registry conflict, an unsettled write or an unreachable database (reads never fail)
    registry_error: RegistryError | None = None
    reconciled: list[Reconciled] = Field(
        default_factory=list,
        description="writes left unconfirmed (WRITE_NOT_CONFIRMED, intent_id) that this read "
                    "settled from what the card holds")


class WrittenCard(Card):
    """A card write's answer: the card as read back, and the reprint of its face."""

    print: PrintOut | None = Field(default=None, description="with a printer configured "
                                   "(CARDSERVICE_PRINTER): the reprint of the face after the write")


class AuditEntry(BaseModel):
    id: int
    ts: str
    kind: str
    operation: str
    card_serial: str | None
    reader: str | None
    actor: str | None
    intent_id: int | None
    outcome: str | None
    sequence: int | None
    detail: dict[str, Any]
    hash: str
    site_id: str | None = None
    site_seq: int | None = None


class AuditVerify(BaseModel):
    ok: bool
    entries: int
    first_broken_id: int | None
    reason: str | None
    pending_intents: list[int]
    #: PostgreSQL: the site whose chain broke, and the entries of each site's chain
    site: str | None = None
    sites: dict[str, int] | None = None
    #: false: each PostgreSQL chain was checked from its last verified checkpoint
    #: (``checked_from``: the first entry checked per site); ``?full=true`` checks everything
    full: bool = True
    checked_from: dict[str, int] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
