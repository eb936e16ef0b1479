"""EF.ID and the record slots: framing, signature block, largest sizes, tearing, slot choice."""

from __future__ import annotations

from datetime import date

import pytest

from card_layout.errors import FormatError
from card_layout.files import CAPACITY, Fid
from card_layout.frame import encode_frame
from card_layout.identity import Identity, encode_identity
from card_layout.idfile import decode_identity_file, encode_identity_file
from card_layout.record import PermitType, ResidenceRecord, encode_record
from card_layout.signature import SigAlg, SignatureBlock
from card_layout.slots import current_slot, decode_slot, encode_slot, next_slot, read_slots

SIG = SignatureBlock(SigAlg.ECDSA_P256_SHA256, bytes(range(8)), bytes(range(64)))
SIG2 = SignatureBlock(SigAlg.ED25519, b"\xaa" * 8, b"\x55" * 64)
SIG_HEX = "704F710101720800010203040506077340" + bytes(range(64)).hex()
WIDE = "𠀀"  # 4 bytes in UTF-8


def identity(name: str = "张三", address: str = "北京市东城区") -> Identity:
    return Identity.create(
        name=name,
        gender=2,
        nationality="01",
        citizen_number="11010519491231002X",
        household_address=address,
    )


def record(sequence: int = 1, residence: str = "上海市浦东新区", **kw: object) -> ResidenceRecord:
    fields: dict[str, object] = {
        "sequence": sequence,
        "permit_type": PermitType.TEMPORARY,
        "basis": None,
        "sponsor_citizen_number": None,
        "current_residence": residence,
        "issuing_authority": "浦东分局",
        "issued_on": date(2026, 8, 31),
        "expires_on": date(2027, 2, 28),
    }
    fields.update(kw)
    return ResidenceRecord.create(**fields)  # type: ignore[arg-type]


def largest_identity() -> Identity:
    return identity(name=WIDE * 15, address=WIDE * 35)


def largest_record() -> ResidenceRecord:
    return record(
        sequence=2**32 - 1,
        residence=WIDE * 35,
        permit_type=PermitType.LONG_TERM,
        basis=1,
        sponsor_citizen_number="110105199001011232",
        issuing_authority=WIDE * 15,
    )


def test_signature_block_bytes_inside_identity_file() -> None:
    data = encode_identity_file(identity(), SIG)
    assert data[:5] == b"ID\x01" + len(data).to_bytes(2, "big")
    assert data[5:-4] == encode_identity(identity()) + bytes.fromhex(SIG_HEX)
    assert decode_identity_file(data) == (identity(), SIG)


def test_slot_round_trip_and_stale_tail_ignored() -> None:
    data = encode_slot(record(), SIG2)
    assert data[:3] == b"RS\x01"
    stale = encode_slot(record(residence="旧" * 40), SIG)
    assert len(stale) > len(data)
    assert decode_slot(data + stale[len(data) :]) == (record(), SIG2)


def test_largest_legal_files_fit_capacity() -> None:
    id_file = encode_identity_file(largest_identity(), SIG)
    slot = encode_slot(largest_record(), SIG)
    assert len(encode_identity(largest_identity())) == 232
    assert len(encode_record(largest_record())) == 249
    assert (len(id_file), len(slot)) == (322, 339)  # the sizes docs/card-format.md states
    assert len(id_file) <= CAPACITY[Fid.ID]
    assert len(slot) <= CAPACITY[Fid.RES_A] == CAPACITY[Fid.RES_B]
    assert decode_identity_file(id_file)[0] == largest_identity()
    assert decode_slot(slot)[0] == largest_record()


def test_largest_version_2_identity_fits_capacity() -> None:
    """With the photo hash (34) and the chip key (67): 423 bytes (docs/card-format.md)."""
    import dataclasses

    v2 = dataclasses.replace(largest_identity(), photo_sha256=bytes(32),
                             chip_public_key=b"\x04" + bytes(64))
    id_file = encode_identity_file(v2, SIG)
    assert len(id_file) == 423 <= CAPACITY[Fid.ID]
    assert decode_identity_file(id_file)[0] == v2


def test_unsigned_and_wrong_magic() -> None:
    unsigned = encode_frame(b"ID", encode_identity(identity()))
    with pytest.raises(FormatError) as err:
        decode_identity_file(unsigned)
    assert err.value.reason == "unsigned"
    with pytest.raises(FormatError) as err:
        decode_slot(encode_frame(b"RS", encode_record(record())))
    assert err.value.reason == "unsigned"
    with pytest.raises(FormatError) as err:
        decode_slot(encode_identity_file(identity(), SIG))
    assert err.value.reason == "bad_magic"


@pytest.mark.parametrize(
    ("sig_hex", "reason"),
    [
        (SIG_HEX.replace("710101", "710103"), "bad_value"),  # unknown algorithm
        ("704E710101720700010203040506" + SIG_HEX[30:], "bad_value"),  # 7-byte key id
        ("704E71010172080001020304050607733F" + bytes(range(63)).hex(), "bad_value"),
        ("704C" + "72080001020304050607" + "7340" + bytes(range(64)).hex(), "missing_field"),
        (SIG_HEX + SIG_HEX, "bad_tag"),  # a second block is out of place
    ],
)
def test_bad_signature_blocks(sig_hex: str, reason: str) -> None:
    data = encode_frame(b"ID", encode_identity(identity()) + bytes.fromhex(sig_hex))
    with pytest.raises(FormatError) as err:
        decode_identity_file(data)
    assert err.value.reason == reason


