"""Byte budgets of the text fields and the one text normaliser every text field goes through.

Text is stored as UTF-8 after Unicode NFC normalisation; the budget is counted in those bytes.
The budgets hold at least the national ID card's character counts (15 / 35 / 35 / 15) even when
every character takes 4 bytes.
"""

from __future__ import annotations

import logging
import unicodedata

from .errors import FieldError

logger = logging.getLogger(__name__)

BUDGETS: dict[str, int] = {
    "name": 60,
    "household_address": 140,
    "current_residence": 140,
    "issuing_authority": 60,
}

#: Unicode categories refused in text: controls, format characters (bidi overrides, zero-width
#: joiners, BOM), surrogates, line and paragraph separators.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def normalize_text(field: str, value: object) -> str:
    """NFC-normalise ``value``, strip surrounding whitespace and check characters and budget."""
    if not isinstance(value, str):
        raise FieldError(field, "bad_format", f"{field} must be text")
    text = unicodedata.normalize("NFC", value).strip()
    check_text(field, text)
    return text


def check_text(field: str, text: str) -> None:
    """Check already-normalised text: not empty, no refused characters, within the byte budget."""
    if not text:
        raise FieldError(field, "empty", f"{field} must not be empty")
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            raise FieldError(
                field, "bad_characters", f"{field} contains the control character U+{ord(char):04X}"
            )
    size = len(text.encode("utf-8"))
    limit = BUDGETS[field]
    if size > limit:
        raise FieldError(
            field, "too_long", f"{field} is {size} bytes in UTF-8; the limit is {limit} bytes"
        )


def check_normalized(field: str, text: str) -> None:
    """Refuse text that is not already in stored form (NFC, stripped) or breaks the rules."""
    if not isinstance(text, str):
        raise FieldError(field, "bad_format", f"{field} must be text")
    check_text(field, text)
    if text != text.strip() or not unicodedata.is_normalized("NFC", text):
        raise FieldError(field, "bad_format", f"{field} is not NFC-normalised and stripped")
