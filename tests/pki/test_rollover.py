"""Key rollover: a new authority key, and a new county root, while cards signed under the old
keys keep verifying (at the site and at a verify-only installation) until they expire."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from cardservice.engine.service import Service
from cardservice.engine.verify import Check, Status
from cardservice.pki.county import County
from cardservice.pki.keys import DataDir, load_keys

from .conftest import (
    ROOT_NAME,
    Cli,
    current_root,
    enroll_site,
    make_conn,
    person,
    temporary,
    trust_root,
)


def _issuer_serial(cert_path: Path, county: Path) -> int:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return next(r.serial_number for r in County(county).roots() if _issued(cert, r))


def _issued(cert, root) -> bool:
    try:
        cert.verify_directly_issued_by(root)
        return True
    except Exception:  # noqa: BLE001 - not this root
        return False


def test_authority_rollover_keeps_old_cards_valid(cli: Cli, clock, tmp_path: Path) -> None:
    county, site_home, dept = tmp_path / "county", tmp_path / "site", tmp_path / "dept"
    cli(county, "county", "init", "--root-name", ROOT_NAME, "--pkcs11")
    trust_root(cli, county, site_home, dept)
    enroll_site(cli, county, site_home, tmp_path, "S01")
    cli(site_home, "site", "masters", "--demo", "--pkcs11")
    old_kid = load_keys(DataDir(site_home)).signer.key_id
    old_card = make_conn("0a0b0c0d0e0f0101", 1)
    Service.open(site_home, clock=clock, mode="full").engine.issue(old_card, person(0),
                                                                   temporary())
    clock.advance(hours=2)

    (tmp_path / "new").mkdir()
    enroll_site(cli, county, site_home, tmp_path / "new", "S01")  # a new key for the site
    site = Service.open(site_home, clock=clock, mode="full")
    assert site.engine.keys.signer.key_id != old_kid
    new_card = make_conn("0a0b0c0d0e0f0102", 2)
    site.engine.issue(new_card, person(1), temporary())
    assert site.engine.read(old_card).report.status == Status.VALID
    old_record = site.engine.read(old_card).report.record_signature
    assert old_record is not None and old_record.key_id == old_kid

    cli(county, "county", "bundle", "--out", str(tmp_path / "b.json"))
    cli(dept, "trust", "import", str(tmp_path / "b.json"))
    verifier = Service.open(dept, clock=clock, mode="verify").engine
    for conn in (old_card, new_card):
        report = verifier.read(conn).report
        assert report.status == Status.VALID, report.checks
    site.engine.resign(old_card, temporary("博乐市青得里街道幸福路5号"))  # re-signed: new key
    resigned = verifier.read(old_card).report
    assert resigned.status == Status.VALID
    assert resigned.identity_signature.key_id == old_kid  # the identity keeps its old signature
    assert resigned.record_signature.key_id != old_kid


def test_root_rollover_old_and_new_chains_verify(cli: Cli, clock, tmp_path: Path) -> None:
    county, site_home, dept = tmp_path / "county", tmp_path / "site", tmp_path / "dept"
    cli(county, "county", "init", "--root-name", ROOT_NAME)
    trust_root(cli, county, site_home, dept)  # the department only ever trusts the first root
    enroll_site(cli, county, site_home, tmp_path, "S01", pkcs11=False)
    cli(site_home, "site", "masters", "--demo")
    old_card = make_conn("0a0b0c0d0e0f0201", 1)
    Service.open(site_home, clock=clock, mode="full").engine.issue(old_card, person(0),
                                                                   temporary())

    out = cli(county, "county", "rollover-root")
    assert "linked by" in out.stdout
    cli(county, "county", "bundle", "--out", str(tmp_path / "b1.json"))
    cli(site_home, "trust", "import", str(tmp_path / "b1.json"))  # accepted through the link
    (tmp_path / "new").mkdir()
    cert = enroll_site(cli, county, site_home, tmp_path / "new", "S01", pkcs11=False)
    assert _issuer_serial(cert, county) == int(current_root(county).stem, 16)  # the new root issued it
    site = Service.open(site_home, clock=clock, mode="full")
    new_card = make_conn("0a0b0c0d0e0f0202", 2)
    site.engine.issue(new_card, person(1), temporary())

    cli(county, "county", "bundle", "--out", str(tmp_path / "b2.json"))
    cli(dept, "trust", "import", str(tmp_path / "b2.json"))
    verifier = Service.open(dept, clock=clock, mode="verify").engine
    for conn in (old_card, new_card):
        report = verifier.read(conn).report
        assert report.status == Status.VALID, report.checks
        assert report.check(Check.CERTIFICATE_CHAIN).reason == "ok"
    old_issuer = verifier.verify_only.trust(clock.now)
    assert len(old_issuer.roots) >= 2  # both roots trusted after the import


def test_card_of_an_old_authority_expires_with_its_record(cli: Cli, clock, tmp_path: Path) -> None:
    county, site_home = tmp_path / "county", tmp_path / "site"
    cli(county, "county", "init", "--root-name", ROOT_NAME)
    trust_root(cli, county, site_home)
    enroll_site(cli, county, site_home, tmp_path, "S01", pkcs11=False)
    cli(site_home, "site", "masters", "--demo")
    card = make_conn("0a0b0c0d0e0f0301", 1)
    site = Service.open(site_home, clock=clock, mode="full")
    record = site.engine.issue(card, person(0), temporary()).report.record
    (tmp_path / "new").mkdir()
    enroll_site(cli, county, site_home, tmp_path / "new", "S01", pkcs11=False)
    reader = Service.open(site_home, clock=clock, mode="full").engine
    clock.now = clock.now.replace(year=record.expires_on.year, month=record.expires_on.month,
                                  day=record.expires_on.day)
    assert reader.read(card).report.status == Status.VALID  # the last day still valid
    clock.advance(days=1)
    assert reader.read(card).report.status == Status.EXPIRED
