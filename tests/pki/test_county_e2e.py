"""End to end: county init -> site request -> certify -> the site issues and re-signs cards with
token-held keys -> the county revokes the site at T -> a verify-only installation that imported
the new bundle reads a record signed after T as authority_revoked and one signed before T as
valid; revoked cards from the bundle read revoked; an old bundle reads revocation_stale."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from card_layout.files import KeyRef
from cardservice import errors
from cardservice.engine.service import Service
from cardservice.engine.verify import Check, Status
from cardservice.pki.keys import DataDir, load_keys
from cardservice.pki.pkcs11 import TokenSigner
from cardservice.store.registry import Registry

from .conftest import (
    ROOT_NAME,
    Cli,
    current_root,
    enroll_site,
    fingerprint,
    make_conn,
    person,
    temporary,
    trust_root,
)


def test_revoking_a_site_at_t_splits_its_records_by_signing_time(cli: Cli, clock,
                                                                  tmp_path: Path) -> None:
    county, site_home, verify_home = tmp_path / "county", tmp_path / "site", tmp_path / "dept"
    cli(county, "county", "init", "--root-name", ROOT_NAME, "--pkcs11")
    assert not list(county.rglob("*key.pem")), "the root key must stay in the token"
    trust_root(cli, county, site_home, verify_home)
    enroll_site(cli, county, site_home, tmp_path, "S01")
    cli(site_home, "site", "masters", "--demo", "--pkcs11")
    keys = load_keys(DataDir(site_home))
    assert isinstance(keys.signer, TokenSigner)
    assert not isinstance(keys.card_key(KeyRef.WRITE, bytes(8)), bytes)
    assert not list(site_home.rglob("*key.pem")) and not (site_home / "masters.json").exists()

    site = Service.open(site_home, clock=clock, mode="full")
    before, after = make_conn("0a0b0c0d0e0f0001", 1), make_conn("0a0b0c0d0e0f0002", 2)
    site.engine.issue(before, person(0), temporary())
    clock.advance(minutes=30)
    site.engine.resign(before, temporary("博乐市青得里街道幸福路3号"))
    revoked_at = clock.now + timedelta(minutes=30)
    clock.advance(hours=1)  # the site's PC is stolen at T and goes on signing
    site.engine.issue(after, person(1), temporary())
    clock.advance(minutes=5)
    site.engine.resign(after, temporary("博乐市青得里街道幸福路4号"))
    lost = make_conn("0a0b0c0d0e0f0003", 3)
    site.engine.issue(lost, person(2), temporary())

    cli(county, "county", "revoke-site", "S01", "--reason", "key_compromise",
        "--at", revoked_at.isoformat())
    central = Registry(county / "registry.db")  # the county's view of the registry
    central.import_rows([site.engine.registry.get("0a0b0c0d0e0f0003")])
    central.revoke("0a0b0c0d0e0f0003", "lost", clock.now)
    central.close()
    cli(county, "county", "crl", "--out", str(tmp_path / "county.crl"))
    bundle = tmp_path / "bundle.json"
    out = cli(county, "county", "bundle", "--out", str(bundle))
    assert "1 revoked authorities, 1 revoked cards" in out.stdout
    assert "no list of issued cards (not the county registry)" in out.stdout
    cli(verify_home, "trust", "import", str(bundle))

    dept = Service.open(verify_home, clock=clock, mode="verify")
    good = dept.engine.read(before).report
    assert good.status == Status.VALID, good.checks
    assert good.check(Check.REVOCATION).reason == "ok"
    bad = dept.engine.read(after).report
    assert bad.status == Status.INVALID
    assert bad.check(Check.CERTIFICATE_CHAIN).reason == "authority_revoked"
    assert dept.engine.read(lost).report.status == Status.INVALID  # signed after T as well

    with pytest.raises(errors.VerifyOnlyError) as info:
        dept.engine.resign(before, temporary("别处"))
    assert info.value.code == "FORBIDDEN"
    with pytest.raises(errors.VerifyOnlyError):
        dept.engine.issue(make_conn("0a0b0c0d0e0f0009"), person(3), temporary())

    verify_cli = Cli({**cli.env, "CARDSERVICE_MODE": "verify"})
    refused = verify_cli(verify_home, "card", "revoke", "0a0b0c0d0e0f0001", "--reason", "lost",
                         ok=False)
    assert refused.returncode != 0 and refused.stderr.startswith("error FORBIDDEN: ")
    assert "0a0b0c0d0e0f0001" not in verify_cli(verify_home, "trust", "show").stdout
    assert "current" in verify_cli(verify_home, "trust", "show").stdout

    clock.advance(days=8)  # older than the bundle's max_age (7 days)
    stale = dept.engine.read(before).report
    assert stale.status == Status.REVOCATION_STALE
    assert stale.check(Check.REVOCATION).reason == "revocation_stale"


def test_bundle_revoked_card_reads_revoked(cli: Cli, clock, tmp_path: Path) -> None:
    county, site_home, verify_home = tmp_path / "county", tmp_path / "site", tmp_path / "dept"
    cli(county, "county", "init", "--root-name", ROOT_NAME)
    trust_root(cli, county, site_home, verify_home)
    enroll_site(cli, county, site_home, tmp_path, "S02", pkcs11=False)
    cli(site_home, "site", "masters", "--demo")
    site = Service.open(site_home, clock=clock, mode="full")
    card = make_conn("0a0b0c0d0e0f0011", 1)
    site.engine.issue(card, person(0), temporary())
    site.engine.revoke("0a0b0c0d0e0f0011", "lost")
    central = Registry(county / "registry.db")
    central.import_rows([site.engine.registry.get("0a0b0c0d0e0f0011")])
    central.close()
    cli(county, "county", "bundle", "--out", str(tmp_path / "b.json"))
    cli(verify_home, "trust", "import", str(tmp_path / "b.json"))
    report = Service.open(verify_home, clock=clock, mode="verify").engine.read(card).report
    assert report.status == Status.REVOKED
    assert report.check(Check.REVOCATION).reason == "revoked"


def test_bundle_refused_unless_signed_by_a_trusted_root(cli: Cli, tmp_path: Path) -> None:
    county, other, dept = tmp_path / "county", tmp_path / "other", tmp_path / "dept"
    cli(county, "county", "init", "--root-name", ROOT_NAME)
    cli(other, "county", "init", "--root-name", ROOT_NAME)  # same name, another key
    root_pem = current_root(county)
    wrong = cli(dept, "trust", "add-root", str(root_pem), "--sha256", "00" * 32, ok=False)
    assert "error TRUST_BUNDLE_INVALID: fingerprint mismatch" in wrong.stderr
    no_root = cli(dept, "trust", "import", str(tmp_path / "x.json"), ok=False)
    assert no_root.returncode != 0
    cli(other, "county", "bundle", "--out", str(tmp_path / "forged.json"))
    no_root = cli(dept, "trust", "import", str(tmp_path / "forged.json"), ok=False)
    assert "no trusted root yet" in no_root.stderr
    cli(dept, "trust", "add-root", str(root_pem), "--sha256", fingerprint(root_pem))
    forged = cli(dept, "trust", "import", str(tmp_path / "forged.json"), ok=False)
    assert "error TRUST_BUNDLE_INVALID: " in forged.stderr
    cli(county, "county", "bundle", "--out", str(tmp_path / "real.json"))
    tampered = (tmp_path / "real.json").read_text().replace('"revoked_cards": []',
                                                            '"revoked_cards": ["00"]')
    (tmp_path / "tampered.json").write_text(tampered)
    bad = cli(dept, "trust", "import", str(tmp_path / "tampered.json"), ok=False)
    assert "signature does not verify" in bad.stderr
    cli(dept, "trust", "import", str(tmp_path / "real.json"))
    cli(county, "county", "bundle", "--out", str(tmp_path / "newer.json"))
    cli(dept, "trust", "import", str(tmp_path / "newer.json"))
    rollback = cli(dept, "trust", "import", str(tmp_path / "real.json"), ok=False)
    assert "before the installed one" in rollback.stderr


def test_a_site_keeps_its_keys_in_one_backend(cli: Cli, tmp_path: Path) -> None:
    site_home = tmp_path / "site"
    cli(site_home, "site", "masters", "--demo")
    mixed = cli(site_home, "site", "request", "--site-id", "S03", "--name", "示范所",
                "--out", str(tmp_path / "s.csr"), "--pkcs11", ok=False)
    assert mixed.stderr.startswith("error COUNTY_ERROR: this site keeps its master keys in files")
    token_site = tmp_path / "token-site"
    cli(token_site, "site", "masters", "--demo", "--pkcs11")
    mixed = cli(token_site, "site", "request", "--site-id", "S04", "--name", "示范所",
                "--out", str(tmp_path / "t.csr"), ok=False)
    assert "keeps its keys in a PKCS#11 token" in mixed.stderr
    missing = cli(token_site, "card", "read", ok=False)
    assert missing.stderr.startswith("error KEYS_MISSING: ")
