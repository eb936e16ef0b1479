"""The console of a verify-only installation (CARDSERVICE_MODE=verify) in headless Chromium: a
second daemon with only the county's trust and its signed bundle reads the module's card
through pcscd. The clerk sees the readers and the card with its verdict, by keyboard alone, and
nothing to write; the daemon refuses the write, registry and application pages anyway."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect

from cardservice.pki import bundle as bundles
from cardservice.pki.keys import DataDir

from .conftest import Browser, Site, add_clerks, start_daemon, stop
from .helpers import log_in, tab_to

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]


@pytest.fixture(scope="module")
def verify_url(site: Site, tmp_path_factory) -> Iterator[str]:
    """A verify-only installation: the county's trust and a fresh bundle, no signing keys."""
    tmp = tmp_path_factory.mktemp("verify")
    home = tmp / "home"
    shutil.copytree(site.home / "trust", home / "trust")
    root = x509.load_pem_x509_certificate((home / "trust" / "root.pem").read_bytes())
    authority = x509.load_pem_x509_certificate((home / "trust" / "authority.pem").read_bytes())
    key = serialization.load_pem_private_key((site.home / "root" / "key.pem").read_bytes(), None)
    now = datetime.now(UTC)
    bundles.install(DataDir(home), bundles.build(
        signer_cert=root, signer_key=key, roots=[root], links=[], authorities=[authority],
        crls=[], revoked_cards=[], now=now), now)
    add_clerks(home, {"desk-clerk": "admin"})  # even an admin gets nothing to write here
    daemon, url = start_daemon(home, tmp / "daemon.log", CARDSERVICE_MODE="verify")
    try:
        yield url
    finally:
        stop(daemon)


@pytest.fixture
def daemon_urls(site: Site, verify_url: str) -> tuple[str, ...]:
    return (site.url, verify_url)


def test_verify_only_console_shows_the_verdict_and_nothing_to_write(browser: Browser,
                                                                    site: Site,
                                                                    verify_url: str):
    page = browser.page
    desk = Site(verify_url, "", site.home, site.image, site.reader, site.reader_id)
    log_in(page, desk, "desk-clerk", keyboard=True)
    expect(page).to_have_url(f"{verify_url}/console/readers")
    expect(page.locator("#verify-only")).to_be_visible()
    expect(page.locator("#nav-applications")).to_have_count(0)
    row = page.locator(f'tr[data-reader-id="{site.reader_id}"]')
    expect(row.locator(".verdict")).to_have_text("有效", timeout=20_000)
    browser.shot("verify-readers")
    tab_to(page, f'tr[data-reader-id="{site.reader_id}"] a.reader-link')
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("有效")
    expect(page.locator("#verify-note")).to_be_visible()
    for absent in ("[id^=action-]", "#registry", "#history-h", "img.face", "form.card-form"):
        expect(page.locator(absent)).to_have_count(0)
    browser.shot("verify-card")
    for path in (f"/console/readers/{site.reader_id}/resign", "/console/applications/new",
                 "/console/audit", "/console/production"):
        answer = page.goto(f"{verify_url}{path}")
        assert answer.status == 403 and "FORBIDDEN" in page.content(), path
    page.goto(f"{verify_url}/console/readers")
    tab_to(page, "#logout")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/login"))
