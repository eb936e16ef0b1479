"""The county's trust bundle lists every card its registry (PostgreSQL) holds, as digests of
serial and holder (cardservice/pki/issued.py), so that a verify-only installation reads a card
the county never issued as invalid, revocation ``not_registered``: a card signed with a stolen
site key whose record is dated before the key's withdrawal passes the CRL, not the registry."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cardservice import errors
from cardservice.engine.journal import open_writes
from cardservice.engine.service import Service
from cardservice.engine.verify import Check, Result, Status
from cardservice.errors import TrustBundleError
from cardservice.pki import bundle as bundles
from cardservice.pki.county import County as CountyPki
from cardservice.pki.issued import IssuedCards, issued_digest
from cardservice.pki.keys import DataDir
from cardservice.store.database import PostgresDatabase
from cardservice.store.stores import Stores
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.inprocess import InProcessConnection
from tests.clock import Clock
from tests.engine.conftest import taken_out_mid_write
from tests.pg import upgrade_all

from .conftest import (
    ROOT_NAME,
    Cli,
    enroll_site,
    make_conn,
    person,
    temporary,
    trust_root,
)

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CARD_A, CARD_B = "0a0b0c0d0e0f0001", "0a0b0c0d0e0f0002"
HOLDER_A, HOLDER_B = person(0).citizen_number, person(1).citizen_number


def test_the_list_binds_each_serial_to_its_holder() -> None:
    issued = IssuedCards.of([(CARD_A, HOLDER_A), (CARD_B, HOLDER_B), (CARD_A, HOLDER_A)])
    assert len(issued) == 2
    assert issued.holds(bytes.fromhex(CARD_A), HOLDER_A)
    assert issued.holds(bytes.fromhex(CARD_B), HOLDER_B)
    assert not issued.holds(bytes.fromhex(CARD_A), HOLDER_B)  # a real serial, another holder
    assert not issued.holds(bytes.fromhex("0a0b0c0d0e0f0003"), HOLDER_A)
    assert len(issued_digest(bytes.fromhex(CARD_A), HOLDER_A)) == 8
    again = IssuedCards.from_json(json.loads(json.dumps(issued.to_json())))
    assert again.to_json() == issued.to_json() and again.holds(bytes.fromhex(CARD_B), HOLDER_B)
    empty = IssuedCards.of([])
    assert len(empty) == 0 and not empty.holds(bytes.fromhex(CARD_A), HOLDER_A)


def _listing(digests: list[bytes], count: int | None = None, scheme: str = "sha256-64") -> dict:
    return {"scheme": scheme, "count": len(digests) if count is None else count,
            "digests": base64.b64encode(b"".join(digests)).decode()}


@pytest.mark.parametrize("listing", [
    _listing([b"\x00" * 8], scheme="sha1-64"),
    _listing([b"\x00" * 8, b"\x01" * 8], count=3),
    _listing([b"\x02" * 8, b"\x01" * 8]),  # not sorted
    _listing([b"\x01" * 8, b"\x01" * 8]),  # not unique
    {"scheme": "sha256-64", "count": True, "digests": base64.b64encode(b"\x00" * 8).decode()},
    {"scheme": "sha256-64", "count": 1, "digests": "not base64!"},
    [],
])
def test_a_malformed_list_is_refused(listing: object) -> None:
    with pytest.raises(ValueError):
        IssuedCards.from_json(listing)


@pytest.fixture
def county(tmp_path: Path) -> CountyPki:
    c = CountyPki(tmp_path)
    c.init(ROOT_NAME, now=NOW, days=3650, pkcs11=False)
    return c


def _bundle(county: CountyPki, issued: IssuedCards | None) -> bytes:
    return county.bundle(now=NOW, max_age=timedelta(days=7), revoked_cards=[], issued=issued)


def test_the_bundle_carries_the_list_under_its_signature(county: CountyPki) -> None:
    roots = county.roots()
    plain = _bundle(county, None)
    assert "issued_cards" not in json.loads(plain)["bundle"]  # as bundles were before
    assert bundles.verify(plain, roots, NOW).issued is None

    data = _bundle(county, IssuedCards.of([(CARD_A, HOLDER_A)]))
    issued = bundles.verify(data, roots, NOW).issued
    assert issued is not None and issued.holds(bytes.fromhex(CARD_A), HOLDER_A)

    outer = json.loads(data)
    outer["bundle"]["issued_cards"] = IssuedCards.of(
        [(CARD_A, HOLDER_A), (CARD_B, HOLDER_B)]).to_json()
    with pytest.raises(TrustBundleError, match="signature"):
        bundles.verify(json.dumps(outer).encode(), roots, NOW)


def test_a_signed_bundle_with_a_malformed_list_is_refused(county: CountyPki) -> None:
    outer = json.loads(_bundle(county, IssuedCards.of([(CARD_A, HOLDER_A)])))
    outer["bundle"]["issued_cards"] = _listing([b"\x02" * 8, b"\x01" * 8])
    _, key = county.root()
    signature = key.sign(bundles._canonical(outer["bundle"]), ec.ECDSA(hashes.SHA256()))
    outer["signature"] = base64.b64encode(signature).decode()
    with pytest.raises(TrustBundleError, match="malformed"):
        bundles.verify(json.dumps(outer).encode(), county.roots(), NOW)


def _revocation(report) -> tuple[Result, str]:
    check = report.check(Check.REVOCATION)
    return check.result, check.reason


@dataclass
class County:
    """A county on PostgreSQL (the CLI made its root, enrolled site S01 and gave the site and a
    service department the root): the site's service, and the homes."""

    url: str
    county_home: Path
    site_home: Path
    verify_home: Path
    site: Service

    def bundle(self, now: datetime) -> bytes:
        """The bundle as `county bundle` builds it, at ``now``."""
        registry = self.site.engine.registry
        return CountyPki(self.county_home).bundle(
            now=now, max_age=timedelta(days=7), revoked_cards=registry.revoked_serials(),
            issued=registry.issued_list(open_writes(self.site.engine.audit)))

    def department(self, data: bytes, now: datetime) -> Service:
        """A verify-only installation with the bundle ``data`` installed, its clock at ``now``."""
        bundles.install(DataDir(self.verify_home), data, now)
        return Service(DataDir(self.verify_home), clock=Clock(now), mode="verify",
                       stores=Stores(self.verify_home))


