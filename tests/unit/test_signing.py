"""Signed bytes, key ids, both algorithms and every verify_block failure reason."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vectors_gen import SERIALS, build_pki, ed25519_key, p256_key, sample_identity, sample_record

from card_layout.identity import encode_identity
from card_layout.record import encode_record
from card_layout.signature import SigAlg, SignatureBlock
from cardservice.pki.signing import (
    IDENTITY_TAG,
    RECORD_TAG,
    SignatureInvalid,
    Signer,
    identity_tbs,
    key_id,
    record_tbs,
    sign_identity,
    sign_record,
    verify_block,
)

SERIAL = bytes.fromhex(SERIALS["cjk_temporary"])
OTHER_SERIAL = bytes.fromhex("5250310000000099")
IDENTITY = sample_identity("cjk_temporary")
RECORD = sample_record("cjk_temporary")
SIGNERS = {"ed25519": Signer(ed25519_key("ed")), "p256": Signer(p256_key("ec"))}


def test_key_id_is_sha256_of_spki_prefix() -> None:
    public = p256_key("ec").public_key()
    spki = public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_id(public) == hashlib.sha256(spki).digest()[:8]
    assert SIGNERS["p256"].key_id == key_id(public)
    assert key_id(public) != key_id(ed25519_key("ed").public_key())


def test_identity_tbs_layout() -> None:
    kid = bytes(range(8))
    body = encode_identity(IDENTITY)
    tbs = identity_tbs(SERIAL, IDENTITY, kid)
    assert tbs == IDENTITY_TAG + SERIAL + len(body).to_bytes(2, "big") + body + kid
    assert IDENTITY_TAG == b"RP1-IDENTITY-v1\x00"


def test_record_tbs_layout_binds_identity_signature() -> None:
    kid, id_sig = bytes(range(8)), bytes(64)
    body = encode_record(RECORD)
    tbs = record_tbs(SERIAL, id_sig, RECORD, kid)
    expected = (RECORD_TAG + SERIAL + hashlib.sha256(id_sig).digest()
                + len(body).to_bytes(2, "big") + body + kid)
    assert tbs == expected
    assert record_tbs(SERIAL, b"\x01" + id_sig[1:], RECORD, kid) != tbs


@pytest.mark.parametrize("bad_serial", [b"", bytes(7), bytes(9)])
def test_tbs_refuses_wrong_serial_length(bad_serial: bytes) -> None:
    with pytest.raises(ValueError, match="serial must be 8 bytes"):
        identity_tbs(bad_serial, IDENTITY, bytes(8))


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_sign_and_verify_round_trip(alg: str) -> None:
    signer = SIGNERS[alg]
    id_block = sign_identity(signer, SERIAL, IDENTITY)
    rec_block = sign_record(signer, SERIAL, id_block, RECORD)
    assert len(id_block.signature) == 64 and id_block.key_id == signer.key_id
    verify_block(signer.public_key, id_block, identity_tbs(SERIAL, IDENTITY, signer.key_id))
    verify_block(signer.public_key, rec_block,
                 record_tbs(SERIAL, id_block.signature, RECORD, signer.key_id))


def test_algorithm_ids() -> None:
    assert SIGNERS["ed25519"].algorithm is SigAlg.ED25519
    assert SIGNERS["p256"].algorithm is SigAlg.ECDSA_P256_SHA256


def test_ed25519_is_deterministic_and_ecdsa_is_r_concat_s() -> None:
    ed = SIGNERS["ed25519"]
    assert ed.sign(b"x") == ed.sign(b"x")
    ecdsa = SIGNERS["p256"].sign(b"x")
    r, s = int.from_bytes(ecdsa[:32], "big"), int.from_bytes(ecdsa[32:], "big")
    order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
    assert 0 < r < order and 0 < s < order


def test_wrong_card_serial_fails() -> None:
    signer = SIGNERS["ed25519"]
    block = sign_identity(signer, SERIAL, IDENTITY)
    with pytest.raises(SignatureInvalid) as info:
        verify_block(signer.public_key, block, identity_tbs(OTHER_SERIAL, IDENTITY, signer.key_id))
    assert info.value.reason == "bad_signature"


@pytest.mark.parametrize("alg", sorted(SIGNERS))
def test_flipped_signature_bit_fails(alg: str) -> None:
    signer = SIGNERS[alg]
    block = sign_identity(signer, SERIAL, IDENTITY)
    sig = bytearray(block.signature)
    sig[10] ^= 0x01
    with pytest.raises(SignatureInvalid) as info:
        verify_block(signer.public_key, replace(block, signature=bytes(sig)),
                     identity_tbs(SERIAL, IDENTITY, signer.key_id))
    assert info.value.reason == "bad_signature"


def test_zero_ecdsa_signature_fails_cleanly() -> None:
    signer = SIGNERS["p256"]
    block = SignatureBlock(SigAlg.ECDSA_P256_SHA256, signer.key_id, bytes(64))
    with pytest.raises(SignatureInvalid) as info:
        verify_block(signer.public_key, block, b"data")
    assert info.value.reason == "bad_signature"


def test_algorithm_mismatch() -> None:
    signer = SIGNERS["ed25519"]
    block = sign_identity(signer, SERIAL, IDENTITY)
    relabelled = replace(block, algorithm=SigAlg.ECDSA_P256_SHA256)
    with pytest.raises(SignatureInvalid) as info:
        verify_block(signer.public_key, relabelled, identity_tbs(SERIAL, IDENTITY, signer.key_id))
    assert info.value.reason == "algorithm_mismatch"


def test_bad_length() -> None:
    class Loose:  # a block-like object that skipped SignatureBlock's own length check
        algorithm, key_id, signature = SigAlg.ED25519, bytes(8), bytes(63)

    with pytest.raises(SignatureInvalid) as info:
        verify_block(SIGNERS["ed25519"].public_key, Loose(), b"data")  # type: ignore[arg-type]
    assert info.value.reason == "bad_length"


def test_unsupported_key_refused() -> None:
    with pytest.raises(TypeError, match="P-256 or Ed25519"):
        Signer(ec.derive_private_key(5, ec.SECP384R1()))


def test_record_signature_from_another_authority_key_fails() -> None:
    pki = build_pki()
    ed, ec_signer = pki.signer("ed"), pki.signer("ec")
    id_block = sign_identity(ed, SERIAL, IDENTITY)
    rec_block = sign_record(ed, SERIAL, id_block, RECORD)
    with pytest.raises(SignatureInvalid):
        verify_block(ec_signer.public_key, rec_block,
                     record_tbs(SERIAL, id_block.signature, RECORD, ed.key_id))


def test_verified_signatures_are_remembered_failures_are_not():
    """The sigcache answers a repeated verification without the curve maths, and a tampered
    message or signature is still refused after a success."""
    from cryptography.hazmat.primitives.asymmetric import ec as _ec

    from card_layout.signature import SignatureBlock as _Block
    from cardservice.pki.signing import SignatureInvalid as _Invalid
    from cardservice.pki.signing import Signer as _Signer
    from cardservice.pki.signing import VerifiedCache, verify_block

    signer = _Signer(_ec.generate_private_key(_ec.SECP256R1()))
    data = b"rp1 sigcache test"
    block = _Block(signer.algorithm, signer.key_id, signer.sign(data))
    verify_block(signer.public_key, block, data)
    key = VerifiedCache.key(signer.public_key, block.signature, data)
    from cardservice.pki import signing as _signing

    assert key in _signing._VERIFIED
    with pytest.raises(_Invalid):
        verify_block(signer.public_key, block, data + b"!")
    flipped = bytes([block.signature[0] ^ 1]) + block.signature[1:]
    with pytest.raises(_Invalid):
        verify_block(signer.public_key, _Block(block.algorithm, block.key_id, flipped), data)
    other = _Signer(_ec.generate_private_key(_ec.SECP256R1()))
    with pytest.raises(_Invalid):
        verify_block(other.public_key, block, data)
    bad = VerifiedCache.key(signer.public_key, flipped, data)
    assert bad not in _signing._VERIFIED
