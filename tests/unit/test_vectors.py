"""docs/vectors/*.json: the code reproduces every byte, and an independent check (only
``cryptography`` and ``hashlib``, no project imports) verifies the signatures and key ids."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

VECTORS = sorted((Path(__file__).resolve().parents[2] / "docs" / "vectors").glob("*.json"))
#: DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, AlgorithmIdentifier
#: 1.3.101.112, BIT STRING of 32 bytes.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
#: DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480): SEQUENCE, AlgorithmIdentifier
#: id-ecPublicKey 1.2.840.10045.2.1 with prime256v1 1.2.840.10045.3.1.7, BIT STRING of the
#: 65-byte uncompressed point.
P256_SPKI_PREFIX = bytes.fromhex(
    "3059301306072a8648ce3d020106082a8648ce3d030107034200")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def h(vector: dict, key: str) -> bytes:
    return bytes.fromhex(vector[key])


def test_required_cards_are_present() -> None:
    vectors = [load(p) for p in VECTORS]
    assert len(vectors) >= 3
    names = [v["identity"]["name"] for v in vectors]
    texts = [v["identity"]["name"] + v["identity"]["household_address"]
             + v["record"]["current_residence"] for v in vectors]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in "".join(names))
    assert any(ord(ch) > 0xFFFF for ch in "".join(texts))
    family = [v for v in vectors if v["record"]["sponsor_citizen_number"]]
    assert family and family[0]["record"]["permit_type"] == "long_term"
    assert family[0]["record"]["basis"] in (1, 3, 4)
    assert {v["algorithm"] for v in vectors} >= {"ed25519", "ecdsa_p256_sha256"}


# --- independent check: no project imports below this line's helpers ---------------------


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_independent_signature_and_key_id(path: Path) -> None:
    v = load(path)
    raw = h(v, "public_key_hex")
    if v["algorithm"] == "ed25519":
        assert len(raw) == 32
        assert h(v, "key_id_hex") == hashlib.sha256(ED25519_SPKI_PREFIX + raw).digest()[:8]
        public = Ed25519PublicKey.from_public_bytes(raw)
        public.verify(h(v, "identity_signature_hex"), h(v, "identity_signed_hex"))
        public.verify(h(v, "record_signature_hex"), h(v, "record_signed_hex"))
        return
    assert v["algorithm"] == "ecdsa_p256_sha256"
    assert len(raw) == 65 and raw[0] == 4
    assert h(v, "key_id_hex") == hashlib.sha256(P256_SPKI_PREFIX + raw).digest()[:8]
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    for sig, data in (("identity_signature_hex", "identity_signed_hex"),
                      ("record_signature_hex", "record_signed_hex")):
        rs = h(v, sig)
        der = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
        point.verify(der, h(v, data), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_independent_structure_of_signed_bytes(path: Path) -> None:
    v = load(path)
    serial, kid = h(v, "card_serial_hex"), h(v, "key_id_hex")
    id_signed, rec_signed = h(v, "identity_signed_hex"), h(v, "record_signed_hex")
    version = h(v, "identity_file_hex")[2]
    assert version == v.get("format_version", 1)
    id_tag, rec_tag = f"RP1-IDENTITY-v{version}\x00".encode(), b"RP1-RECORD-v1\x00"
    assert id_signed == id_tag + serial + id_signed[len(id_tag) + 8:]
    body_len = int.from_bytes(id_signed[len(id_tag) + 8:len(id_tag) + 10], "big")
    assert len(id_signed) == len(id_tag) + 8 + 2 + body_len + 8
    assert id_signed.endswith(kid) and rec_signed.endswith(kid)
    id_hash = hashlib.sha256(h(v, "identity_signature_hex")).digest()
    assert rec_signed.startswith(rec_tag + serial + id_hash)
    rec_len = int.from_bytes(rec_signed[len(rec_tag) + 40:len(rec_tag) + 42], "big")
    assert len(rec_signed) == len(rec_tag) + 8 + 32 + 2 + rec_len + 8
    # the signed bodies are the files without frame header, CRC and signature block
    id_body = id_signed[len(id_tag) + 10:-8]
    id_file, slot = h(v, "identity_file_hex"), h(v, "record_slot_hex")
    assert id_file[5:-4 - 81] == id_body
    assert slot[5:-4 - 81] == rec_signed[len(rec_tag) + 42:-8]
    assert id_file[-4 - 81:-4 - 79] == slot[-4 - 81:-4 - 79] == bytes.fromhex("704f")
    assert h(v, "identity_file_hex")[5:5 + len(id_body)] == id_body
    assert h(v, "identity_signature_hex") in h(v, "identity_file_hex")
    assert h(v, "record_signature_hex") in h(v, "record_slot_hex")
    assert v["identity"]["name"].encode() in id_body


V2_VECTORS = [p for p in VECTORS if load(p).get("format_version") == 2]


def test_a_version_2_vector_with_a_photo_is_present() -> None:
    assert V2_VECTORS


@pytest.mark.parametrize("path", V2_VECTORS, ids=lambda p: p.stem)
def test_independent_photo_and_chip_key_binding(path: Path) -> None:
    """The signed identity body ends with 06 20 SHA-256(photo) and 07 41 chip key."""
    v = load(path)
    photo, chip = h(v, "photo_hex"), h(v, "chip_public_key_hex")
    assert photo[:2] == b"\xff\xd8" and photo[-2:] == b"\xff\xd9" and len(photo) <= 4096
    assert hashlib.sha256(photo).digest() == h(v, "photo_sha256_hex")
    tail = b"\x06\x20" + hashlib.sha256(photo).digest() + b"\x07\x41" + chip
    assert h(v, "identity_signed_hex")[:-8].endswith(tail)


@pytest.mark.parametrize("path", V2_VECTORS, ids=lambda p: p.stem)
def test_independent_chip_answer(path: Path) -> None:
    v = load(path)
    auth = v["chip_auth"]
    signed = bytes.fromhex(auth["signed_hex"])
    assert signed == (b"RP1-CHIP-AUTH-v1\x00" + h(v, "card_serial_hex")
                      + auth["counter"].to_bytes(4, "big") + bytes.fromhex(auth["challenge_hex"]))
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                         h(v, "chip_public_key_hex"))
    rs = bytes.fromhex(auth["answer_hex"])
    der = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))
    point.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    scalar = int.from_bytes(h(v, "test_chip_private_scalar_hex"), "big")
    private = ec.derive_private_key(scalar, ec.SECP256R1())
    assert private.public_key().public_numbers() == point.public_numbers()


# --- the project's code reproduces every byte --------------------------------------------


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_code_reproduces_vector(path: Path) -> None:
    from vectors_gen import build_pki, render, vector

    assert render(vector(path.stem, build_pki())) == path.read_text(encoding="utf-8")


def _test_private_key(v: dict) -> object:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if v["algorithm"] == "ed25519":
        return Ed25519PrivateKey.from_private_bytes(h(v, "test_private_key_seed_hex"))
    scalar = int.from_bytes(h(v, "test_private_key_scalar_hex"), "big")
    return ec.derive_private_key(scalar, ec.SECP256R1())


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_code_rebuilds_files_from_json_fields(path: Path) -> None:
    from card_layout.identity import Identity
    from card_layout.idfile import decode_identity_file, encode_identity_file
    from card_layout.record import ResidenceRecord
    from card_layout.slots import decode_slot, encode_slot
    from cardservice.pki.signing import Signer, identity_tbs, record_tbs, sign_identity, sign_record

    v = load(path)
    serial = h(v, "card_serial_hex")
    signer = Signer(_test_private_key(v))
    fields = {k: val for k, val in v["identity"].items() if k != "birth_date"}
    identity = Identity.create(**fields)
    assert identity.birth_date.isoformat() == v["identity"]["birth_date"]
    if v.get("format_version") == 2:
        identity = dataclasses.replace(identity, photo_sha256=h(v, "photo_sha256_hex"),
                                       chip_public_key=h(v, "chip_public_key_hex"))
    rec = dict(v["record"])
    rec["issued_on"], rec["expires_on"] = (date.fromisoformat(rec["issued_on"]),
                                           date.fromisoformat(rec["expires_on"]))
    record = ResidenceRecord.create(**rec)
    id_sig = sign_identity(signer, serial, identity)
    rec_sig = sign_record(signer, serial, id_sig, record)
    assert identity_tbs(serial, identity, signer.key_id) == h(v, "identity_signed_hex")
    assert record_tbs(serial, id_sig.signature, record, signer.key_id) == h(v, "record_signed_hex")
    assert encode_identity_file(identity, id_sig) == h(v, "identity_file_hex")
    assert encode_slot(record, rec_sig) == h(v, "record_slot_hex")
    assert decode_identity_file(h(v, "identity_file_hex")) == (identity, id_sig)
    assert decode_slot(h(v, "record_slot_hex")) == (record, rec_sig)
    if v.get("format_version") == 2:
        from card_layout.photo import validate_photo
        from cardservice.pki.chip import chip_answer_valid

        assert validate_photo(h(v, "photo_hex")).sha256 == identity.photo_sha256
        auth = v["chip_auth"]
        assert chip_answer_valid(identity.chip_public_key, serial, auth["counter"],
                                 bytes.fromhex(auth["challenge_hex"]),
                                 bytes.fromhex(auth["answer_hex"]))
