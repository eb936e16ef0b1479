"""Signatures over the card's identity and erasable record (see docs/signing.md).

Signed bytes ("TBS"), every length a 2-byte big-endian prefix before a variable part:

    identity TBS = b"RP1-IDENTITY-v1\\x00" || serial (8) || len || encode_identity(identity)
                   || key id (8)        (format version 2 identities: "RP1-IDENTITY-v2\\x00")
    record TBS   = b"RP1-RECORD-v1\\x00"   || serial (8) || SHA-256(identity signature) (32)
                   || len || encode_record(record) || key id (8)

The serial binds both to one card; the identity-signature hash binds the record to that
identity; the record encoding includes the sequence number. ECDSA P-256/SHA-256 signatures
are stored as r || s (2 x 32 bytes), Ed25519 signatures as their raw 64 bytes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.backends.openssl.backend import backend as _backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from card_layout.files import SERIAL_LEN
from card_layout.identity import Identity, encode_identity
from card_layout.record import ResidenceRecord, encode_record
from card_layout.signature import SigAlg, SignatureBlock

logger = logging.getLogger(__name__)

IDENTITY_TAG = b"RP1-IDENTITY-v1\x00"
#: Domain tag of a format-version-2 identity (photo hash and / or chip key inside).
IDENTITY_TAG_V2 = b"RP1-IDENTITY-v2\x00"
RECORD_TAG = b"RP1-RECORD-v1\x00"
KEY_ID_LEN = 8
SIGNATURE_LEN = 64
_COORD_LEN = 32
_DETERMINISTIC_ECDSA = _backend.ecdsa_deterministic_supported()


class SignatureInvalid(Exception):
    """A signature block does not verify. ``reason``: "bad_signature", "algorithm_mismatch",
    "bad_length"."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message or reason


def key_id(public_key: object) -> bytes:
    """First 8 bytes of SHA-256 over the key's SubjectPublicKeyInfo DER."""
    spki = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:KEY_ID_LEN]


def _prefixed(part: bytes) -> bytes:
    if len(part) > 0xFFFF:
        raise ValueError("part too long for a 2-byte length prefix")
    return len(part).to_bytes(2, "big") + part


def _fixed(value: bytes, length: int, what: str) -> bytes:
    value = bytes(value)
    if len(value) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(value)}")
    return value


def identity_tbs(serial: bytes, identity: Identity, key_id: bytes) -> bytes:
    """The bytes the identity signature covers (the domain tag names the format version)."""
    tag = IDENTITY_TAG_V2 if identity.version == 2 else IDENTITY_TAG
    return (tag + _fixed(serial, SERIAL_LEN, "serial")
            + _prefixed(encode_identity(identity)) + _fixed(key_id, KEY_ID_LEN, "key id"))


def record_tbs(
    serial: bytes, identity_signature: bytes, record: ResidenceRecord, key_id: bytes
) -> bytes:
    """The bytes the record signature covers (binds card, identity signature and record)."""
    return (RECORD_TAG + _fixed(serial, SERIAL_LEN, "serial")
            + hashlib.sha256(bytes(identity_signature)).digest()
            + _prefixed(encode_record(record)) + _fixed(key_id, KEY_ID_LEN, "key id"))


class Signer:
    """A signing key (EC P-256 or Ed25519) with its algorithm id and key id."""

    def __init__(self, private_key: object) -> None:
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            self._algorithm = SigAlg.ED25519
        elif isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
                private_key.curve, ec.SECP256R1):
            self._algorithm = SigAlg.ECDSA_P256_SHA256
        else:
            raise TypeError("signing keys must be EC P-256 or Ed25519")
        self._key = private_key
        self._key_id = key_id(private_key.public_key())

    @property
    def algorithm(self) -> SigAlg:
        return self._algorithm

    @property
    def key_id(self) -> bytes:
        return self._key_id

    @property
    def public_key(self) -> object:
        return self._key.public_key()  # type: ignore[attr-defined]

    def sign(self, data: bytes) -> bytes:
        """64 bytes: Ed25519 raw, or ECDSA r || s (RFC 6979 deterministic when available)."""
        if self._algorithm is SigAlg.ED25519:
            return self._key.sign(data)  # type: ignore[attr-defined]
        ecdsa = ec.ECDSA(hashes.SHA256(), deterministic_signing=_DETERMINISTIC_ECDSA)
        r, s = decode_dss_signature(self._key.sign(data, ecdsa))  # type: ignore[attr-defined]
        return r.to_bytes(_COORD_LEN, "big") + s.to_bytes(_COORD_LEN, "big")


def sign_identity(signer: Signer, serial: bytes, identity: Identity) -> SignatureBlock:
    """The signature block written after the identity in EF.ID."""
    tbs = identity_tbs(serial, identity, signer.key_id)
    return SignatureBlock(signer.algorithm, signer.key_id, signer.sign(tbs))


def sign_record(
    signer: Signer, serial: bytes, identity_sig: SignatureBlock, record: ResidenceRecord
) -> SignatureBlock:
    """The signature block written with ``record`` into a slot."""
    tbs = record_tbs(serial, identity_sig.signature, record, signer.key_id)
    return SignatureBlock(signer.algorithm, signer.key_id, signer.sign(tbs))


def _algorithm_of(public_key: object) -> SigAlg | None:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return SigAlg.ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
            public_key.curve, ec.SECP256R1):
        return SigAlg.ECDSA_P256_SHA256
    return None


class VerifiedCache:
    """Remembers signatures that verified, keyed by the exact public key, signature and a
    SHA-256 of the signed bytes (a "sigcache"): verifying the same bytes again gives the same
    answer, so a card read twice is checked once. Failures are never cached; bounded LRU."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(public_key: object, signature: bytes, data: bytes) -> bytes:
        spki = public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(
            len(spki).to_bytes(2, "big") + spki + signature + hashlib.sha256(data).digest()
        ).digest()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
            return False

    def add(self, key: bytes) -> None:
        with self._lock:
            self._seen[key] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)


_VERIFIED = VerifiedCache()


def verify_block(public_key: object, block: SignatureBlock, data: bytes) -> None:
    """Returns when ``block`` is a valid signature of ``data`` by ``public_key``;
    raises SignatureInvalid otherwise (never a library exception)."""
    algorithm = _algorithm_of(public_key)
    if algorithm is None or block.algorithm != algorithm:
        raise SignatureInvalid("algorithm_mismatch",
                               f"block says {block.algorithm!r}, key is {algorithm!r}")
    key = VerifiedCache.key(public_key, bytes(block.signature), data)
    if key in _VERIFIED:
        return
    _verify_uncached(public_key, algorithm, block, data)
    _VERIFIED.add(key)


def _verify_uncached(public_key: object, algorithm: SigAlg, block: SignatureBlock,
                     data: bytes) -> None:
    signature = bytes(block.signature)
    if len(signature) != SIGNATURE_LEN:
        raise SignatureInvalid("bad_length", f"signature is {len(signature)} bytes, not 64")
    try:
        if algorithm is SigAlg.ED25519:
            public_key.verify(signature, data)  # type: ignore[attr-defined]
        else:
            der = encode_dss_signature(int.from_bytes(signature[:_COORD_LEN], "big"),
                                       int.from_bytes(signature[_COORD_LEN:], "big"))
            public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]
    except InvalidSignature:
        raise SignatureInvalid("bad_signature", "signature does not verify") from None
