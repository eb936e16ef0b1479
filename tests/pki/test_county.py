"""The county centre's certificates: record signing only, only CN and site id taken from a
request, requests without proof of possession or with another key type refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from cardservice.errors import CountyError
from cardservice.pki.county import RECORD_SIGNING, County

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _csr(key=None, *, extra: bool = False, site: str | None = "S01") -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, "示范县公安局城关派出所")]
    if site:
        names.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, site))
    if extra:
        names.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "anything"))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    if extra:  # a request for a CA certificate must not give one
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def county(tmp_path: Path) -> County:
    c = County(tmp_path)
    c.init("示范县公安局", now=NOW, days=3650, pkcs11=False)
    return c


def test_certificate_is_for_record_signing_only(county: County) -> None:
    cert = county.certify(_csr(extra=True), now=NOW, days=1825)
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = ext.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(ext.get_extension_for_class(x509.ExtendedKeyUsage).value) == [RECORD_SIGNING]
    assert [a.oid for a in cert.subject] == [NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER]
    root, _ = county.root()
    cert.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert (county.dir / "issued" / f"{cert.serial_number:x}.pem").exists()


def test_bad_requests_are_refused(county: County) -> None:
    with pytest.raises(CountyError, match="P-256"):
        county.certify(_csr(ed25519.Ed25519PrivateKey.generate()), now=NOW, days=30)
    with pytest.raises(CountyError, match="serialNumber"):
        county.certify(_csr(site=None), now=NOW, days=30)
    with pytest.raises(CountyError, match="PEM"):
        county.certify(b"not a request", now=NOW, days=30)
    with pytest.raises(CountyError, match="outlive the root"):
        county.certify(_csr(), now=NOW, days=3651)
    der = bytearray(x509.load_pem_x509_csr(_csr()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the signature's last byte: no proof of possession any more
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CountyError, match="proof of possession"):
        county.certify(tampered, now=NOW, days=30)


def test_revoke_by_site_or_serial_and_crl(county: County) -> None:
    first = county.certify(_csr(), now=NOW, days=30)
    second = county.certify(_csr(site="S02"), now=NOW, days=30)
    at = NOW + timedelta(hours=3)
    assert [r.serial for r in county.revoke("S01", reason="key_compromise", at=at)] == [
        first.serial_number]
    assert county.revoke("S01", reason="key_compromise", at=at) == []  # already revoked
    county.revoke(f"{second.serial_number:x}", reason="superseded", at=at)
    with pytest.raises(CountyError):
        county.revoke("S99", reason="superseded", at=at)
    with pytest.raises(CountyError):
        county.revoke("S02", reason="because", at=at)
    (crl,) = county.crls(now=NOW + timedelta(days=1))
    entry = crl.get_revoked_certificate_by_serial_number(first.serial_number)
    assert entry is not None and entry.revocation_date_utc == at
    assert crl.is_signature_valid(county.root()[0].public_key())


def test_a_second_init_is_refused(county: County) -> None:
    with pytest.raises(CountyError, match="rollover-root"):
        county.init("another", now=NOW, days=10, pkcs11=False)
