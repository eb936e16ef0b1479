"""The API's response bodies as the client sees them (its own models: no server code imported).
Field names and types are held equal to docs/openapi.json by a test; unknown fields that a newer
daemon adds are ignored."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Health(_Model):
    status: Literal["ok", "degraded"]
    pcsc_available: bool
    reader_count: int
    version: str
    database: dict[str, Any] | None = None  # the registry database's state, when one is used
    #: a verify-only installation's trust bundle: bundle_issued_at, stale, revoked_cards,
    #: issued_cards (None elsewhere)
    trust: dict[str, Any] | None = None


class Reader(_Model):
    id: str
    name: str
    card_present: bool
    atr_hex: str | None


class Identity(_Model):
    name: str
    gender: str
    nationality: str
    nationality_code: str
    citizen_number: str
    birth_date: date
    household_address: str
    photo_sha256: str | None = None
    photo: str | None = None  # base64 JPEG, only when read with ?photo=true


class Residence(_Model):
    current_residence: str
    issuing_authority: str
    issued_on: date
    expires_on: date
    permit_type: str
    basis: int | None
    sponsor_citizen_number: str | None
    sequence: int
    signed_at: str | None = None


class Check(_Model):
    check: str
    result: str
    reason: str


class Verification(_Model):
    status: str
    checks: list[Check]
    status_reason: str | None = None


class RegistryCard(_Model):
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
    issued_site: str | None = None
    last_write_site: str | None = None
    pending_sequence: int | None = None
    pending_since: str | None = None
    pending_site: str | None = None


class Reconciled(_Model):
    intent_id: int
    outcome: Literal["reconciled_success", "reconciled_failure"]


class Card(_Model):
    card_serial: str
    state: Literal["blank", "personalized"]
    identity: Identity | None
    residence: Residence | None
    verification: Verification
    registry: RegistryCard | None
    reconciled: list[Reconciled] = []
    registry_error: dict[str, Any] | None = None  # why the registry's view is missing

    @property
    def valid(self) -> bool:
        return self.verification.status == "valid"


class PairingCreated(_Model):
    id: str
    code: str
    expires_at: datetime


class PairingStatus(_Model):
    status: Literal["pending", "approved", "denied", "expired"]
    token: str | None = None
    role: Literal["reader", "operator"] | None = None


class ErrorDetail(_Model):
    code: str
    message: str
    retriable: bool
    field: str | None = None
    rule: str | None = None
    intent_id: int | None = None


class Event(_Model):
    """One message of /v1/events: ``type``, ``ts``, ``seq`` and the type's own fields (in
    ``data``, and as attributes through ``event["reader_id"]``)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    ts: str | None = None
    seq: int | None = None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def __getitem__(self, key: str) -> Any:
        return self.model_dump()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.model_dump().get(key, default)


class Missed(_Model):
    """Events were missed before the next one: ``count`` of them, or an unknown number
    (``count is None``: the daemon restarted, so its sequence numbers started over)."""

    count: int | None
    reason: Literal["gap", "reconnected", "restarted"]


#: Response model of each API schema component this client mirrors (checked by a test).
MIRRORS: dict[str, type[BaseModel]] = {
    "Health": Health, "Reader": Reader, "IdentityOut": Identity, "ResidenceOut": Residence,
    "Check": Check, "Verification": Verification, "RegistryCard": RegistryCard, "Card": Card,
    "PairingCreated": PairingCreated, "PairingStatus": PairingStatus,
    "ErrorDetail": ErrorDetail, "Reconciled": Reconciled,
}
