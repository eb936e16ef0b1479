"""Citizen identity numbers (GB 11643): 18 characters, ISO 7064 MOD 11-2 check digit.

Layout: 6-digit region code (never 000000), 8-digit birth date YYYYMMDD, 3-digit order code
(odd = male, even = female), check character 0-9 or X. Without ``today`` the birth date can only
be checked to be a real calendar date with a year of at least 1900; with ``today`` it must also
not lie after it.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from .errors import FieldError

if TYPE_CHECKING:
    from .identity import Gender

logger = logging.getLogger(__name__)

LENGTH = 18
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"
_ASCII_DIGITS = frozenset("0123456789")
MIN_BIRTH_YEAR = 1900
#: A region code that names no administrative division (the all-zero placeholder).
NO_REGION = "000000"


def check_digit(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not set(first17) <= _ASCII_DIGITS:
        raise FieldError(
            "citizen_number", "bad_format", "citizen_number check needs exactly 17 ASCII digits"
        )
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS))
    return _CHECK_CHARS[total % 11]


def validate_citizen_number(value: str, field: str = "citizen_number", *,
                            today: date | None = None) -> str:
    """The number in stored form (final x upper-cased), or FieldError naming ``field``.
    With ``today``, a birth date after it is refused too."""
    if not isinstance(value, str):
        raise FieldError(field, "bad_format", f"{field} must be text")
    cn = value.strip()
    if not cn:
        raise FieldError(field, "empty", f"{field} must not be empty")
    if cn[-1:] == "x":
        cn = cn[:-1] + "X"
    _check_format(cn, field)
    if cn[:6] == NO_REGION:
        raise FieldError(field, "bad_region", f"{field} has the region code {NO_REGION}")
    _check_birth_date(cn, field, today)
    expected = check_digit(cn[:17])
    if cn[17] != expected:
        raise FieldError(field, "bad_check_digit", f"{field} has a wrong check digit")
    return cn


def _check_format(cn: str, field: str) -> None:
    if len(cn) != LENGTH:
        raise FieldError(field, "bad_format", f"{field} must be {LENGTH} characters, got {len(cn)}")
    if not set(cn[:17]) <= _ASCII_DIGITS or not (cn[17] in _ASCII_DIGITS or cn[17] == "X"):
        raise FieldError(field, "bad_format", f"{field} must be 17 ASCII digits and a digit or X")


def _check_birth_date(cn: str, field: str, today: date | None) -> None:
    try:
        born = _parse_birth_date(cn)
    except ValueError:
        raise FieldError(
            field, "bad_birth_date", f"{field} holds no real birth date ({cn[6:14]})"
        ) from None
    if born.year < MIN_BIRTH_YEAR:
        raise FieldError(field, "bad_birth_date", f"{field} birth year is before {MIN_BIRTH_YEAR}")
    if today is not None and born > today:
        raise FieldError(field, "bad_birth_date",
                         f"{field} holds a birth date in the future ({born.isoformat()})")


def _parse_birth_date(cn: str) -> date:
    return date(int(cn[6:10]), int(cn[10:12]), int(cn[12:14]))


def birth_date(cn: str) -> date:
    """The birth date inside a citizen number."""
    return _parse_birth_date(validate_citizen_number(cn))


def gender_of(cn: str) -> Gender:
    """The gender the 17th digit encodes (odd = male, even = female)."""
    from .identity import Gender  # identity imports this module

    digit = int(validate_citizen_number(cn)[16])
    return Gender.MALE if digit % 2 else Gender.FEMALE
