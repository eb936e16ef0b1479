"""An acceptance point's side of enrollment: its authority key, the CSR, installing the
certificate the county returns, and the card master keys (docs/pki.md).

``site request`` makes the key (a file under ``authority/pending/`` or an object in the token)
and a CSR whose subject is ``CN=<authority name>, serialNumber=<site id>``, signed by that key.
``site install`` accepts only a certificate that certifies exactly the pending key and chains to
a root the installation trusts; it then makes the pending key the signing key. The previous
authority certificate stays in ``trust/``, so cards signed with the old key keep verifying.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from card_layout.files import KeyRef
from cardservice.errors import CountyError, KeysMissingError
from cardservice.pki.keys import (
    MASTER_NAMES,
    DataDir,
    check_private,
    open_token,
    write_private,
    write_public,
)
from cardservice.pki.pkcs11 import TokenConfig, unique_label
from cardservice.pki.signing import key_id
from cardservice.pki.trust import TrustError, TrustStore, authority_name
from cardservice.pki.x509sign import sign_builder


def _pending(home: DataDir):
    return home.root / "authority" / "pending"


def request(home: DataDir, *, site_id: str, name: str, now: datetime,
            token: TokenConfig | None = None) -> bytes:
    """A new authority key and the PEM CSR for it."""
    if not site_id.strip() or not name.strip():
        raise CountyError("--site-id and --name must not be empty")
    pending = _pending(home)
    _same_backend(home, token is not None)
    if token is not None:
        key = open_token(token).generate_ec(unique_label("authority", now))
        write_public(pending / "token.json", json.dumps({"authority_key": key.label}).encode())
        (pending / "key.pem").unlink(missing_ok=True)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        write_private(pending / "key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        (pending / "token.json").unlink(missing_ok=True)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name.strip()),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, site_id.strip())])
    csr = sign_builder(x509.CertificateSigningRequestBuilder().subject_name(subject), key)
    return csr.public_bytes(serialization.Encoding.PEM)


def _same_backend(home: DataDir, pkcs11: bool) -> None:
    """The authority key and the master keys live in one backend (files, or one token)."""
    if pkcs11 and home.masters.exists():
        raise CountyError("this site keeps its master keys in files; request without --pkcs11 "
                          "(or install the masters in the token first: site masters --pkcs11)")
    if not pkcs11 and home.token_map.exists():
        raise CountyError("this site keeps its keys in a PKCS#11 token; use --pkcs11")


def install(home: DataDir, cert_pem: bytes, *, now: datetime) -> x509.Certificate:
    """Install the county's certificate for the pending key; it becomes the signing key."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CountyError(f"not a PEM certificate: {exc}") from None
    pending = _pending(home)
    token_file, key_file = pending / "token.json", pending / "key.pem"
    if not token_file.exists() and not key_file.exists():
        raise CountyError("no pending request here; run `cardservice site request` first")
    expected = _pending_public(home, token_file, key_file)
    if key_id(cert.public_key()) != key_id(expected):
        raise CountyError("the certificate does not certify this site's pending key")
    trust = TrustStore(TrustStore.load(home.trust_dir).roots, [cert])
    try:
        trust.resolve(key_id(cert.public_key()), now)
    except TrustError as exc:
        raise CountyError(f"the certificate does not chain to a trusted root: {exc.reason} "
                          "(import the county's bundle with `cardservice trust import` first)"
                          ) from None
    write_public(home.trust_dir / f"authority-{cert.serial_number:x}.pem", _pem(cert))
    write_public(home.authority_cert, _pem(cert))
    if token_file.exists():
        labels = json.loads(home.token_map.read_text()) if home.token_map.exists() else {}
        labels.update({"backend": "pkcs11",
                       "authority_key": json.loads(token_file.read_text())["authority_key"]})
        write_public(home.token_map, (json.dumps(labels, indent=2) + "\n").encode())
        token_file.unlink()
        home.authority_key.unlink(missing_ok=True)
    else:
        key_file.replace(home.authority_key)
        home.token_map.unlink(missing_ok=True)
    return cert


def _pending_public(home: DataDir, token_file, key_file):
    if token_file.exists():
        from cardservice.pki.pkcs11 import TokenConfig as _Config

        config = _Config.from_env()
        if config is None:
            raise KeysMissingError("the pending key is in a PKCS#11 token; set "
                                   "CARDSERVICE_PKCS11_*")
        label = json.loads(token_file.read_text())["authority_key"]
        return open_token(config).ec_key(label).public_key()
    check_private(key_file)
    return serialization.load_pem_private_key(key_file.read_bytes(), password=None).public_key()


def install_masters(home: DataDir, masters: dict[KeyRef, bytes],
                    token: TokenConfig | None = None) -> None:
    """Install card master keys (as ``masters.json`` or imported into the token)."""
    if token is None and home.token_map.exists():
        raise CountyError("this site keeps its keys in a PKCS#11 token; use --pkcs11")
    if token is not None and home.authority_key.exists():
        raise CountyError("this site's authority key is a file; install the masters without "
                          "--pkcs11")
    if token is None:
        body = {name: masters[ref].hex() for ref, name in MASTER_NAMES.items()}
        write_private(home.masters, (json.dumps(body, indent=2) + "\n").encode())
        return
    session = open_token(token)
    labels = json.loads(home.token_map.read_text()) if home.token_map.exists() else {}
    names = {}
    for ref, name in MASTER_NAMES.items():
        label = unique_label(f"master-{name}", datetime.now(UTC))
        session.import_master(label, masters[ref])
        names[name] = label
    labels.update({"backend": "pkcs11", "token": token.token, "masters": names})
    write_public(home.token_map, (json.dumps(labels, indent=2) + "\n").encode())
    home.masters.unlink(missing_ok=True)


def describe(cert: x509.Certificate) -> str:
    return (f"{authority_name(cert)} (serial {cert.serial_number:x}, key id "
            f"{key_id(cert.public_key()).hex()}, valid to {cert.not_valid_after_utc:%Y-%m-%d})")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
