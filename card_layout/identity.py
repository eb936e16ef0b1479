"""The fixed identity: written once at personalization, never changed.

Canonical TLV (tags in this order): 0x01 name (UTF-8), 0x02 gender (1 byte, GB/T 2261.1),
0x03 nationality (2 ASCII digits, GB/T 3304), 0x04 citizen number (18 ASCII), 0x05 household
address (UTF-8) - all required; format version 2 adds, both optional, 0x06 SHA-256 of the photo
in EF.PHOTO (32 bytes) and 0x07 the chip's public key (uncompressed P-256 point, 65 bytes).
An identity with neither is format version 1 (the first cards), byte for byte as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from . import citizen
from .budgets import check_normalized, normalize_text
from .errors import FieldError, FormatError
from .files import CHIP_PUBLIC_KEY_LEN
from .nationality import ETHNIC_GROUPS, parse_nationality
from .tlv import (
    Tlv,
    canonical_fields,
    decode_ascii,
    decode_text,
    encode_text,
    encode_tlv,
    parse_tlvs,
)

logger = logging.getLogger(__name__)

TAG_NAME = 0x01
TAG_GENDER = 0x02
TAG_NATIONALITY = 0x03
TAG_CITIZEN_NUMBER = 0x04
TAG_HOUSEHOLD_ADDRESS = 0x05
TAG_PHOTO_SHA256 = 0x06
TAG_CHIP_KEY = 0x07
IDENTITY_TAGS = (TAG_NAME, TAG_GENDER, TAG_NATIONALITY, TAG_CITIZEN_NUMBER, TAG_HOUSEHOLD_ADDRESS)
#: Tags format version 2 adds (both optional).
V2_TAGS = (TAG_PHOTO_SHA256, TAG_CHIP_KEY)
PHOTO_SHA256_LEN = 32

_GENDER_WORDS = {"male": 1, "m": 1, "男": 1, "1": 1, "female": 2, "f": 2, "女": 2, "2": 2}


class Gender(IntEnum):
    """GB/T 2261.1 sex codes (0 unknown and 9 unspecified are not issued on this card)."""

    MALE = 1
    FEMALE = 2

    @classmethod
    def parse(cls, value: str | int) -> Gender:
        if isinstance(value, Gender):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            code = value
        elif isinstance(value, str):
            code = _GENDER_WORDS.get(value.strip().lower(), 0)
        else:
            code = 0
        if code not in (1, 2):
            raise FieldError("gender", "unknown_code", f"gender {value!r} is not male/female/1/2")
        return cls(code)

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Identity:
    name: str
    gender: Gender
    nationality: str
    citizen_number: str
    household_address: str
    photo_sha256: bytes | None = None
    chip_public_key: bytes | None = None

    def __post_init__(self) -> None:
        _check_v2_fields(self.photo_sha256, self.chip_public_key)
        check_normalized("name", self.name)
        check_normalized("household_address", self.household_address)
        if not isinstance(self.gender, Gender):
            raise FieldError("gender", "unknown_code", "gender must be a Gender")
        if self.nationality not in ETHNIC_GROUPS:
            raise FieldError("nationality", "unknown_code", "nationality must be a GB/T 3304 code")
        if citizen.validate_citizen_number(self.citizen_number) != self.citizen_number:
            raise FieldError("citizen_number", "bad_format", "citizen_number is not in stored form")
        if citizen.gender_of(self.citizen_number) != self.gender:
            raise FieldError(
                "gender",
                "gender_mismatch",
                f"gender {self.gender.label} contradicts the citizen number's 17th digit",
            )

    @property
    def version(self) -> int:
        """The EF.ID format version this identity needs: 2 with a photo hash or chip key."""
        return 2 if self.photo_sha256 is not None or self.chip_public_key is not None else 1

    @property
    def birth_date(self) -> date:
        return citizen.birth_date(self.citizen_number)

    @classmethod
    def create(
        cls,
        *,
        name: str,
        gender: Gender | str | int,
        nationality: str,
        citizen_number: str,
        household_address: str,
        today: date | None = None,
    ) -> Identity:
        """A validated identity from user input (NFC, stripped, parsed; FieldError if not).
        With ``today``, a citizen number whose birth date lies after it is refused."""
        return cls(
            name=normalize_text("name", name),
            gender=Gender.parse(gender),
            nationality=parse_nationality(nationality),
            citizen_number=citizen.validate_citizen_number(citizen_number, today=today),
            household_address=normalize_text("household_address", household_address),
        )


def _check_v2_fields(photo_sha256: object, chip_key: object) -> None:
    if photo_sha256 is not None and (
            not isinstance(photo_sha256, bytes) or len(photo_sha256) != PHOTO_SHA256_LEN):
        raise FieldError("photo", "bad_format", "the photo hash must be 32 bytes")
    if chip_key is not None and (not isinstance(chip_key, bytes)
                                 or len(chip_key) != CHIP_PUBLIC_KEY_LEN or chip_key[0] != 0x04):
        raise FieldError("chip_public_key", "bad_format",
                         "the chip key must be an uncompressed P-256 point (65 bytes, 04 ..)")


def encode_identity(identity: Identity) -> bytes:
    """The canonical TLV of the identity (what the identity signature covers)."""
    parts = [
        encode_tlv(TAG_NAME, encode_text(identity.name)),
        encode_tlv(TAG_GENDER, bytes([identity.gender])),
        encode_tlv(TAG_NATIONALITY, identity.nationality.encode("ascii")),
        encode_tlv(TAG_CITIZEN_NUMBER, identity.citizen_number.encode("ascii")),
        encode_tlv(TAG_HOUSEHOLD_ADDRESS, encode_text(identity.household_address)),
    ]
    if identity.photo_sha256 is not None:
        parts.append(encode_tlv(TAG_PHOTO_SHA256, identity.photo_sha256))
    if identity.chip_public_key is not None:
        parts.append(encode_tlv(TAG_CHIP_KEY, identity.chip_public_key))
    return b"".join(parts)


def decode_identity(data: bytes, version: int = 1) -> Identity:
    """The identity from its canonical TLV; FormatError for anything non-canonical."""
    return identity_from_tlvs(parse_tlvs(bytes(data)), version)


def identity_from_tlvs(items: Sequence[Tlv], version: int = 1) -> Identity:
    """Version 1 allows only tags 01..05; version 2 also 06 and 07 (and needs one of them, so
    each identity has exactly one encoding)."""
    fields = canonical_fields(items, IDENTITY_TAGS, V2_TAGS if version == 2 else ())
    if version == 2 and not any(tag in fields for tag in V2_TAGS):
        raise FormatError("missing_field", "a version-2 identity carries a photo hash or chip key")
    gender = fields[TAG_GENDER]
    if len(gender) != 1 or gender[0] not in (1, 2):
        raise FormatError("bad_value", f"gender code {gender.hex()} is not 01 or 02")
    try:
        return Identity(
            name=decode_text(fields[TAG_NAME], "name"),
            gender=Gender(gender[0]),
            nationality=decode_ascii(fields[TAG_NATIONALITY], "nationality"),
            citizen_number=decode_ascii(fields[TAG_CITIZEN_NUMBER], "citizen number"),
            household_address=decode_text(fields[TAG_HOUSEHOLD_ADDRESS], "household address"),
            photo_sha256=fields.get(TAG_PHOTO_SHA256),
            chip_public_key=fields.get(TAG_CHIP_KEY),
        )
    except FieldError as exc:
        raise FormatError("bad_value", f"stored {exc.field} is invalid: {exc.message}") from None
