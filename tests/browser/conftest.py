"""Browser-test fixtures: the daemon as a real uvicorn process with clerk accounts, one simulated card served through pcscd and issued over the API, and Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright; never ``playwright install``): one browser per
module, a fresh context per test. Screenshots go to ``test-artifacts/screenshots/`` (kept by CI, not committed)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cardservice.console.passwords import hash_password
from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.stores import Stores
from simulator.devkeys import load_dev_master_keys
from tests.conftest import serve_image_process, wait_card_state

CHROMIUM = Path(os.environ.get("CARDSERVICE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"
SERIAL = "52503100000000C1"
CLERKS = {"reader-clerk": "reader", "operator-clerk": "operator", "admin-clerk": "admin",
          "certifier-clerk": "certifier", "locked-clerk": "operator"}
HOLDER = {"name": "赵六", "gender": "female", "nationality": "01",
          "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区建国路88号"}
FIRST_RESIDENCE = "示范县城关镇幸福路1号"

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Site:
    url: str
    token: str
    home: Path
    image: Path
    reader: str
    reader_id: str

    def ctl(self, command: str) -> str:
        """``cardsim ctl IMAGE COMMAND`` as a clerk's technician would type it."""
        done = subprocess.run([sys.executable, "-m", "simulator", "ctl", str(self.image),
                               command], check=True, capture_output=True, text=True)
        return done.stdout.strip()


def start_daemon(home: Path, log_path: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """``cardservice serve`` on a free port with ``env`` (no other CARDSERVICE_ variable)."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    with log_path.open("ab") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "cardservice", "--home", str(home),
                                   "serve", "--port", str(port)], stderr=log,
                                  env={**clean, **env})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _up(url, daemon, log_path), 30, "the daemon to answer")
    except BaseException:
        stop(daemon)
        raise
    return daemon, url


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def add_clerks(home: Path, clerks: dict[str, str]) -> None:
    """The clerks' accounts, as ``cardservice user add`` makes them (its own tests run the CLI;
    here one process saves a Python start per clerk)."""
    users, hashed, now = Stores(home).users(), hash_password(PASSWORD), datetime.now(UTC)
    for name, role in clerks.items():
        users.add(name, role, hashed, now)


def api_token(home: Path) -> str:
    return Stores(home).tokens().create("desk-app", "admin", datetime.now(UTC))[0]


@pytest.fixture(scope="module")
def site(pcscd, tmp_path_factory) -> Iterator[Site]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh")
    tmp = tmp_path_factory.mktemp("console")
    home = tmp / "home"
    now = datetime.now(UTC)
    init_demo(DataDir(home), now=now, masters=load_dev_master_keys())
    token = api_token(home)
    add_clerks(home, CLERKS)
    image = tmp / "card.json"
    subprocess.run([sys.executable, "-m", "simulator", "new", str(image), "--serial", SERIAL],
                   check=True)
    card, reader = serve_image_process(image)
    try:
        daemon, url = start_daemon(home, tmp / "daemon.log")
    except BaseException:
        stop(card)
        raise
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                              timeout=20)
        rid = next(r["id"] for r in client.get("/v1/readers").json() if r["name"] == reader)
        issued = client.post(f"/v1/readers/{rid}/card/issue", json={
            "card_serial": SERIAL, "identity": HOLDER,
            "residence": {"current_residence": FIRST_RESIDENCE, "permit_type": "temporary"}})
        assert issued.status_code == 200, issued.text
        yield Site(url, token, home, image, reader, rid)
    finally:
        stop(daemon)
        stop(card)
        wait_card_state(reader, present=False)


def _up(url: str, process: subprocess.Popen | None = None, log: Path | None = None) -> bool:
    if process is not None and process.poll() is not None:
        raise AssertionError(f"the daemon exited: {log.read_text()[-2000:] if log else ''}")
    try:
        return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (a fresh user-data dir of its own); each test gets
    a fresh context (cookies, storage) of it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browser:
    context: object
    page: object
    outside: list[str]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def daemon_urls(site: Site) -> tuple[str, ...]:
    """The daemons the browser may talk to (a module with another daemon adds its own)."""
    return (site.url,)


@pytest.fixture
def browser(chromium, site: Site, daemon_urls: tuple[str, ...]) -> Iterator[Browser]:
    """A fresh context of the module's Chromium; every request that leaves the daemons is
    recorded."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    outside: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(
        (*daemon_urls, "data:", "about:", "http://evil.test")) else outside.append(r.url))
    # the readers page reads every card present for its verdict; on a shared machine the other
    # virtual readers hold other people's cards: only this test's card is read
    context.route(re.compile(r"/console/readers/[^/]+/verdict$"), lambda route: (
        route.continue_() if site.reader_id in route.request.url else route.abort()))
    page = context.new_page()
    try:
        yield Browser(context, page, outside)
    finally:
        context.close()
    assert outside == [], f"the console loaded something from outside: {outside}"
