"""The erasable residence record, rewritten on every re-sign.

Canonical TLV (tags in this order; 0x13 and 0x14 are omitted when absent):
0x11 sequence (4 bytes BE), 0x12 permit type (1 byte: 1 temporary, 2 long-term),
0x13 long-term basis (1 byte, 1..5), 0x14 sponsor citizen number (18 ASCII),
0x15 current residence (UTF-8), 0x16 issuing authority (UTF-8),
0x17 issued on (4 bytes BCD YYYYMMDD), 0x18 expires on (4 bytes BCD YYYYMMDD),
0x19 signed at (optional, 4 bytes BE: whole seconds since 1970-01-01 UTC; the moment the
authority signed the record, so a certificate revoked from a moment T separates records
signed before T from those signed after it; records written before this tag existed lack it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

from . import citizen
from .budgets import check_normalized, normalize_text
from .errors import FieldError, FormatError
from .tlv import (
    Tlv,
    canonical_fields,
    decode_ascii,
    decode_date,
    decode_text,
    decode_uint,
    encode_date,
    encode_text,
    encode_tlv,
    encode_uint,
    parse_tlvs,
)

logger = logging.getLogger(__name__)

TAG_SEQUENCE = 0x11
TAG_PERMIT_TYPE = 0x12
TAG_BASIS = 0x13
TAG_SPONSOR = 0x14
TAG_CURRENT_RESIDENCE = 0x15
TAG_ISSUING_AUTHORITY = 0x16
TAG_ISSUED_ON = 0x17
TAG_EXPIRES_ON = 0x18
TAG_SIGNED_AT = 0x19
REQUIRED_TAGS = (
    TAG_SEQUENCE,
    TAG_PERMIT_TYPE,
    TAG_CURRENT_RESIDENCE,
    TAG_ISSUING_AUTHORITY,
    TAG_ISSUED_ON,
    TAG_EXPIRES_ON,
)
OPTIONAL_TAGS = (TAG_BASIS, TAG_SPONSOR, TAG_SIGNED_AT)

SEQUENCE_MAX = 2**32 - 1
BASIS_RANGE = range(1, 6)


class PermitType(str, Enum):
    TEMPORARY = "temporary"
    LONG_TERM = "long_term"

    @property
    def code(self) -> int:
        return _PERMIT_CODES[self]


_PERMIT_CODES = {PermitType.TEMPORARY: 1, PermitType.LONG_TERM: 2}
_PERMIT_BY_CODE = {code: kind for kind, code in _PERMIT_CODES.items()}


def _check_int(field: str, value: object, allowed: range) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise FieldError(field, "bad_format", f"{field} must be an integer")
    if value not in allowed:
        raise FieldError(
            field, "out_of_range", f"{field} {value} is outside {allowed.start}..{allowed.stop - 1}"
        )


def _check_date(field: str, value: object) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise FieldError(field, "bad_format", f"{field} must be a date")


@dataclass(frozen=True)
class ResidenceRecord:
    sequence: int
    permit_type: PermitType
    basis: int | None
    sponsor_citizen_number: str | None
    current_residence: str
    issuing_authority: str
    issued_on: date
    expires_on: date
    signed_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_int("sequence", self.sequence, range(1, SEQUENCE_MAX + 1))
        if not isinstance(self.permit_type, PermitType):
            raise FieldError("permit_type", "unknown_code", "permit_type must be a PermitType")
        if self.basis is not None:
            _check_int("basis", self.basis, BASIS_RANGE)
        sponsor = self.sponsor_citizen_number
        if sponsor is not None:
            field = "sponsor_citizen_number"
            if citizen.validate_citizen_number(sponsor, field) != sponsor:
                raise FieldError(field, "bad_format", f"{field} not in stored form")
        check_normalized("current_residence", self.current_residence)
        check_normalized("issuing_authority", self.issuing_authority)
        _check_date("issued_on", self.issued_on)
        _check_date("expires_on", self.expires_on)
        if self.signed_at is not None:
            _check_signed_at(self.signed_at)

    @classmethod
    def create(
        cls,
        *,
        sequence: int,
        permit_type: PermitType | str,
        basis: int | None,
        sponsor_citizen_number: str | None,
        current_residence: str,
        issuing_authority: str,
        issued_on: date,
        expires_on: date,
        signed_at: datetime | None = None,
    ) -> ResidenceRecord:
        """A validated record from input (NFC, stripped; FieldError if not acceptable)."""
        sponsor = sponsor_citizen_number
        if sponsor is not None:
            sponsor = citizen.validate_citizen_number(sponsor, "sponsor_citizen_number")
        return cls(
            sequence=sequence,
            permit_type=_parse_permit_type(permit_type),
            basis=basis,
            sponsor_citizen_number=sponsor,
            current_residence=normalize_text("current_residence", current_residence),
            issuing_authority=normalize_text("issuing_authority", issuing_authority),
            issued_on=issued_on,
            expires_on=expires_on,
            signed_at=None if signed_at is None else _whole_seconds(signed_at),
        )


def _whole_seconds(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise FieldError("signed_at", "bad_format", "signed_at must be a timezone-aware datetime")
    return moment.astimezone(UTC).replace(microsecond=0)


def _check_signed_at(moment: object) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise FieldError("signed_at", "bad_format", "signed_at must be a timezone-aware datetime")
    if moment.microsecond or not 0 <= moment.timestamp() <= SEQUENCE_MAX:
        raise FieldError("signed_at", "out_of_range",
                         "signed_at must be whole seconds between 1970 and 2106 (UTC)")


def _parse_permit_type(value: PermitType | str) -> PermitType:
    try:
        return PermitType(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise FieldError(
            "permit_type", "unknown_code", f"permit_type {value!r} is not temporary/long_term"
        ) from None


def encode_record(record: ResidenceRecord) -> bytes:
    """The canonical TLV of the record (what the record signature covers)."""
    parts = [
        encode_tlv(TAG_SEQUENCE, encode_uint(record.sequence, 4)),
        encode_tlv(TAG_PERMIT_TYPE, bytes([record.permit_type.code])),
    ]
    if record.basis is not None:
        parts.append(encode_tlv(TAG_BASIS, bytes([record.basis])))
    if record.sponsor_citizen_number is not None:
        parts.append(encode_tlv(TAG_SPONSOR, record.sponsor_citizen_number.encode("ascii")))
    parts += [
        encode_tlv(TAG_CURRENT_RESIDENCE, encode_text(record.current_residence)),
        encode_tlv(TAG_ISSUING_AUTHORITY, encode_text(record.issuing_authority)),
        encode_tlv(TAG_ISSUED_ON, encode_date(record.issued_on)),
        encode_tlv(TAG_EXPIRES_ON, encode_date(record.expires_on)),
    ]
    if record.signed_at is not None:
        parts.append(encode_tlv(TAG_SIGNED_AT, encode_uint(int(record.signed_at.timestamp()), 4)))
    return b"".join(parts)


def decode_record(data: bytes) -> ResidenceRecord:
    """The record from its canonical TLV; FormatError for anything non-canonical."""
    return record_from_tlvs(parse_tlvs(bytes(data)))


def record_from_tlvs(items: Sequence[Tlv]) -> ResidenceRecord:
    fields = canonical_fields(items, REQUIRED_TAGS, OPTIONAL_TAGS)
    kind = decode_uint(fields[TAG_PERMIT_TYPE], 1, "permit type")
    if kind not in _PERMIT_BY_CODE:
        raise FormatError("bad_value", f"permit type code {kind} is not 1 or 2")
    basis = fields.get(TAG_BASIS)
    sponsor = fields.get(TAG_SPONSOR)
    signed_at = fields.get(TAG_SIGNED_AT)
    try:
        return ResidenceRecord(
            sequence=decode_uint(fields[TAG_SEQUENCE], 4, "sequence"),
            permit_type=_PERMIT_BY_CODE[kind],
            basis=None if basis is None else decode_uint(basis, 1, "basis"),
            sponsor_citizen_number=None if sponsor is None else decode_ascii(sponsor, "sponsor"),
            current_residence=decode_text(fields[TAG_CURRENT_RESIDENCE], "current residence"),
            issuing_authority=decode_text(fields[TAG_ISSUING_AUTHORITY], "issuing authority"),
            issued_on=decode_date(fields[TAG_ISSUED_ON], "issued on"),
            expires_on=decode_date(fields[TAG_EXPIRES_ON], "expires on"),
            signed_at=None if signed_at is None else datetime.fromtimestamp(
                decode_uint(signed_at, 4, "signed at"), UTC),
        )
    except FieldError as exc:
        raise FormatError("bad_value", f"stored {exc.field} is invalid: {exc.message}") from None
