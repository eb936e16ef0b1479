"""X.509 trust: the county-level root, the issuing authorities' certificates and CRLs.

The root is a self-signed CA certificate (basicConstraints ca=True, keyCertSign + cRLSign).
Each issuing authority holds an end-entity certificate the root issued (ca=False,
digitalSignature) whose subject CN is the authority's name -- the exact text a record's
``issuing_authority`` must carry. Signature blocks name their key by an 8-byte key id
(:func:`cardservice.pki.signing.key_id`); :meth:`TrustStore.resolve` maps it to an
:class:`Authority` after checking the chain, both validity windows and the root's CRLs.
Time is a parameter everywhere (``now`` / ``at``: timezone-aware datetimes).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from cardservice.pki.signing import key_id as compute_key_id
from cardservice.pki.x509sign import sign_builder

logger = logging.getLogger(__name__)

TRUST_REASONS = (
    "unknown_key_id",
    "untrusted_issuer",
    "bad_chain_signature",
    "not_yet_valid",
    "expired",
    "revoked",
    "authority_revoked",
    "not_a_ca",
    "bad_trust_file",
)

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


class TrustError(Exception):
    """A key id could not be resolved to a trusted authority. ``reason`` is stable."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message or reason


@dataclass(frozen=True)
class Authority:
    """An issuing authority whose certificate chains to a trusted root."""

    name: str
    key_id: bytes
    public_key: object
    certificate: x509.Certificate

    @cached_property
    def spki(self) -> bytes:
        """The DER SubjectPublicKeyInfo of :attr:`public_key`: the exact key, as bytes (a
        cache of what this key verified is keyed by it)."""
        return self.public_key.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class _Chain:
    """What a trust store knows of one authority certificate apart from the time: its root (or
    the time-independent check that failed), its CRL revocation date, and the validity windows
    of the root and the certificate, in the order they are checked."""

    authority: Authority
    root: x509.Certificate | tuple[str, str]
    revoked_at: datetime | None
    windows: tuple[tuple[datetime, datetime, str], ...] = field(default=())


# --- making certificates and CRLs --------------------------------------------------------


def _derived_serial(public_key: object, name: str, now: datetime) -> int:
    """A deterministic certificate serial (positive, < 2**159) from key, name and time."""
    spki = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(spki + name.encode() + now.isoformat().encode()).digest()
    return int.from_bytes(digest[:20], "big") >> 1 or 1


