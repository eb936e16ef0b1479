"""X.509 trust: certificate shapes, resolve() verdicts, CRLs and loading from a folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from vectors_gen import AUTHORITIES, NOW, build_pki, ed25519_key, p256_key

from cardservice.pki.signing import key_id
from cardservice.pki.trust import (
    TrustError,
    TrustStore,
    authority_name,
    make_authority_certificate,
    make_crl,
    make_root_certificate,
)

PKI = build_pki()
ED_KID = key_id(PKI.keys["ed"].public_key())


def reason(store: TrustStore, kid: bytes, at=NOW) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(TrustError) as info:
        store.resolve(kid, at)
    return info.value.reason


def test_root_certificate_shape() -> None:
    root = PKI.root_cert
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert constraints.critical and constraints.value.ca
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert root.issuer == root.subject
    assert root.not_valid_before_utc == NOW


def test_authority_certificate_shape_and_cjk_name() -> None:
    cert = PKI.certs["ed"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert authority_name(cert) == AUTHORITIES["ed"][1] == "朝阳区公安分局测试受理点"
    assert cert.issuer == PKI.root_cert.subject


def test_resolve_returns_authority() -> None:
    authority = PKI.store().resolve(ED_KID, NOW + timedelta(days=100))
    assert authority.name == "朝阳区公安分局测试受理点"
    assert authority.key_id == ED_KID
    assert authority.certificate == PKI.certs["ed"]
    assert {a.name for a in PKI.store().authorities} == {n for _, n in AUTHORITIES.values()}


def test_unknown_key_id() -> None:
    assert reason(PKI.store(), bytes(8)) == "unknown_key_id"


def test_expired_authority_certificate() -> None:
    short = make_authority_certificate(PKI.root_key, PKI.root_cert, PKI.keys["ed"].public_key(),
                                       "短期受理点", now=NOW, days=30)
    store = TrustStore([PKI.root_cert], [short])
    assert store.resolve(ED_KID, NOW + timedelta(days=29)).name == "短期受理点"
    assert reason(store, ED_KID, NOW + timedelta(days=31)) == "expired"


def test_not_yet_valid() -> None:
    assert reason(PKI.store(), ED_KID, NOW - timedelta(seconds=1)) == "not_yet_valid"


def test_expired_root() -> None:
    assert reason(PKI.store(), ED_KID, NOW + timedelta(days=3651)) == "expired"


def test_revoked_via_crl() -> None:
    store = PKI.store(crls=(PKI.crl("ed"),))
    assert reason(store, ED_KID) == "revoked"
    assert store.resolve(key_id(PKI.keys["ec"].public_key()), NOW).name == AUTHORITIES["ec"][1]


def test_crl_from_foreign_root_is_ignored() -> None:
    foreign = build_pki(root_label="foreign")
    crl = make_crl(foreign.root_key, PKI.root_cert, [PKI.certs["ed"].serial_number], now=NOW)
    assert PKI.store(crls=(crl,)).resolve(ED_KID, NOW).key_id == ED_KID


def test_certificate_from_foreign_root() -> None:
    foreign = build_pki(root_label="foreign")
    store = TrustStore([PKI.root_cert], foreign.certs.values())
    # same root name, different key: the chain signature does not verify
    assert reason(store, ED_KID) == "bad_chain_signature"
    other_root = make_root_certificate(p256_key("other"), "别的县公安局", now=NOW, days=10)
    cert = make_authority_certificate(p256_key("other"), other_root,
                                      ed25519_key("ed").public_key(), "冒名受理点", now=NOW, days=10)
    assert reason(TrustStore([PKI.root_cert], [cert]), ED_KID) == "untrusted_issuer"


def test_non_ca_root() -> None:
    fake_root = make_authority_certificate(PKI.root_key, PKI.root_cert,
                                           PKI.root_key.public_key(), "某县公安局 RP1 测试根",
                                           now=NOW, days=10)
    assert fake_root.subject == fake_root.issuer  # self-issued but ca=False
    cert = make_authority_certificate(PKI.root_key, fake_root, PKI.keys["ed"].public_key(),
                                      "受理点", now=NOW, days=10)
    assert reason(TrustStore([fake_root], [cert]), ED_KID) == "not_a_ca"


def test_ed25519_root_also_works() -> None:
    root_key = ed25519_key("ed-root")
    root = make_root_certificate(root_key, "Ed25519 根", now=NOW, days=10)
    cert = make_authority_certificate(root_key, root, p256_key("ec").public_key(), "受理点",
                                      now=NOW, days=10)
    kid = key_id(p256_key("ec").public_key())
    assert TrustStore([root], [cert]).resolve(kid, NOW).name == "受理点"


def test_naive_time_is_taken_as_utc() -> None:
    assert PKI.store().resolve(ED_KID, NOW.replace(tzinfo=None)).key_id == ED_KID


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_load_folder(tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(_pem(PKI.root_cert))
    (tmp_path / "authorities.pem").write_bytes(_pem(PKI.certs["ed"]) + _pem(PKI.certs["ec"]))
    (tmp_path / "root.crl").write_bytes(PKI.crl("ec").public_bytes(serialization.Encoding.DER))
    (tmp_path / "notes.txt").write_text("not a certificate")
    store = TrustStore.load(tmp_path)
    assert store.roots == [PKI.root_cert]
    assert store.resolve(ED_KID, NOW).name == AUTHORITIES["ed"][1]
    assert reason(store, key_id(PKI.keys["ec"].public_key())) == "revoked"


def test_load_pem_crl(tmp_path: Path) -> None:
    (tmp_path / "all.pem").write_bytes(_pem(PKI.root_cert) + _pem(PKI.certs["ed"])
                                       + PKI.crl("ed").public_bytes(serialization.Encoding.PEM))
    assert reason(TrustStore.load(tmp_path), ED_KID) == "revoked"


def test_load_refuses_garbage(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TrustError) as info:
        TrustStore.load(tmp_path)
    assert info.value.reason == "bad_trust_file"
    assert "bad.pem" in info.value.message
