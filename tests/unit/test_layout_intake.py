"""Input that must not enter a write-once identity (issue 11, point 7): citizen numbers with a
future birth date or the region code 000000, and text made of invisible, filler, private-use,
unassigned or noncharacter code points, variation selectors and the combining grapheme joiner."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout import citizen
from card_layout.budgets import check_normalized, normalize_text
from card_layout.errors import FieldError
from card_layout.identity import Identity

TODAY = date(2026, 11, 28)
BASE = {"name": "张三", "gender": "female", "nationality": "01",
        "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区建国路88号"}


def number(region: str, born: str, order: str) -> str:
    first17 = region + born + order
    return first17 + citizen.check_digit(first17)


@pytest.mark.parametrize(("value", "reason"), [
    (number("000000", "19900101", "123"), "bad_region"),
    (number("110105", "20261129", "123"), "bad_birth_date"),  # the day after "today"
    (number("110105", "20990101", "123"), "bad_birth_date"),
])
def test_citizen_number_refused(value: str, reason: str) -> None:
    with pytest.raises(FieldError) as exc:
        citizen.validate_citizen_number(value, today=TODAY)
    assert (exc.value.field, exc.value.reason) == ("citizen_number", reason)


def test_birth_today_is_accepted_and_future_needs_today() -> None:
    born_today = number("110105", "20261128", "123")
    assert citizen.validate_citizen_number(born_today, today=TODAY) == born_today
    future = number("110105", "20990101", "123")
    assert citizen.validate_citizen_number(future) == future  # a format rule needs no "today"


def test_region_000000_refused_without_today() -> None:
    with pytest.raises(FieldError) as exc:
        citizen.validate_citizen_number(number("000000", "19900101", "123"))
    assert exc.value.reason == "bad_region"


def test_sponsor_field_named() -> None:
    with pytest.raises(FieldError) as exc:
        citizen.validate_citizen_number("11010519491231002Y", "sponsor_citizen_number")
    assert exc.value.field == "sponsor_citizen_number"


def test_identity_create_checks_future_birth_date() -> None:
    future = number("110105", "20990101", "124")
    with pytest.raises(FieldError) as exc:
        Identity.create(**{**BASE, "citizen_number": future}, today=TODAY)
    assert exc.value.reason == "bad_birth_date"


REFUSED_TEXT = [
    ("\u3164", "Hangul filler only"),
    ("\u3164\u3164\u3164", "Hangul fillers"),
    ("\u115f\u1160", "Hangul choseong/jungseong fillers"),
    ("\uffa0", "halfwidth Hangul filler"),
    ("\u2800", "braille blank"),
    ("\u17b4", "Khmer inherent vowel"),
    ("\u3000\u3164\u3000", "filler between ideographic spaces"),
    ("张\u3164三", "filler inside a name"),
    ("\ue000", "private use"),
    ("张\U000f0000", "supplementary private use"),
    ("张\u0378", "unassigned"),
    ("张\U0003fffd", "unassigned plane 3"),
    ("张\ufffe", "noncharacter FFFE"),
    ("张\uffff", "noncharacter FFFF"),
    ("张\ufdd0", "noncharacter FDD0"),
    ("张\U0001fffe", "noncharacter 1FFFE"),
    ("张\ufe0f", "variation selector 16"),
    ("张\ufe00", "variation selector 1"),
    ("张\U000e0100", "ideographic variation selector"),
    ("张\u180b", "Mongolian free variation selector"),
    ("张\u034f三", "combining grapheme joiner"),
    ("\u200b", "zero width space (Cf)"),
]


@pytest.mark.parametrize(("text", "what"), REFUSED_TEXT, ids=[w for _, w in REFUSED_TEXT])
@pytest.mark.parametrize("field", ["name", "household_address"])
def test_text_refused(field: str, text: str, what: str) -> None:
    with pytest.raises(FieldError) as exc:
        Identity.create(**{**BASE, field: text})
    assert exc.value.field == field
    assert exc.value.reason in ("bad_characters", "empty")


@pytest.mark.parametrize("field", ["name", "household_address"])
def test_whitespace_only_is_empty(field: str) -> None:
    with pytest.raises(FieldError) as exc:
        normalize_text(field, "\u3000 \u00a0\t")
    assert exc.value.reason == "empty"


@pytest.mark.parametrize("text", ["张三", "阿依古丽·买买提", "𠀀明", "张 三", "北京市　朝阳区"])
def test_ordinary_text_accepted(text: str) -> None:
    assert normalize_text("name", text) == text


@pytest.mark.parametrize("hex_text", ["e385a4", "efbfbe", "ee8080", "efb88f", "cd8f"])
def test_stored_text_with_refused_characters_is_refused(hex_text: str) -> None:
    """The decoder runs the same rules: such bytes on a card are not a legal identity."""
    with pytest.raises(FieldError):
        check_normalized("name", "张" + bytes.fromhex(hex_text).decode())
