"""A verify-only daemon (CARDSERVICE_MODE=verify): reads and verifies with the county's bundle
(revoked serials -> revoked, an old bundle -> revocation_stale, a card missing from its list of
issued cards -> invalid, not_registered) and answers every write, registry and application
route with 403 FORBIDDEN before it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from cardservice.api import create_app
from cardservice.engine.service import Service
from cardservice.pki import bundle as bundles
from cardservice.pki.issued import IssuedCards
from cardservice.pki.keys import DataDir, open_token
from cardservice.pki.pkcs11 import TokenConfig
from tests.clock import Clock

from .conftest import (
    ALICE,
    BASE_URL,
    BOB,
    NOW,
    READER_A,
    READER_B,
    SERIAL_A,
    SERIAL_B,
    Daemon,
    issue_body,
    make_settings,
)


def _demo_root(home: Path):
    root = x509.load_pem_x509_certificate((home / "trust" / "root.pem").read_bytes())
    token_map = home / "authority" / "token.json"
    if token_map.exists():  # the demo root key is in the token
        label = json.loads(token_map.read_text())["root_key"]
        return root, open_token(TokenConfig.from_env()).ec_key(label)
    key = serialization.load_pem_private_key((home / "root" / "key.pem").read_bytes(), None)
    return root, key


def _install_bundle(home: Path, *, revoked: list[str], now=NOW,
                    issued: IssuedCards | None = None) -> None:
    root, key = _demo_root(home)
    authority = x509.load_pem_x509_certificate((home / "trust" / "authority.pem").read_bytes())
    data = bundles.build(signer_cert=root, signer_key=key, roots=[root], links=[],
                         authorities=[authority], crls=[], revoked_cards=revoked, now=now,
                         issued=issued)
    bundles.install(DataDir(home), data, now)


@pytest.fixture
def verifier(daemon: Daemon, home: Path):
    """The same readers served by a verify-only daemon whose bundle revokes card B."""
    assert daemon.issue().status_code == 200
    assert daemon.issue(READER_B, issue_body(BOB)).status_code == 200
    _install_bundle(home, revoked=[SERIAL_B])
    with _verifying(daemon, home) as verifying:
        yield verifying


@contextmanager
def _verifying(daemon: Daemon, home: Path) -> Iterator[Daemon]:
    """A verify-only daemon on ``daemon``'s readers and data directory, its clock at NOW + 1 h."""
    clock = Clock(NOW + timedelta(hours=1))
    settings = make_settings(home, mode="verify")
    app = create_app(settings, service=Service.open(home, clock=clock, mode="verify"),
                     backend=daemon.backend, clock=clock)
    tokens = {role: app.state.runtime.tokens.create(f"dept-{role}", role, NOW)[0]
              for role in ("reader", "admin")}
    with TestClient(app, base_url=BASE_URL) as client:
        yield Daemon(client, daemon.backend, app.state.runtime, tokens, clock)


def test_reads_verify_against_the_bundle(verifier: Daemon) -> None:
    good = verifier.client.get(verifier.url(), headers=verifier.auth("reader"))
    assert good.status_code == 200
    assert good.json()["verification"]["status"] == "valid"
    assert good.json()["residence"]["signed_at"] == NOW.isoformat()  # bound in the record
    revoked = verifier.client.get(verifier.url(READER_B), headers=verifier.auth("reader"))
    assert revoked.json()["verification"]["status"] == "revoked"
    verifier.clock.advance(days=8)
    stale = verifier.client.get(verifier.url(), headers=verifier.auth("reader")).json()
    assert stale["verification"]["status"] == "revocation_stale"
    assert {"check": "revocation", "result": "not_checked",
            "reason": "revocation_stale"} in stale["verification"]["checks"]


def _read(verifier: Daemon, reader: str = READER_A) -> dict:
    answer = verifier.client.get(verifier.url(reader), headers=verifier.auth("reader"))
    assert answer.status_code == 200
    return answer.json()["verification"]


def _revocation(verification: dict) -> dict:
    return next(c for c in verification["checks"] if c["check"] == "revocation")


def test_a_card_missing_from_the_bundles_issued_cards_reads_not_registered(
        verifier: Daemon, home: Path) -> None:
    """Both cards were signed at NOW. A bundle built two hours later lists card A only: card B
    was signed before it was built and is not on it, so the county never issued it."""
    verifier.clock.advance(hours=2)
    _install_bundle(home, revoked=[], now=NOW + timedelta(hours=2),
                    issued=IssuedCards.of([(SERIAL_A, ALICE["citizen_number"])]))
    assert _read(verifier)["status"] == "valid"
    assert _revocation(_read(verifier)) == {"check": "revocation", "result": "succeeded",
                                            "reason": "ok"}
    missing = _read(verifier, READER_B)
    assert missing["status"] == "invalid"
    assert _revocation(missing) == {"check": "revocation", "result": "failed",
                                    "reason": "not_registered"}
    verifier.clock.advance(days=8)  # a stale bundle still knows what it listed
    assert _read(verifier, READER_B)["status"] == "invalid"
    assert _read(verifier)["status"] == "revocation_stale"


