"""County PKI tests: the real CLI in subprocesses (county, site, trust commands), engines on
in-process simulated cards with a settable clock, keys in a real SoftHSM token."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from card_layout.citizen import check_digit, gender_of
from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice.engine.operations import PermitRequest
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection
from tests.clock import Clock
from tests.hsm import token_env

ROOT_NAME = "示范县公安局"
SITE_NAME = "示范县公安局城关派出所"


@dataclass
class Cli:
    env: dict[str, str]

    def __call__(self, home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "cardservice", "--home", str(home), *args],
                             env=self.env, capture_output=True, text=True, timeout=120,
                             check=False)
        if ok:
            assert out.returncode == 0, out.stderr
        return out


@pytest.fixture
def cli(pkcs11_token) -> Cli:
    env = {**os.environ, **token_env(pkcs11_token)}
    env.pop("CARDSERVICE_MODE", None)
    return Cli(env)


@pytest.fixture
def clock() -> Clock:
    # certificates are made by the CLI at the real time (valid from then); card writes run on
    # a clock that starts ten minutes later
    return Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10))


def fingerprint(pem_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex()


def current_root(county_home: Path) -> Path:
    serial = (county_home / "county" / "current_root").read_text().strip()
    return county_home / "county" / "roots" / f"{serial}.pem"


def make_conn(serial_hex: str, seed: int = 3) -> InProcessConnection:
    image = CardImage.blank(bytes.fromhex(serial_hex), load_dev_master_keys())
    return InProcessConnection(VirtualCard(image, rng=random.Random(seed)))


def person(n: int) -> Identity:
    first17 = f"11010519800101{n:03d}"
    number = first17 + check_digit(first17)
    return Identity.create(name=f"测试{n}", gender=gender_of(number).label, nationality="01",
                           citizen_number=number, household_address="北京市朝阳区建国路88号")


def temporary(residence: str = "博乐市青得里街道团结路12号") -> PermitRequest:
    return PermitRequest(current_residence=residence, permit_type=PermitType.TEMPORARY)


def trust_root(cli: Cli, county_home: Path, *homes: Path) -> None:
    """Each of ``homes`` trusts the county's current root (its fingerprint checked)."""
    root_pem = current_root(county_home)
    for home in homes:
        cli(home, "trust", "add-root", str(root_pem), "--sha256", fingerprint(root_pem))


def enroll_site(cli: Cli, county_home: Path, site_home: Path, tmp: Path, site_id: str,
                pkcs11: bool = True) -> Path:
    """site request -> county certify -> site install; returns the certificate file."""
    flag = ["--pkcs11"] if pkcs11 else []
    csr, cert = tmp / f"{site_id}.csr", tmp / f"{site_id}.pem"
    cli(site_home, "site", "request", "--site-id", site_id, "--name", SITE_NAME,
        "--out", str(csr), *flag)
    cli(county_home, "county", "certify", str(csr), "--valid-days", "1825", "--out", str(cert))
    cli(site_home, "site", "install", str(cert))
    return cert