@pytest.fixture
def county_pg(cli: Cli, clock: Clock, tmp_path: Path, pg_cluster) -> County:
    url = pg_cluster.new_database("county")
    db = PostgresDatabase(url, site_id="county")
    upgrade_all(db)
    db.close()
    county_home, site_home, verify_home = (tmp_path / n for n in ("county", "site", "dept"))
    cli(county_home, "county", "init", "--root-name", ROOT_NAME)
    trust_root(cli, county_home, site_home, verify_home)
    enroll_site(cli, county_home, site_home, tmp_path, "S01", pkcs11=False)
    cli(site_home, "site", "masters", "--demo")
    site = Service(DataDir(site_home), clock=clock,
                   stores=Stores(site_home, database_url=url, site_id="s01"))
    return County(url, county_home, site_home, verify_home, site)


def test_a_verify_only_site_finds_the_cards_the_county_never_issued(
        county_pg: County, cli: Cli, clock: Clock, tmp_path: Path) -> None:
    site, site_home, url = county_pg.site, county_pg.site_home, county_pg.url
    county_home, verify_home = county_pg.county_home, county_pg.verify_home
    genuine = make_conn(CARD_A, 1)
    site.engine.issue(genuine, person(0), temporary())
    # the site's PC is stolen: the same keys sign, its own SQLite registry records
    thief = Service(DataDir(site_home), clock=clock, stores=Stores(tmp_path / "stolen"))
    forged = make_conn(CARD_B, 2)
    thief.engine.issue(forged, person(1), temporary())
    clone = make_conn(CARD_A, 3)  # a blank card made with the genuine card's serial
    thief.engine.issue(clone, person(2), temporary())

    county_cli = Cli({**cli.env, "CARDSERVICE_DATABASE_URL": url, "CARDSERVICE_SITE_ID": "cty"})
    out = county_cli(county_home, "county", "bundle", "--out", str(tmp_path / "now.json"))
    assert "0 revoked cards, 1 issued cards listed" in out.stdout

    # the bundle built two hours later, as the CLI builds it
    later = clock.now + timedelta(hours=2)
    dept = county_pg.department(county_pg.bundle(later), later)
    good = dept.engine.read(genuine).report
    assert good.status is Status.VALID, good.checks
    assert _revocation(good) == (Result.SUCCEEDED, "ok")
    for card in (forged, clone):
        report = dept.engine.read(card).report
        assert report.status is Status.INVALID
        assert _revocation(report) == (Result.FAILED, "not_registered")
        assert report.check(Check.CERTIFICATE_CHAIN).result is Result.SUCCEEDED  # signed well
    shown = Cli({**cli.env, "CARDSERVICE_MODE": "verify"})(verify_home, "trust", "show")
    assert "1 issued cards listed" in shown.stdout


def test_a_card_whose_write_is_not_settled_is_listed_by_its_open_intent(
        county_pg: County, clock: Clock) -> None:
    """A produced card gets its registry row once its write is confirmed; the write cut before
    that leaves an open intent, which the bundle lists until the card is read again. The card
    it left (identity and record written, not locked) reads blank at the department, and its
    revocation is not judged by the list."""
    card = VirtualCard(CardImage.blank(bytes.fromhex(CARD_B), load_dev_master_keys()),
                       rng=random.Random(5))
    conn = InProcessConnection(card)
    with taken_out_mid_write(card), pytest.raises(errors.CardServiceError):
        card.faults.cut_power_in_update(2, 10_000)  # the record lands whole, no lock follows
        county_pg.site.engine.issue(conn, person(1), temporary(), from_application=True)
    registry = county_pg.site.engine.registry
    assert registry.get(CARD_B) is None
    assert open_writes(county_pg.site.engine.audit) == [(CARD_B, HOLDER_B)]

    later = clock.now + timedelta(hours=2)
    issued = bundles.verify(county_pg.bundle(later), CountyPki(county_pg.county_home).roots(),
                            later).issued
    assert issued is not None and issued.holds(bytes.fromhex(CARD_B), HOLDER_B)
    assert registry.issued_list() is not None
    assert not registry.issued_list().holds(bytes.fromhex(CARD_B), HOLDER_B)  # the row's gap

    card.insert()  # read where the list does not hold it: an unlocked card is not judged
    without = CountyPki(county_pg.county_home).bundle(
        now=later, max_age=timedelta(days=7), revoked_cards=[], issued=registry.issued_list())
    report = county_pg.department(without, later).engine.read(conn).report
    assert report.status is Status.BLANK and report.identity is not None
    assert _revocation(report) == (Result.SUCCEEDED, "ok")