def test_the_issued_cards_bind_the_serial_to_its_holder(verifier: Daemon, home: Path) -> None:
    """Card B's serial listed with another holder's citizen number: not card B."""
    verifier.clock.advance(hours=2)
    _install_bundle(home, revoked=[], now=NOW + timedelta(hours=2),
                    issued=IssuedCards.of([(SERIAL_A, ALICE["citizen_number"]),
                                           (SERIAL_B, ALICE["citizen_number"])]))
    assert _read(verifier)["status"] == "valid"
    assert _revocation(_read(verifier, READER_B))["reason"] == "not_registered"


def test_a_card_dated_in_the_future_is_judged_by_the_list(daemon: Daemon, home: Path) -> None:
    """Card B's record is dated 3 hours ahead (as a thief with a stolen key may date it, to pass
    for a card issued after every bundle): judged until the verifier's clock is within an hour
    of that time; from then on it passes for a card issued since the bundle."""
    assert daemon.issue().status_code == 200
    daemon.clock.advance(hours=3)
    assert daemon.issue(READER_B, issue_body(BOB)).status_code == 200
    _install_bundle(home, revoked=[],
                    issued=IssuedCards.of([(SERIAL_A, ALICE["citizen_number"])]))
    with _verifying(daemon, home) as verifier:
        assert _read(verifier)["status"] == "valid"
        assert _revocation(_read(verifier, READER_B))["reason"] == "not_registered"
        verifier.clock.advance(minutes=90)  # NOW + 2.5 h: B is dated within the hour ahead
        assert _read(verifier, READER_B)["status"] == "valid"


def test_a_card_signed_after_the_bundle_was_built_is_not_judged_by_its_list(
        verifier: Daemon, home: Path) -> None:
    """A bundle built within the signing clocks' grace (an hour) after card B was signed does
    not know whether B was issued after it: B reads valid until a later bundle; a bundle with
    no list (built from a site's own registry) judges no card by it."""
    _install_bundle(home, revoked=[], now=NOW + timedelta(minutes=50),
                    issued=IssuedCards.of([(SERIAL_A, ALICE["citizen_number"])]))
    assert _read(verifier, READER_B)["status"] == "valid"
    verifier.clock.advance(hours=2)
    _install_bundle(home, revoked=[], now=NOW + timedelta(hours=2))
    assert _read(verifier, READER_B)["status"] == "valid"
    assert _revocation(_read(verifier, READER_B))["reason"] == "ok"


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/issue"), ("post", "/resign"), ("post", "/renew"),
    ("post", "/v1/cards/0102030405060708/revoke"), ("get", "/v1/cards/0102030405060708"),
    ("get", "/v1/cards?citizen_number=11010519491231002X"), ("get", "/v1/audit"),
    ("post", "/v1/applications"), ("get", "/v1/applications/1"),
])
def test_writes_registry_and_application_routes_are_forbidden(verifier: Daemon, method: str,
                                                              path: str) -> None:
    url = verifier.url(action=path[1:]) if path.count("/") == 1 else path
    answer = getattr(verifier.client, method)(url, headers=verifier.auth("admin"),
                                              **({"json": issue_body()} if method == "post" else {}))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "FORBIDDEN"


def test_health_tells_the_bundles_state(verifier: Daemon, home: Path, daemon: Daemon) -> None:
    health = verifier.client.get("/v1/health").json()
    assert health["status"] == "ok"
    assert health["trust"] == {"bundle_issued_at": NOW.isoformat().replace("+00:00", "Z"),
                               "stale": False, "revoked_cards": 1, "issued_cards": None,
                               "message": None}
    _install_bundle(home, revoked=[], now=NOW + timedelta(minutes=30),
                    issued=IssuedCards.of([(SERIAL_A, ALICE["citizen_number"])]))
    assert verifier.client.get("/v1/health").json()["trust"]["issued_cards"] == 1
    verifier.clock.advance(days=8)  # older than the bundle's max_age: reads revocation_stale
    stale = verifier.client.get("/v1/health").json()
    assert stale["status"] == "degraded" and stale["trust"]["stale"] is True
    (home / bundles.BUNDLE_FILE).unlink()
    missing = verifier.client.get("/v1/health").json()["trust"]
    assert missing == {"bundle_issued_at": None, "stale": True, "revoked_cards": 0,
                       "issued_cards": None, "message": "no_bundle"}
    assert daemon.client.get("/v1/health").json()["trust"] is None  # a full installation


def test_health_and_reader_list_still_answer(verifier: Daemon) -> None:
    assert verifier.client.get("/v1/health").status_code == 200
    assert verifier.client.get("/v1/readers", headers=verifier.auth("reader")).status_code == 200
