"""The county centre: its root key, the authorities it certifies, revocations and CRLs.

Layout under ``<data directory>/county/`` (docs/pki.md)::

    roots/<serial>.pem          every root certificate the county has had (rollover keeps them)
    roots/<serial>.key.pem      a root's private key (mode 0600)            [file keys]
    roots/<serial>.token.json   the token label of a root's key             [PKCS#11]
    current_root                the serial of the root that signs now
    links/<serial>.pem          a new root's key certified by the root before it (rollover)
    issued/<serial>.pem         every authority certificate issued
    revocations.json            [{serial, site_id, reason, revoked_at}]

An authority certificate is an end-entity certificate for signing records only: basicConstraints
ca=False, keyUsage digitalSignature (both critical), extendedKeyUsage :data:`RECORD_SIGNING`;
its subject is ``CN=<authority name>, serialNumber=<site id>``. The root has path length 0, so no
authority can certify another key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cardservice.errors import CountyError
from cardservice.pki import bundle as bundles
from cardservice.pki.issued import IssuedCards
from cardservice.pki.keys import check_private, open_token, write_private, write_public
from cardservice.pki.pkcs11 import TokenConfig, unique_label
from cardservice.pki.trust import authority_name, make_crl, make_root_certificate
from cardservice.pki.x509sign import sign_builder

#: extendedKeyUsage of an authority certificate: "signs RP1 card records" (a private OID under
#: the UUID arc 2.25, so it names nothing else).
RECORD_SIGNING = x509.ObjectIdentifier("2.25.274907455372813011826713497474580150387")
REASONS = {
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "unspecified": x509.ReasonFlags.unspecified,
}


@dataclass(frozen=True)
class Revocation:
    serial: int
    site_id: str
    reason: str
    revoked_at: datetime


class County:
    """The county centre's files in ``<home>/county``; root keys as files or in a token."""

    def __init__(self, home: Path, token: TokenConfig | None = None) -> None:
        self.dir = Path(home) / "county"
        self.token = token

    # --- roots ----------------------------------------------------------------------------

    def init(self, name: str, *, now: datetime, days: int, pkcs11: bool) -> x509.Certificate:
        """The county root key and self-signed certificate (refused when one exists)."""
        if (self.dir / "current_root").exists():
            raise CountyError(f"the county root exists already in {self.dir.name}/; "
                              "use `county rollover-root` to replace it")
        cert, _ = self._new_root(name, now=now, days=days, pkcs11=pkcs11)
        return cert

    def rollover_root(self, *, now: datetime, days: int,
                      pkcs11: bool) -> tuple[x509.Certificate, x509.Certificate]:
        """A new root key and certificate, and a link certificate: the new root's key signed by
        the old root. Old roots stay (their authorities' cards verify until they expire)."""
        old_cert, old_key = self.root()
        cert, key = self._new_root(authority_name(old_cert), now=now, days=days, pkcs11=pkcs11)
        link = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(old_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(old_cert.not_valid_after_utc)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                               critical=False))
        link_cert = sign_builder(link, old_key)
        write_public(self.dir / "links" / f"{cert.serial_number:x}.pem", _pem(link_cert))
        return cert, link_cert

    def _new_root(self, name: str, *, now: datetime, days: int, pkcs11: bool):
        if pkcs11:
            if self.token is None:
                raise CountyError("--pkcs11 needs CARDSERVICE_PKCS11_MODULE, _TOKEN and _PIN_FILE")
            key = open_token(self.token).generate_ec(unique_label("county-root", now))
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        cert = make_root_certificate(key, name, now=now, days=days)
        stem = self.dir / "roots" / f"{cert.serial_number:x}"
        if pkcs11:
            write_public(stem.with_suffix(".token.json"),
                         json.dumps({"token": self.token.token, "label": key.label}).encode())
        else:
            write_private(stem.with_suffix(".key.pem"), key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        write_public(stem.with_suffix(".pem"), _pem(cert))
        write_public(self.dir / "current_root", f"{cert.serial_number:x}\n".encode())
        return cert, key

    def roots(self) -> list[x509.Certificate]:
        folder = self.dir / "roots"
        if not folder.is_dir():
            return []
        return [x509.load_pem_x509_certificate(p.read_bytes())
                for p in sorted(folder.glob("*.pem")) if not p.name.endswith(".key.pem")]

    def links(self) -> list[x509.Certificate]:
        return _load_all(self.dir / "links")

    def bundle(self, *, now: datetime, max_age: timedelta, revoked_cards: list[str],
               issued: IssuedCards | None) -> bytes:
        """The signed trust bundle for verify-only installations: every root, link and
        authority certificate, the CRLs, the revoked cards and (built from the county
        registry) the issued ones, signed by the current root."""
        root, key = self.root()
        return bundles.build(signer_cert=root, signer_key=key, roots=self.roots(),
                             links=self.links(), authorities=self.issued(),
                             crls=self.crls(now=now), revoked_cards=revoked_cards, now=now,
                             max_age=max_age, issued=issued)

    def root(self, serial: int | None = None):
        """(certificate, private key) of the current root, or of the root ``serial``."""
        if serial is None:
            current = self.dir / "current_root"
            if not current.exists():
                raise CountyError("no county root here; run `cardservice county init`")
            stem_name = current.read_text().strip()
        else:
            stem_name = f"{serial:x}"
        stem = self.dir / "roots" / stem_name
        cert = x509.load_pem_x509_certificate(stem.with_suffix(".pem").read_bytes())
        return cert, self._root_key(stem)

    def _root_key(self, stem: Path):
        key_file, token_file = stem.with_suffix(".key.pem"), stem.with_suffix(".token.json")
        if key_file.exists():
            check_private(key_file)
            return serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if token_file.exists():
            if self.token is None:
                raise CountyError("the root key is in a PKCS#11 token; set CARDSERVICE_PKCS11_*")
            return open_token(self.token).ec_key(json.loads(token_file.read_text())["label"])
        raise CountyError(f"the key of root {stem.name} is not here")

    # --- authorities ----------------------------------------------------------------------

    def certify(self, csr_pem: bytes, *, now: datetime, days: int) -> x509.Certificate:
        """An authority certificate for the CSR's key, signed by the current root."""
        csr = _load_csr(csr_pem)
        root, key = self.root()
        if now + timedelta(days=days) > root.not_valid_after_utc:
            raise CountyError("the certificate would outlive the root; roll the root over first "
                              "or give fewer --valid-days")
        public = csr.public_key()
        builder = (
            x509.CertificateBuilder().subject_name(_subject(csr)).issuer_name(root.subject)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([RECORD_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()),
                           critical=False))
        cert = sign_builder(builder, key)
        write_public(self.dir / "issued" / f"{cert.serial_number:x}.pem", _pem(cert))
        return cert

    def issued(self) -> list[x509.Certificate]:
        return _load_all(self.dir / "issued")

    def revoke(self, serial_or_site: str, *, reason: str, at: datetime) -> list[Revocation]:
        """Revoke the certificate with that serial (hex), or every certificate of that site id,
        from ``at`` on."""
        if reason not in REASONS:
            raise CountyError(f"reason must be one of {', '.join(REASONS)}")
        matches = [c for c in self.issued() if _site_id(c) == serial_or_site
                   or f"{c.serial_number:x}" == serial_or_site.lower().removeprefix("0x")]
        if not matches:
            raise CountyError(f"no issued certificate has serial or site id {serial_or_site!r}")
        done = self.revocations()
        known = {r.serial for r in done}
        new = [Revocation(c.serial_number, _site_id(c), reason, at) for c in matches
               if c.serial_number not in known]
        self._save_revocations(done + new)
        return new

    def revocations(self) -> list[Revocation]:
        path = self.dir / "revocations.json"
        if not path.exists():
            return []
        return [Revocation(int(r["serial"], 16), r["site_id"], r["reason"],
                           datetime.fromisoformat(r["revoked_at"]))
                for r in json.loads(path.read_text())]

    def _save_revocations(self, items: list[Revocation]) -> None:
        body = [{"serial": f"{r.serial:x}", "site_id": r.site_id, "reason": r.reason,
                 "revoked_at": r.revoked_at.isoformat()} for r in items]
        write_public(self.dir / "revocations.json", (json.dumps(body, indent=2) + "\n").encode())

    def crls(self, *, now: datetime, days: int = 30) -> list[x509.CertificateRevocationList]:
        """One CRL per root whose key is here, listing the revoked certificates it issued."""
        revoked = {r.serial: r.revoked_at for r in self.revocations()}
        issued = {c.serial_number: c for c in self.issued()}
        out = []
        for root in self.roots():
            mine = {s: t for s, t in revoked.items()
                    if s in issued and issued[s].issuer == root.subject and _issued_by(issued[s], root)}
            _, key = self.root(root.serial_number)
            out.append(make_crl(key, root, mine, now=now, days=days))
        return out


def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(root)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise CountyError(f"not a PEM certificate request: {exc}") from None
    if not csr.is_signature_valid:
        raise CountyError("the request's signature does not verify (proof of possession)")
    public = csr.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve,
                                                                           ec.SECP256R1):
        raise CountyError("authority keys must be EC P-256")
    if not authority_name(csr) or not _site_id(csr):  # type: ignore[arg-type]
        raise CountyError("the request must name the authority (CN) and the site (serialNumber)")
    return csr


def _subject(csr: x509.CertificateSigningRequest) -> x509.Name:
    """Only CN and serialNumber are copied from the request; nothing else it asks for."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, authority_name(csr)),  # type: ignore[arg-type]
                      x509.NameAttribute(NameOID.SERIAL_NUMBER, _site_id(csr))])


def _site_id(obj) -> str:
    values = obj.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else ""


def site_id_of(cert: x509.Certificate) -> str:
    return _site_id(cert)


def _load_all(folder: Path) -> list[x509.Certificate]:
    if not folder.is_dir():
        return []
    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(folder.glob("*.pem"))]


def _pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)
