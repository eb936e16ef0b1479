"""Property tests: every valid identity/record round-trips; any bytes give only FormatError."""

from __future__ import annotations

import unicodedata
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from card_layout.budgets import BUDGETS, INVISIBLE
from card_layout.citizen import check_digit
from card_layout.errors import FieldError, FormatError
from card_layout.frame import encode_frame
from card_layout.identity import Gender, Identity, decode_identity, encode_identity
from card_layout.idfile import decode_identity_file, encode_identity_file
from card_layout.nationality import ETHNIC_GROUPS
from card_layout.record import PermitType, ResidenceRecord, decode_record, encode_record
from card_layout.signature import SigAlg, SignatureBlock
from card_layout.slots import decode_slot, encode_slot, read_slots

LETTERS = st.characters(
    categories=("Lu", "Ll", "Lo", "Nd", "Pd", "Po", "Mn", "So", "Zs"),
    exclude_characters="\u3000",
).filter(lambda c: ord(c) not in INVISIBLE)
TEXT_CHARS = st.one_of(LETTERS, st.sampled_from("𠀀𪚥张王·中華路號 ABCé"))


def text_for(field: str) -> st.SearchStrategy[str]:
    def fits(text: str) -> bool:
        return 0 < len(text.encode("utf-8")) <= BUDGETS[field]

    normalised = st.text(TEXT_CHARS, min_size=1, max_size=40).map(
        lambda t: unicodedata.normalize("NFC", t).strip()
    )
    return normalised.filter(fits)


@st.composite
def citizen_numbers(draw: st.DrawFn, gender: Gender | None = None) -> str:
    region = draw(st.integers(110000, 659999))
    born = draw(st.dates(date(1900, 1, 1), date(2099, 12, 31)))
    order = draw(st.integers(0, 999))
    if gender is not None and order % 2 != gender % 2:
        order = (order + 1) % 1000
    first17 = f"{region:06d}{born:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


@st.composite
def identities(draw: st.DrawFn) -> Identity:
    gender = draw(st.sampled_from(Gender))
    return Identity.create(
        name=draw(text_for("name")),
        gender=gender,
        nationality=draw(st.sampled_from(sorted(ETHNIC_GROUPS))),
        citizen_number=draw(citizen_numbers(gender)),
        household_address=draw(text_for("household_address")),
    )


@st.composite
def records(draw: st.DrawFn) -> ResidenceRecord:
    return ResidenceRecord.create(
        sequence=draw(st.integers(1, 2**32 - 1)),
        permit_type=draw(st.sampled_from(PermitType)),
        basis=draw(st.none() | st.integers(1, 5)),
        sponsor_citizen_number=draw(st.none() | citizen_numbers()),
        current_residence=draw(text_for("current_residence")),
        issuing_authority=draw(text_for("issuing_authority")),
        issued_on=draw(st.dates(date(1900, 1, 1), date(9999, 12, 31))),
        expires_on=draw(st.dates(date(1900, 1, 1), date(9999, 12, 31))),
    )


signatures = st.builds(
    SignatureBlock,
    st.sampled_from(SigAlg),
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=64, max_size=64),
)


@given(identities(), signatures)
def test_identity_round_trip(identity: Identity, sig: SignatureBlock) -> None:
    assert decode_identity(encode_identity(identity)) == identity
    data = encode_identity_file(identity, sig)
    assert len(data) <= 512
    assert decode_identity_file(data) == (identity, sig)


@given(records(), signatures)
def test_record_round_trip(record: ResidenceRecord, sig: SignatureBlock) -> None:
    assert decode_record(encode_record(record)) == record
    data = encode_slot(record, sig)
    assert len(data) <= 512
    assert decode_slot(data) == (record, sig)


def test_non_bmp_round_trip() -> None:
    identity = Identity.create(
        name="𠀀𪚥",
        gender=2,
        nationality="汉",
        citizen_number="11010519491231002X",
        household_address="𠀀" * 35,
    )
    assert decode_identity(encode_identity(identity)).name == "𠀀𪚥"


@given(st.text(max_size=80))
def test_any_text_is_stored_or_refused_with_field_error(text: str) -> None:
    try:
        identity = Identity.create(
            name=text,
            gender=1,
            nationality="01",
            citizen_number="110105199001011232",
            household_address="x",
        )
    except FieldError as exc:
        assert exc.field == "name"
        return
    assert decode_identity(encode_identity(identity)) == identity


DECODERS = (decode_identity, decode_record, decode_identity_file, decode_slot)


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_format_error(data: bytes) -> None:
    for decode in DECODERS:
        try:
            decode(data)
        except FormatError as exc:
            assert exc.reason
    for state in read_slots(data, data):
        assert (state.record is None) == (state.error is not None) == (state.signature is None)


@settings(max_examples=300)
@given(st.sampled_from([b"ID", b"RS"]), st.binary(max_size=500))
def test_well_framed_random_bodies_raise_only_format_error(magic: bytes, body: bytes) -> None:
    data = encode_frame(magic, body)
    for decode in (decode_identity_file, decode_slot):
        try:
            decode(data)
        except FormatError as exc:
            assert exc.reason


@settings(max_examples=300)
@given(identities(), records(), signatures, st.data())
def test_mutated_bodies_fail_or_decode_canonically(
    identity: Identity, record: ResidenceRecord, sig: SignatureBlock, data: st.DataObject
) -> None:
    """A changed byte inside a well-framed body is refused, or the result re-encodes to it."""
    cases = (
        (b"ID", encode_identity(identity), decode_identity_file, encode_identity_file),
        (b"RS", encode_record(record), decode_slot, encode_slot),
    )
    for magic, tlv, decode, encode in cases:
        body = bytearray(tlv + encode_slot(record, sig)[-4 - 81 : -4])  # + signature block
        pos = data.draw(st.integers(0, len(body) - 1))
        body[pos] = data.draw(st.integers(0, 255))
        framed = encode_frame(magic, bytes(body))
        try:
            value, block = decode(framed)
        except FormatError as exc:
            assert exc.reason
            continue
        assert encode(value, block) == framed
