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
#: joiners, BOM), surrogates, line and paragraph separators, private use, and unassigned code
#: points (Cn, which includes the noncharacters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF; "assigned"
#: is judged by the Unicode version of the running Python's ``unicodedata``).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"})

#: Invisible characters refused anywhere: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
#: the Khmer inherent vowels (U+17B4, U+17B5), the braille blank (U+2800), the combining
#: grapheme joiner (U+034F) and every variation selector (U+180B..U+180D, U+180F,
#: U+FE00..U+FE0F, U+E0100..U+E01EF). A text of only these and whitespace would print as blank.
INVISIBLE = frozenset(
    [0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5, 0x2800, 0x034F, 0x180B, 0x180C, 0x180D,
     0x180F, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)


_REFUSED_WHAT = {
    "Cc": "the control character",
    "Cf": "the format character",
    "Cs": "the surrogate",
    "Zl": "the line separator",
    "Zp": "the paragraph separator",
    "Co": "the private-use character",
    "Cn": "the unassigned code point or noncharacter",
}


def normalize_text(field: str, value: object) -> str:
    """NFC-normalise ``value``, strip surrounding whitespace (``str.strip()``: the characters for
    which ``str.isspace()`` is true) and check characters and budget."""
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
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES or ord(char) in INVISIBLE:
            what = _REFUSED_WHAT.get(category, "the invisible character")
            raise FieldError(field, "bad_characters", f"{field} contains {what} U+{ord(char):04X}")
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