def test_signature_block_refuses_wrong_sizes() -> None:
    with pytest.raises(FormatError):
        SignatureBlock(SigAlg.ED25519, b"\x00" * 7, b"\x00" * 64)
    with pytest.raises(FormatError):
        SignatureBlock(3, b"\x00" * 8, b"\x00" * 64)  # type: ignore[arg-type]


def _frames() -> list[tuple[str, bytes]]:
    return [
        ("id", encode_identity_file(identity(), SIG)),
        ("slot", encode_slot(record(), SIG)),
        ("largest_slot", encode_slot(largest_record(), SIG2)),
    ]


@pytest.mark.parametrize(("kind", "frame"), _frames())
@pytest.mark.parametrize("fill", [b"\x00", b"\xff"])
def test_every_prefix_of_a_frame_is_rejected(kind: str, frame: bytes, fill: bytes) -> None:
    decode = decode_identity_file if kind == "id" else decode_slot
    for cut in range(len(frame)):
        for data in (frame[:cut], frame[:cut] + fill * (512 - cut)):
            with pytest.raises(FormatError):
                decode(data)


@pytest.mark.parametrize("new_residence", ["上海市浦东新区张江镇", "X", "上海市浦东新区"])
def test_new_bytes_over_old_bytes_never_decode_as_a_mix(new_residence: str) -> None:
    old = encode_slot(record(sequence=1), SIG).ljust(512, b"\x00")
    new = encode_slot(record(sequence=2, residence=new_residence), SIG2)
    old_value = (record(sequence=1), SIG)
    new_value = (record(sequence=2, residence=new_residence), SIG2)
    for cut in range(len(new) + 1):
        mixed = new[:cut] + old[cut:]
        if cut == len(new):
            assert decode_slot(mixed) == new_value
        elif new[:cut] == old[:cut]:  # nothing written differs yet: still the old frame
            assert decode_slot(mixed) == old_value
        else:
            with pytest.raises(FormatError):
                decode_slot(mixed)


def test_read_slots_and_selection() -> None:
    a1, b2 = encode_slot(record(sequence=1), SIG), encode_slot(record(sequence=2), SIG)
    states = read_slots(a1, b2)
    assert [s.fid for s in states] == [Fid.RES_A, Fid.RES_B]
    assert current_slot(states) is states[1]
    assert next_slot(states) == Fid.RES_A
    states = read_slots(encode_slot(record(sequence=3), SIG), b2)
    assert current_slot(states) is states[0] and next_slot(states) == Fid.RES_B


def test_selection_with_broken_or_blank_slots() -> None:
    torn = encode_slot(record(sequence=9), SIG)[:-1]
    states = read_slots(torn, encode_slot(record(sequence=2), SIG))
    assert states[0].error is not None and states[0].error.reason == "truncated"
    assert states[0].record is None and states[0].signature is None
    assert current_slot(states) is states[1] and next_slot(states) == Fid.RES_A
    blank = read_slots(b"\x00" * 512, b"\xff" * 512)
    assert current_slot(blank) is None and next_slot(blank) == Fid.RES_A
    assert [s.error.reason for s in blank if s.error] == ["empty", "empty"]
    only_b = read_slots(b"", encode_slot(record(sequence=5), SIG))
    assert current_slot(only_b) is only_b[1] and next_slot(only_b) == Fid.RES_A


def test_equal_sequences_prefer_slot_a() -> None:
    states = read_slots(encode_slot(record(sequence=4), SIG), encode_slot(record(sequence=4), SIG2))
    assert current_slot(states) is states[0] and next_slot(states) == Fid.RES_B


@pytest.mark.parametrize(("kind", "frame"), _frames())
def test_every_flipped_byte_is_rejected(kind: str, frame: bytes) -> None:
    decode = decode_identity_file if kind == "id" else decode_slot
    for pos in range(len(frame)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(frame)
            damaged[pos] ^= mask
            with pytest.raises(FormatError):
                decode(bytes(damaged))


ID_FILE_HEX = (
    "4944010088"
    "0106E5BCA0E4B889020102030230310412313130313035313934393132333130303258"
    "0509E58C97E4BAACE5B882" + SIG_HEX + "E3855CC0"
)
SLOT_HEX = "5253010075110400000001120101150141160142170420260831180420270228" + SIG_HEX + "5D4C9C59"


def test_worked_examples_in_card_format_doc() -> None:
    """The two full-file vectors printed in docs/card-format.md."""
    who = Identity.create(
        name="张三",
        gender="female",
        nationality="汉族",
        citizen_number="11010519491231002X",
        household_address="北京市",
    )
    slot_record = record(residence="A", issuing_authority="B")
    assert encode_identity_file(who, SIG) == bytes.fromhex(ID_FILE_HEX)
    assert encode_slot(slot_record, SIG) == bytes.fromhex(SLOT_HEX)
    assert decode_slot(bytes.fromhex(SLOT_HEX)) == (slot_record, SIG)
