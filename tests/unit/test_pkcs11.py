"""Keys in a real SoftHSM 2 token: signatures, card keys derived and used inside the token,
X.509 objects signed by it, `keys init --demo --pkcs11`, a wrong PIN and insecure secret files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from card_layout import auth
from card_layout.files import KeyRef
from card_layout.signature import SignatureBlock
from cardservice import errors
from cardservice.engine.service import Service
from cardservice.pki.keys import DataDir, init_demo, load_keys, open_token
from cardservice.pki.pkcs11 import TokenConfig, TokenSigner, cmac_k2
from cardservice.pki.signing import verify_block
from cardservice.pki.trust import make_authority_certificate, make_crl, make_root_certificate
from simulator.devkeys import load_dev_master_keys
from tests.hsm import token_env

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
SERIAL = bytes.fromhex("0102030405060708")


@pytest.fixture(scope="module")
def token_home(tmp_path_factory, pkcs11_token: TokenConfig) -> DataDir:
    home = DataDir(tmp_path_factory.mktemp("token-home"))
    init_demo(home, now=NOW, masters=load_dev_master_keys(), token=pkcs11_token)
    return home


def test_card_key_is_derived_and_used_inside_the_token(token_home: DataDir) -> None:
    keys = load_keys(token_home)
    masters = load_dev_master_keys()
    assert keys.masters is None
    for ref in (KeyRef.PERSONALIZATION, KeyRef.WRITE):
        handle = keys.card_key(ref, SERIAL)
        assert not isinstance(handle, bytes)
        for challenge in (bytes(8), bytes(range(8)), b"\xff" * 8):
            expected = auth.cryptogram(auth.diversify(masters[ref], SERIAL), challenge)
            assert handle.cryptogram(challenge) == expected


def test_cmac_k2_matches_rfc4493() -> None:
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")  # RFC 4493 section 4
    assert cmac_k2(key).hex() == "f7ddac306ae266ccf90bc11ee46d513b"


def test_token_signature_is_raw_r_s_and_verifies(token_home: DataDir) -> None:
    keys = load_keys(token_home)
    assert isinstance(keys.signer, TokenSigner)
    data = "签名 of some bytes".encode()
    raw = keys.signer.sign(data)
    assert len(raw) == 64
    verify_block(keys.certificate.public_key(),
                 SignatureBlock(keys.signer.algorithm, keys.signer.key_id, raw), data)


def test_x509_objects_signed_in_the_token(pkcs11_token: TokenConfig) -> None:
    token = open_token(pkcs11_token)
    root_key = token.generate_ec("test-x509-root")
    root = make_root_certificate(root_key, "测试根", now=NOW, days=30)
    root.verify_directly_issued_by(root)
    other = ec.generate_private_key(ec.SECP256R1())
    cert = make_authority_certificate(root_key, root, other.public_key(), "测试所", now=NOW,
                                      days=10)
    cert.verify_directly_issued_by(root)
    crl = make_crl(root_key, root, {cert.serial_number: NOW + timedelta(days=1)}, now=NOW)
    assert crl.is_signature_valid(root.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry.revocation_date_utc == NOW + timedelta(days=1)
    root_key.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                 ec.ECDSA(hashes.SHA256()))


def test_keys_init_demo_pkcs11_writes_no_private_key(tmp_path: Path,
                                                    pkcs11_token: TokenConfig) -> None:
    env = {**os.environ, **token_env(pkcs11_token), "CARDSERVICE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "cardservice", "keys", "init", "--demo",
                          "--pkcs11"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "PKCS#11 token 'cardservice-test'" in out.stdout
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"authority/cert.pem", "authority/token.json", "trust/root.pem"} <= files
    assert not [f for f in files if f.endswith("key.pem") or f == "masters.json"]
    pin = pkcs11_token.pin_file.read_text().strip()
    assert pin not in out.stdout + out.stderr
    assert pin not in (tmp_path / "authority" / "token.json").read_text()
    keys = load_keys(DataDir(tmp_path))
    assert keys.authority_name == x509.load_pem_x509_certificate(
        (tmp_path / "authority" / "cert.pem").read_bytes()).subject.rfc4514_string()[3:]


def test_wrong_pin_is_a_clear_error_before_any_card_io(tmp_path: Path, token_home: DataDir,
                                                        pkcs11_token: TokenConfig,
                                                        monkeypatch) -> None:
    other = TokenConfig(pkcs11_token.module, "cardservice-other", pkcs11_token.pin_file)
    bad_pin = tmp_path / "bad.pin"
    bad_pin.write_text("not-the-pin\n")
    bad_pin.chmod(0o600)
    for name, value in token_env(other).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CARDSERVICE_PKCS11_PIN_FILE", str(bad_pin))
    svc = Service.open(token_home.root)
    with pytest.raises(errors.KeysTokenError, match="refused the PIN") as info:
        svc.connect(None)
    assert "not-the-pin" not in str(info.value)
    assert svc._driver is None  # no reader was opened, so no card was touched


def test_wrong_pin_cli_exit_and_message(tmp_path: Path, token_home: DataDir,
                                        pkcs11_token: TokenConfig) -> None:
    bad_pin = tmp_path / "bad.pin"
    bad_pin.write_text("000000\n")
    bad_pin.chmod(0o600)
    env = {**os.environ, **token_env(pkcs11_token), "CARDSERVICE_PKCS11_PIN_FILE": str(bad_pin)}
    out = subprocess.run([sys.executable, "-m", "cardservice", "--home", str(token_home.root),
                          "card", "read"], env=env, capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode != 0
    assert out.stderr.startswith("error KEYS_TOKEN_ERROR: ")
    assert "refused the PIN" in out.stderr and "000000" not in out.stderr


def test_pin_file_readable_by_others_is_refused(tmp_path: Path, token_home: DataDir,
                                                pkcs11_token: TokenConfig) -> None:
    loose = tmp_path / "loose.pin"
    loose.write_text(pkcs11_token.pin_file.read_text())
    loose.chmod(0o644)
    with pytest.raises(errors.KeysInsecureError):
        load_keys(token_home, TokenConfig(pkcs11_token.module, pkcs11_token.token, loose))


def test_key_file_readable_by_others_is_still_refused(tmp_path: Path) -> None:
    home = DataDir(tmp_path)
    init_demo(home, now=NOW, masters=load_dev_master_keys())
    load_keys(home)
    home.authority_key.chmod(0o640)
    with pytest.raises(errors.KeysInsecureError):
        load_keys(home)
    home.authority_key.chmod(0o600)
    home.masters.chmod(0o604)
    with pytest.raises(errors.KeysInsecureError):
        load_keys(home)


def test_token_keys_without_configuration_are_missing(token_home: DataDir, monkeypatch) -> None:
    monkeypatch.delenv("CARDSERVICE_PKCS11_MODULE", raising=False)
    with pytest.raises(errors.KeysMissingError, match="CARDSERVICE_PKCS11_MODULE"):
        load_keys(token_home)