def _cn(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def make_root_certificate(
    private_key: object, name: str, *, now: datetime, days: int, serial: int | None = None
) -> x509.Certificate:
    """The self-signed county-level root CA certificate, valid ``days`` days from ``now``."""
    public_key = private_key.public_key()  # type: ignore[attr-defined]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_cn(name))
        .issuer_name(_cn(name))
        .public_key(public_key)
        .serial_number(serial or _derived_serial(public_key, name, now))
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    return sign_builder(builder, private_key)


def make_authority_certificate(
    root_key: object,
    root_cert: x509.Certificate,
    authority_public_key: object,
    name: str,
    *,
    now: datetime,
    days: int,
    serial: int | None = None,
) -> x509.Certificate:
    """An issuing authority's certificate (CN = ``name``, CJK allowed) issued by the root."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_cn(name))
        .issuer_name(root_cert.subject)
        .public_key(authority_public_key)  # type: ignore[arg-type]
        .serial_number(serial or _derived_serial(authority_public_key, name, now))
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(authority_public_key),
                       critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_cert.public_key()),
            critical=False)
    )
    return sign_builder(builder, root_key)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def make_crl(
    root_key: object,
    root_cert: x509.Certificate,
    revoked_serials: list[int] | dict[int, datetime],
    *,
    now: datetime,
    days: int = 30,
) -> x509.CertificateRevocationList:
    """A CRL signed by the root revoking ``revoked_serials`` (certificate serial numbers; a dict
    gives each its revocation date, a list revokes them from ``now``)."""
    if not isinstance(revoked_serials, dict):
        revoked_serials = dict.fromkeys(revoked_serials, now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
    )
    for serial, revoked_at in revoked_serials.items():
        entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                 .revocation_date(revoked_at).build())
        builder = builder.add_revoked_certificate(entry)
    return sign_builder(builder, root_key)


def authority_name(cert: x509.Certificate) -> str:
    """The subject CN of ``cert`` (the authority's name); "" when it has none."""
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


# --- the trust store ---------------------------------------------------------------------


class TrustStore:
    """Trusted roots, the authorities' certificates and the roots' CRLs."""

    def __init__(
        self,
        roots: Iterable[x509.Certificate],
        authorities: Iterable[x509.Certificate],
        crls: Iterable[x509.CertificateRevocationList] = (),
    ) -> None:
        self.roots = list(roots)
        self.crls = list(crls)
        self.authorities = [_authority(cert) for cert in authorities]
        self._revocations: dict[x509.Certificate, datetime | None] = {}
        # key id -> the chains of the certificates with that key, newest expiry first (the
        # checks that do not depend on the time, worked out once per store)
        self._chains: dict[bytes, tuple[_Chain, ...]] = {}

    @classmethod
    def load(cls, folder: Path) -> TrustStore:
        """Every ``*.pem`` / ``*.crl`` in ``folder``: self-signed certificates become roots,
        the others authorities; CRLs (PEM or DER) are honoured. Raises TrustError
        ("bad_trust_file") naming an unreadable file."""
        certs: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for path in sorted(Path(folder).iterdir()):
            if path.suffix.lower() in (".pem", ".crl") and path.is_file():
                _load_file(path, certs, crls)
        roots = [c for c in certs if _self_signed(c)]
        others = [c for c in certs if not _self_signed(c)]
        logger.debug("trust store: %d roots, %d authorities, %d CRLs",
                     len(roots), len(others), len(crls))
        return cls(roots, others, crls)

    def resolve(self, key_id: bytes, at: datetime, signed_at: datetime | None = None) -> Authority:
        """The authority whose key has ``key_id``, trusted at ``at``; raises TrustError.

        A certificate on a CRL is judged by the moment the data was signed: ``signed_at`` at or
        after the CRL entry's revocation date raises "authority_revoked", before it the
        certificate stays good; without ``signed_at`` (data that carries no signing time) any
        entry raises "revoked"."""
        chains = self._chains_of(bytes(key_id))
        if not chains:
            raise TrustError("unknown_key_id", f"no authority certificate has key id "
                                               f"{bytes(key_id).hex()}")
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        first_error: TrustError | None = None
        for chain in chains:
            try:
                _check_chain(chain, at, signed_at)
                return chain.authority
            except TrustError as exc:
                first_error = first_error or exc
        assert first_error is not None
        raise first_error

    def _chains_of(self, key_id: bytes) -> tuple[_Chain, ...]:
        """The chain facts of every certificate with ``key_id``, newest expiry first. Roots,
        authorities and CRLs are fixed at construction (a new CRL makes a new store), so they
        are worked out once per key id; only the time is compared on each call."""
        chains = self._chains.get(key_id)
        if chains is None:
            candidates = sorted((a for a in self.authorities if a.key_id == key_id),
                                key=lambda a: a.certificate.not_valid_after_utc, reverse=True)
            chains = tuple(self._chain(a) for a in candidates)
            self._chains[key_id] = chains
        return chains

    def _chain(self, authority: Authority) -> _Chain:
        cert = authority.certificate
        try:  # the chain signature costs more than the rest of a read's verification
            root = self._root_checks(cert)
        except TrustError as exc:
            return _Chain(authority, (exc.reason, "" if exc.message == exc.reason
                                      else exc.message), None)
        windows = tuple((c.not_valid_before_utc, c.not_valid_after_utc, authority_name(c))
                        for c in (root, cert))
        return _Chain(authority, root, self.revoked_at(root, cert), windows)

    def _root_checks(self, cert: x509.Certificate) -> x509.Certificate:
        root = self._issuer_of(cert)
        if not _is_ca(root):
            raise TrustError("not_a_ca", f"root {authority_name(root)!r} is not a CA")
        return root

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        named = [r for r in self.roots if r.subject == cert.issuer]
        if not named:
            raise TrustError("untrusted_issuer",
                             f"issuer {cert.issuer.rfc4514_string()!r} is not a trusted root")
        for root in named:
            try:
                cert.verify_directly_issued_by(root)
                return root
            except (InvalidSignature, ValueError, TypeError):
                continue
        raise TrustError("bad_chain_signature",
                         f"certificate of {authority_name(cert)!r} does not verify under its root")

    def revoked_at(self, root: x509.Certificate, cert: x509.Certificate) -> datetime | None:
        """The earliest revocation date of ``cert`` on a CRL that ``root`` signed, or None
        (computed once per certificate: the CRLs are fixed at construction)."""
        if cert in self._revocations:
            return self._revocations[cert]
        dates = []
        for crl in self.crls:
            if crl.issuer != root.subject or not crl.is_signature_valid(root.public_key()):
                continue
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            if entry is not None:
                dates.append(entry.revocation_date_utc)
        self._revocations[cert] = min(dates) if dates else None
        return self._revocations[cert]


def _check_chain(chain: _Chain, at: datetime, signed_at: datetime | None) -> None:
    """The checks of :meth:`TrustStore.resolve` for one certificate, in their order: the
    root, the CRL (judged at ``signed_at``), then the root's and the certificate's validity
    windows at ``at`` (timezone-aware)."""
    if isinstance(chain.root, tuple):
        raise TrustError(*chain.root)
    _check_revocation(chain.authority.certificate, chain.revoked_at, signed_at)
    for not_before, not_after, name in chain.windows:
        if at < not_before:
            raise TrustError("not_yet_valid", f"certificate of {name!r} is valid from "
                                              f"{not_before.isoformat()}")
        if at > not_after:
            raise TrustError("expired", f"certificate of {name!r} expired "
                                        f"{not_after.isoformat()}")


def _check_revocation(cert: x509.Certificate, revoked_at: datetime | None,
                      signed_at: datetime | None) -> None:
    if revoked_at is None:
        return
    if signed_at is None:
        raise TrustError("revoked", f"certificate {cert.serial_number:x} is revoked")
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if signed_at >= revoked_at:
        raise TrustError("authority_revoked",
                         f"certificate {cert.serial_number:x} is revoked from "
                         f"{revoked_at.isoformat()}; signed {signed_at.isoformat()}")


def _authority(cert: x509.Certificate) -> Authority:
    public_key = cert.public_key()
    return Authority(authority_name(cert), compute_key_id(public_key), public_key, cert)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return constraints.ca
    return constraints.ca and usage.key_cert_sign


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _load_file(path: Path, certs: list, crls: list) -> None:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" not in data:
            crls.append(x509.load_der_x509_crl(data))
            return
        for match in _PEM_BLOCK.finditer(data):
            label, block = match.group(1), match.group(0)
            if label == b"CERTIFICATE":
                certs.append(x509.load_pem_x509_certificate(block))
            elif label == b"X509 CRL":
                crls.append(x509.load_pem_x509_crl(block))
    except ValueError as exc:
        raise TrustError("bad_trust_file", f"{path.name}: {exc}") from None
