"""The fixed identity and the erasable record: validation rules and canonical TLV vectors."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date, datetime

import pytest

from card_layout.budgets import BUDGETS
from card_layout.errors import FieldError, FormatError
from card_layout.identity import Gender, Identity, decode_identity, encode_identity
from card_layout.record import PermitType, ResidenceRecord, decode_record, encode_record

FEMALE_1949 = "11010519491231002X"
MALE_1990 = "110105199001011232"

IDENTITY_HEX = (
    "0106E5BCA0E4B889"  # 01 name "张三"
    "020102"  # 02 gender female
    "03023031"  # 03 nationality "01"
    "0412313130313035313934393132333130303258"  # 04 citizen number
    "0509E58C97E4BAACE5B882"  # 05 household address "北京市"
)


def make_identity(**overrides: object) -> Identity:
    fields: dict[str, object] = {
        "name": "张三",
        "gender": "female",
        "nationality": "汉族",
        "citizen_number": FEMALE_1949,
        "household_address": "北京市",
    }
    fields.update(overrides)
    return Identity.create(**fields)  # type: ignore[arg-type]


def make_record(**overrides: object) -> ResidenceRecord:
    fields: dict[str, object] = {
        "sequence": 1,
        "permit_type": "temporary",
        "basis": None,
        "sponsor_citizen_number": None,
        "current_residence": "A",
        "issuing_authority": "B",
        "issued_on": date(2026, 8, 31),
        "expires_on": date(2027, 2, 28),
    }
    fields.update(overrides)
    return ResidenceRecord.create(**fields)  # type: ignore[arg-type]


def test_identity_vector() -> None:
    identity = make_identity(citizen_number="11010519491231002x", gender=2)
    assert identity.nationality == "01"
    assert identity.citizen_number == FEMALE_1949
    assert identity.gender is Gender.FEMALE
    assert identity.birth_date == date(1949, 12, 31)
    assert encode_identity(identity) == bytes.fromhex(IDENTITY_HEX)
    assert decode_identity(bytes.fromhex(IDENTITY_HEX)) == identity


def test_fifteen_cjk_characters_fit_the_name() -> None:
    name = "张" * 15  # 45 bytes
    assert make_identity(name=name).name == name
    four_byte = "𠀀" * 15  # 60 bytes, exactly the budget
    assert make_identity(name=four_byte).name == four_byte


def test_sixteen_four_byte_characters_refused_with_field_and_limit() -> None:
    with pytest.raises(FieldError) as err:
        make_identity(name="𠀀" * 16)
    assert (err.value.field, err.value.reason) == ("name", "too_long")
    assert "name" in err.value.message and "60" in err.value.message and "64" in err.value.message


@pytest.mark.parametrize(("field", "limit"), sorted(BUDGETS.items()))
def test_budgets_are_bytes_after_utf8(field: str, limit: int) -> None:
    assert limit >= 4 * {"name": 15, "issuing_authority": 15}.get(field, 35)
    exact, over = "a" * limit, "a" * (limit + 1)
    build = make_identity if field in ("name", "household_address") else make_record
    assert getattr(build(**{field: exact}), field) == exact
    with pytest.raises(FieldError) as err:
        build(**{field: over})
    assert (err.value.field, err.value.reason) == (field, "too_long")
    assert str(limit) in err.value.message


def test_nfc_decomposed_input_is_stored_composed() -> None:
    decomposed = "Zoe\u0308 Mu\u0308ller"  # e + combining diaeresis
    identity = make_identity(name=decomposed, household_address="  Cafe\u0301 街  ")
    assert identity.name == "Zoë Müller" == unicodedata.normalize("NFC", decomposed)
    assert identity.household_address == "Café 街"
    assert "Zoë".encode() in encode_identity(identity)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"name": ""}, "name", "empty"),
        ({"name": "   "}, "name", "empty"),
        ({"name": "张\x00三"}, "name", "bad_characters"),
        ({"name": "张\n三"}, "name", "bad_characters"),
        ({"name": "张\u202e三"}, "name", "bad_characters"),  # bidi override
        ({"household_address": "\ud800"}, "household_address", "bad_characters"),  # surrogate
        ({"household_address": ""}, "household_address", "empty"),
        ({"gender": "male"}, "gender", "gender_mismatch"),
        ({"gender": "x"}, "gender", "unknown_code"),
        ({"nationality": "57"}, "nationality", "unknown_code"),
        ({"citizen_number": "110105194912310021"}, "citizen_number", "bad_check_digit"),
        ({"citizen_number": "110105199902300015"}, "citizen_number", "bad_birth_date"),
        ({"citizen_number": "１１０１０５１９４９１２３１００２X"}, "citizen_number", "bad_format"),
        ({"name": 5}, "name", "bad_format"),
    ],
)
def test_identity_rules(overrides: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(FieldError) as err:
        make_identity(**overrides)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_male_citizen_number_with_male_gender() -> None:
    identity = make_identity(citizen_number=MALE_1990, gender="male")
    assert identity.gender is Gender.MALE
    with pytest.raises(FieldError) as err:
        make_identity(citizen_number=MALE_1990, gender=Gender.FEMALE)
    assert err.value.reason == "gender_mismatch"


def test_direct_construction_refuses_unnormalised_text() -> None:
    good = make_identity()
    with pytest.raises(FieldError) as err:
        replace(good, name=" 张三")
    assert (err.value.field, err.value.reason) == ("name", "bad_format")
    with pytest.raises(FieldError):
        replace(good, citizen_number="11010519491231002x")


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        (IDENTITY_HEX + "0501AA", "duplicate_tag"),
        ("020102" + IDENTITY_HEX[:16] + IDENTITY_HEX[22:], "bad_tag"),  # gender before name
        (IDENTITY_HEX[:-22], "missing_field"),  # no household address
        (IDENTITY_HEX + "0601AA", "bad_tag"),  # unknown tag
        (IDENTITY_HEX + "05", "truncated"),  # trailing byte read as a tag without length
        (IDENTITY_HEX.replace("020102", "020103"), "bad_value"),  # gender code 3
        (IDENTITY_HEX.replace("020102", "020101"), "bad_value"),  # mismatch with number
        (IDENTITY_HEX.replace("03023031", "03023537"), "bad_value"),  # code 57
        (IDENTITY_HEX.replace("0106E5BCA0E4B889", "0106E5BCA0E4B820"), "bad_value"),  # bad UTF-8
        ("0102205A" + IDENTITY_HEX[16:], "bad_value"),  # name " Z" not stripped
        ("01044165CC81" + IDENTITY_HEX[16:], "bad_value"),  # "Ae" + U+0301: not NFC
    ],
)
def test_decode_identity_rejects_non_canonical(hex_data: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        decode_identity(bytes.fromhex(hex_data))
    assert err.value.reason == reason


RECORD_HEX = "110400000001120101150141160142170420260831180420270228"
FAMILY_HEX = (
    "110400000102"  # sequence 258
    "120102"  # long-term
    "130103"  # basis 3
    "1412313130313035313939303031303131323332"  # sponsor
    "150141160142"
    "170420260831"
    "180420280831"
)


def test_record_vectors() -> None:
    record = make_record()
    assert record.permit_type is PermitType.TEMPORARY
    assert encode_record(record) == bytes.fromhex(RECORD_HEX)
    assert decode_record(bytes.fromhex(RECORD_HEX)) == record
    family = make_record(
        sequence=258,
        permit_type=PermitType.LONG_TERM,
        basis=3,
        sponsor_citizen_number=MALE_1990,
        expires_on=date(2028, 8, 31),
    )
    assert encode_record(family) == bytes.fromhex(FAMILY_HEX)
    assert decode_record(bytes.fromhex(FAMILY_HEX)) == family


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"sequence": 0}, "sequence", "out_of_range"),
        ({"sequence": 2**32}, "sequence", "out_of_range"),
        ({"sequence": "1"}, "sequence", "bad_format"),
        ({"sequence": True}, "sequence", "bad_format"),
        ({"basis": 0}, "basis", "out_of_range"),
        ({"basis": 6}, "basis", "out_of_range"),
        ({"permit_type": "permanent"}, "permit_type", "unknown_code"),
        (
            {"sponsor_citizen_number": "110105194912310021"},
            "sponsor_citizen_number",
            "bad_check_digit",
        ),
        ({"current_residence": ""}, "current_residence", "empty"),
        ({"issuing_authority": "公安\t局"}, "issuing_authority", "bad_characters"),
        ({"issued_on": "2026-08-31"}, "issued_on", "bad_format"),
        ({"expires_on": datetime(2027, 2, 28)}, "expires_on", "bad_format"),
    ],
)
def test_record_rules(overrides: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(FieldError) as err:
        make_record(**overrides)
    assert (err.value.field, err.value.reason) == (field, reason)


def test_record_extremes_accepted() -> None:
    assert make_record(sequence=2**32 - 1).sequence == 2**32 - 1
    assert make_record(basis=5, permit_type="long_term").basis == 5
    assert make_record(sponsor_citizen_number="11010519491231002x").sponsor_citizen_number == (
        FEMALE_1949
    )


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        (RECORD_HEX.replace("120101", "120103"), "bad_value"),  # permit type 3
        (RECORD_HEX.replace("110400000001", "110400000000"), "bad_value"),  # sequence 0
        (RECORD_HEX.replace("110400000001", "11020001"), "bad_value"),  # 2-byte sequence
        (RECORD_HEX.replace("120101", "120101130106"), "bad_value"),  # basis 6
        (RECORD_HEX.replace("120101", "1201011300"), "bad_value"),  # empty basis
        (RECORD_HEX.replace("20270228", "20270229"), "bad_value"),  # 2027-02-29
        (RECORD_HEX.replace("150141", "1500"), "bad_value"),  # empty residence
        (RECORD_HEX.replace("150141160142", "160142150141"), "bad_tag"),  # order
        (RECORD_HEX + "180420270228", "duplicate_tag"),
        (RECORD_HEX[:-12], "missing_field"),
    ],
)
def test_decode_record_rejects_non_canonical(hex_data: str, reason: str) -> None:
    with pytest.raises(FormatError) as err:
        decode_record(bytes.fromhex(hex_data))
    assert err.value.reason == reason
