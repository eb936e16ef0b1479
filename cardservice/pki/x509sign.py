"""Signing X.509 objects (certificates, CRLs, CSRs) with a key that ``cryptography`` cannot hold.

``cryptography`` builders sign only with its own private keys. For a key inside a PKCS#11
token the builder first signs with a throw-away P-256 key: the to-be-signed part does not depend
on the signing key (the issuer's key identifier is an explicit extension), so its bytes are
taken as they are, the token signs them (ECDSA with SHA-256), and the object is re-assembled as
``SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }``. The result is loaded back and
its signature checked against the token's public key before it is returned.
"""

from __future__ import annotations

from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

_COORD = 32


class ExternalKey(Protocol):
    """A P-256 private key held elsewhere (a token): its public key and a raw r || s signer."""

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign_raw(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256(data), as r || s (64 bytes)."""
        ...


Builder = (x509.CertificateBuilder | x509.CertificateRevocationListBuilder
           | x509.CertificateSigningRequestBuilder)


def is_native(key: object) -> bool:
    return isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))


def sign_builder(builder: Builder, key: object):
    """``builder`` signed by ``key`` (a ``cryptography`` private key or an :class:`ExternalKey`)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return builder.sign(key, None)  # type: ignore[arg-type]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())  # type: ignore[arg-type]
    tbs, loader, check = _parts(draft)
    if isinstance(draft, x509.CertificateSigningRequest):
        tbs = _with_own_key(tbs, key.public_key())  # type: ignore[attr-defined]
    raw = key.sign_raw(tbs)  # type: ignore[attr-defined]
    der_sig = encode_dss_signature(int.from_bytes(raw[:_COORD], "big"),
                                   int.from_bytes(raw[_COORD:], "big"))
    outer = _tlvs(draft.public_bytes(_der()))
    algorithm = outer[1]
    signed = loader(_seq(tbs + algorithm + _tlv(0x03, b"\x00" + der_sig)))
    check(signed, key.public_key())  # type: ignore[attr-defined]
    return signed


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _parts(draft):
    if isinstance(draft, x509.Certificate):
        return draft.tbs_certificate_bytes, x509.load_der_x509_certificate, _check_cert
    if isinstance(draft, x509.CertificateRevocationList):
        return draft.tbs_certlist_bytes, x509.load_der_x509_crl, _check_crl
    return draft.tbs_certrequest_bytes, x509.load_der_x509_csr, _check_csr


def _with_own_key(tbs: bytes, public_key: ec.EllipticCurvePublicKey) -> bytes:
    """A CSR's to-be-signed part names the requester's key; the draft named the throw-away
    key, so its SubjectPublicKeyInfo (the third element) is replaced by the token key's."""
    from cryptography.hazmat.primitives.serialization import PublicFormat

    items = _tlvs(tbs)
    items[2] = public_key.public_bytes(_der(), PublicFormat.SubjectPublicKeyInfo)
    return _seq(b"".join(items))


def _check_cert(cert: x509.Certificate, public_key: ec.EllipticCurvePublicKey) -> None:
    public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))


def _check_crl(crl: x509.CertificateRevocationList, public_key) -> None:
    if not crl.is_signature_valid(public_key):
        raise ValueError("the token's CRL signature does not verify")


def _check_csr(csr: x509.CertificateSigningRequest, public_key) -> None:
    if not csr.is_signature_valid or csr.public_key() != public_key:
        raise ValueError("the token's certificate request does not verify")


# --- minimal DER ------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _seq(value: bytes) -> bytes:
    return _tlv(0x30, value)


def _tlvs(der: bytes) -> list[bytes]:
    """The encoded elements inside the outer SEQUENCE of ``der``."""
    _, start, end = _header(der, 0)
    items, pos = [], start
    while pos < end:
        _, _body, stop = _header(der, pos)
        items.append(der[pos:stop])
        pos = stop
    return items


def _header(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the element at ``pos``."""
    tag, first = der[pos], der[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[pos + 2:pos + 2 + count], "big")
    start = pos + 2 + count
    return tag, start, start + length
