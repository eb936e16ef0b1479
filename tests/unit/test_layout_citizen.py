"""Citizen numbers (GB 11643), gender codes and GB/T 3304 nationality codes."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout.citizen import birth_date, check_digit, gender_of, validate_citizen_number
from card_layout.errors import FieldError
from card_layout.identity import Gender
from card_layout.nationality import ETHNIC_GROUPS, nationality_name, parse_nationality

FEMALE_1949 = "11010519491231002X"  # the well-known GB 11643 sample
MALE_1990 = "110105199001011232"


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),  # published sample
        ("11010519900101123", "2"),
        ("44030120000229456", "9"),
        ("65010219000101001", "6"),
    ],
)
def test_check_digit(first17: str, check: str) -> None:
    assert check_digit(first17) == check


def _weighted_check(first17: str) -> str:
    """Independent ISO 7064 MOD 11-2: sum of digit * 2**(17 - i) mod 11, then (12 - s) mod 11."""
    total = sum(int(c) * 2 ** (17 - i) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@pytest.mark.parametrize("first17", ["11010519491231002", "31011519851120367", "99999919991231999"])
def test_check_digit_matches_independent_formula(first17: str) -> None:
    assert check_digit(first17) == _weighted_check(first17)


def test_valid_numbers_and_lowercase_x() -> None:
    assert validate_citizen_number(MALE_1990) == MALE_1990
    assert validate_citizen_number("11010519491231002x") == FEMALE_1949
    assert validate_citizen_number(" 11010519491231002X ") == FEMALE_1949
    assert birth_date(FEMALE_1949) == date(1949, 12, 31)
    assert gender_of(FEMALE_1949) is Gender.FEMALE
    assert gender_of(MALE_1990) is Gender.MALE
    assert birth_date("440301200002294569") == date(2000, 2, 29)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("11010519491231002", "bad_format"),  # 17 characters
        ("11010519491231002X1", "bad_format"),  # 19 characters
        ("１１０１０５１９４９１２３１００２X", "bad_format"),  # full-width digits
        ("11010519491231002Y", "bad_format"),
        ("X10105194912310021", "bad_format"),  # X not in last place
        ("110105194912310021", "bad_check_digit"),
        ("110105199902300015", "bad_birth_date"),  # 1999-02-30, correct check digit
        ("110105189912310015", "bad_birth_date"),  # 1899, before 1900
        ("110105199913010013", "bad_birth_date"),  # month 13
    ],
)
def test_invalid_numbers(value: str, reason: str) -> None:
    with pytest.raises(FieldError) as err:
        validate_citizen_number(value)
    assert err.value.reason == reason
    assert err.value.field == "citizen_number"


@pytest.mark.parametrize(
    "value", ["110105199902300015", "110105189912310015", "110105199913010013"]
)
def test_bad_birth_date_samples_have_correct_check_digits(value: str) -> None:
    # so the test above fails on the date, not on the check digit
    assert check_digit(value[:17]) == value[17] == _weighted_check(value[:17])


def test_field_name_is_passed_through() -> None:
    with pytest.raises(FieldError) as err:
        validate_citizen_number("123", field="sponsor_citizen_number")
    assert err.value.field == "sponsor_citizen_number"
    assert "sponsor_citizen_number" in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("male", Gender.MALE),
        ("Female", Gender.FEMALE),
        ("1", Gender.MALE),
        ("2", Gender.FEMALE),
        (1, Gender.MALE),
        (2, Gender.FEMALE),
        (" male ", Gender.MALE),
        ("女", Gender.FEMALE),
    ],
)
def test_gender_parse(value: str | int, expected: Gender) -> None:
    assert Gender.parse(value) is expected


@pytest.mark.parametrize("value", ["0", "9", 0, 9, True, "unknown", "", 1.0])
def test_gender_parse_refuses(value: object) -> None:
    with pytest.raises(FieldError) as err:
        Gender.parse(value)  # type: ignore[arg-type]
    assert (err.value.field, err.value.reason) == ("gender", "unknown_code")


def test_gender_labels() -> None:
    assert (Gender.MALE.label, Gender.FEMALE.label) == ("male", "female")
    assert (int(Gender.MALE), int(Gender.FEMALE)) == (1, 2)


def test_ethnic_group_table() -> None:
    assert len(ETHNIC_GROUPS) == 58
    assert [ETHNIC_GROUPS[c] for c in ("01", "02", "03", "04", "05", "10", "56")] == [
        "汉",
        "蒙古",
        "回",
        "藏",
        "维吾尔",
        "朝鲜",
        "基诺",
    ]
    assert ETHNIC_GROUPS["97"] == "其他"
    assert ETHNIC_GROUPS["98"] == "外国血统中国籍人士"
    assert len(set(ETHNIC_GROUPS.values())) == 58


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("01", "01"),
        ("汉", "01"),
        ("汉族", "01"),
        ("维吾尔族", "05"),
        ("基诺", "56"),
        ("56", "56"),
        (" 蒙古族 ", "02"),
        ("97", "97"),
        ("外国血统中国籍人士", "98"),
    ],
)
def test_parse_nationality(value: str, code: str) -> None:
    assert parse_nationality(value) == code


@pytest.mark.parametrize("value", ["00", "57", "99", "1", "汉汉", "族", "Han"])
def test_parse_nationality_unknown(value: str) -> None:
    with pytest.raises(FieldError) as err:
        parse_nationality(value)
    assert (err.value.field, err.value.reason) == ("nationality", "unknown_code")


def test_parse_nationality_empty_and_name() -> None:
    with pytest.raises(FieldError) as err:
        parse_nationality(" ")
    assert err.value.reason == "empty"
    assert nationality_name("01") == "汉"
    with pytest.raises(FieldError):
        nationality_name("57")
