"""The signed trust bundle a county publishes for its verify-only installations (docs/pki.md).

A bundle is one JSON file::

    {"bundle": {"format": "rp1-trust-bundle-v1", "issued_at": ISO-8601 UTC,
                "max_age_seconds": N, "signer": PEM (the root that signs),
                "roots": [PEM], "links": [PEM], "authorities": [PEM], "crls": [PEM],
                "revoked_cards": [serial hex, sorted],
                "issued_cards": {"scheme", "count", "digests"} (optional: cardservice/pki/issued.py)},
     "signature": base64 of the DER ECDSA P-256/SHA-256 signature over the canonical JSON of
                  "bundle" (keys sorted, no spaces, UTF-8)}

``trust import`` accepts a bundle only when its signer is a root the installation already
trusts, or a new root that a link certificate in the bundle certifies under a trusted root
(root rollover). A bundle older than the installed one is refused (no rollback to a bundle
from before a revocation).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cardservice.errors import TrustBundleError
from cardservice.pki.issued import IssuedCards
from cardservice.pki.keys import DataDir, write_public
from cardservice.pki.trust import TrustStore

FORMAT = "rp1-trust-bundle-v1"
DEFAULT_MAX_AGE = timedelta(days=7)
BUNDLE_FILE = "trust-bundle.json"
TRUST_FILE = "bundle.pem"


@dataclass(frozen=True)
class Bundle:
    issued_at: datetime
    max_age: timedelta
    signer: x509.Certificate
    roots: list[x509.Certificate]
    links: list[x509.Certificate]
    authorities: list[x509.Certificate]
    crls: list[x509.CertificateRevocationList]
    revoked_cards: frozenset[str]
    #: every card the county registry held when the bundle was built; None in a bundle built
    #: from a registry that is not the county's (a site's own), which cannot say it
    issued: IssuedCards | None = None

    def stale(self, now: datetime) -> bool:
        return now - self.issued_at > self.max_age


def _pem(obj) -> str:
    return obj.public_bytes(serialization.Encoding.PEM).decode()


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build(*, signer_cert: x509.Certificate, signer_key, roots, links, authorities, crls,
          revoked_cards, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE,
          issued: IssuedCards | None = None) -> bytes:
    """The signed bundle (``signer_key``: a P-256 key, file or token); ``issued``: the county
    registry's cards (left out of the bundle when None)."""
    body = {
        "format": FORMAT, "issued_at": now.astimezone(UTC).isoformat(),
        "max_age_seconds": int(max_age.total_seconds()), "signer": _pem(signer_cert),
        "roots": [_pem(c) for c in roots], "links": [_pem(c) for c in links],
        "authorities": [_pem(c) for c in authorities], "crls": [_pem(c) for c in crls],
        "revoked_cards": sorted({s.lower() for s in revoked_cards}),
    }
    if issued is not None:
        body["issued_cards"] = issued.to_json()
    payload = _canonical(body)
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        signature = signer_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    else:
        raw = signer_key.sign_raw(payload)
        signature = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                         int.from_bytes(raw[32:], "big"))
    out = {"bundle": body, "signature": base64.b64encode(signature).decode()}
    return (json.dumps(out, indent=1, ensure_ascii=False) + "\n").encode()


def verify(data: bytes, trusted_roots: list[x509.Certificate], now: datetime) -> Bundle:
    """The bundle, if its signature chains to ``trusted_roots``; TrustBundleError otherwise."""
    try:
        outer = json.loads(data)
        body, signature = outer["bundle"], base64.b64decode(outer["signature"], validate=True)
        if body.get("format") != FORMAT:
            raise TrustBundleError(f"not a {FORMAT} bundle")
        bundle = _parse(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustBundleError(f"the bundle is malformed: {type(exc).__name__}") from None
    _check_signer(bundle, trusted_roots, now)
    try:
        bundle.signer.public_key().verify(signature, _canonical(body),  # type: ignore[call-arg]
                                          ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    except (InvalidSignature, TypeError):
        raise TrustBundleError("the bundle's signature does not verify") from None
    return bundle


def _parse(body: dict) -> Bundle:
    certs = lambda key: [x509.load_pem_x509_certificate(p.encode()) for p in body[key]]
    issued = datetime.fromisoformat(body["issued_at"])
    if issued.tzinfo is None:
        raise ValueError("issued_at has no time zone")
    return Bundle(
        issued_at=issued, max_age=timedelta(seconds=int(body["max_age_seconds"])),
        signer=x509.load_pem_x509_certificate(body["signer"].encode()),
        roots=certs("roots"), links=certs("links"), authorities=certs("authorities"),
        crls=[x509.load_pem_x509_crl(p.encode()) for p in body["crls"]],
        revoked_cards=frozenset(str(s).lower() for s in body["revoked_cards"]),
        issued=IssuedCards.from_json(body["issued_cards"]) if "issued_cards" in body else None)


def _same_key(a: x509.Certificate, b: x509.Certificate) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_key().public_bytes(*fmt) == b.public_key().public_bytes(*fmt)


def _check_signer(bundle: Bundle, trusted: list[x509.Certificate], now: datetime) -> None:
    signer = bundle.signer
    if any(_same_key(signer, root) and signer.subject == root.subject for root in trusted):
        return
    for link in bundle.links:
        if not _same_key(link, signer):
            continue
        for root in trusted:
            if link.issuer != root.subject:
                continue
            try:
                link.verify_directly_issued_by(root)
            except (InvalidSignature, ValueError, TypeError):
                continue
            if link.not_valid_before_utc <= now <= link.not_valid_after_utc:
                return
    raise TrustBundleError("the bundle is not signed by a root this installation trusts")


def install(home: DataDir, data: bytes, now: datetime) -> Bundle:
    """Verify ``data`` against the trusted roots in ``trust/`` and install it."""
    roots = TrustStore.load(home.trust_dir).roots if home.trust_dir.is_dir() else []
    if not roots:
        raise TrustBundleError("no trusted root yet: add the county root with "
                               "`cardservice trust add-root ROOT.pem --sha256 FINGERPRINT`")
    bundle = verify(data, roots, now)
    current = installed(home, now)
    if current is not None and bundle.issued_at < current.issued_at:
        raise TrustBundleError(f"the bundle was issued {bundle.issued_at.isoformat()}, before "
                               f"the installed one ({current.issued_at.isoformat()})")
    pems = [_pem(c) for c in bundle.roots + bundle.authorities] + [_pem(c) for c in bundle.crls]
    write_public(home.trust_dir / TRUST_FILE, "".join(pems).encode())
    write_public(home.root / BUNDLE_FILE, data)
    return bundle


def installed(home: DataDir, now: datetime) -> Bundle | None:
    """The installed bundle (verified again against the trusted roots), or None."""
    path = home.root / BUNDLE_FILE
    if not path.exists():
        return None
    return verify(path.read_bytes(), TrustStore.load(home.trust_dir).roots, now)


def add_root(home: DataDir, pem: bytes, sha256_hex: str) -> x509.Certificate:
    """Trust ``pem`` as a root when its SHA-256 fingerprint is the one given (read out of band)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise TrustBundleError(f"not a PEM certificate: {exc}") from None
    given = sha256_hex.replace(":", "").lower()
    actual = cert.fingerprint(hashes.SHA256()).hex()
    if given != actual:
        raise TrustBundleError(f"fingerprint mismatch: the file's SHA-256 is {actual}")
    write_public(home.trust_dir / f"root-{cert.serial_number:x}.pem", _pem(cert).encode())
    return cert
