"""Browser-test fixtures: the daemon as a real uvicorn process with clerk accounts made by the
CLI, one simulated card served through pcscd and issued over the API, and Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright; never ``playwright install``) with a fresh profile
per test. Screenshots go to ``test-artifacts/screenshots/`` (kept by CI, not committed)."""

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

from cardservice.pki.keys import DataDir, init_demo
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


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cardservice", "--home", str(home), *args],
                          check=True, capture_output=True, text=True)


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


@pytest.fixture(scope="module")
def site(pcscd, tmp_path_factory) -> Iterator[Site]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh")
    tmp = tmp_path_factory.mktemp("console")
    home = tmp / "home"
    now = datetime.now(UTC)
    init_demo(DataDir(home), now=now, masters=load_dev_master_keys())
    token = _cli(home, "token", "create", "--name", "desk-app", "--role", "admin").stdout.strip()
    password_file = tmp / "pw"
    password_file.write_text(PASSWORD + "\n")
    for name, role in CLERKS.items():
        _cli(home, "user", "add", name, "--role", role, "--password-file", str(password_file))
    image = tmp / "card.json"
    subprocess.run([sys.executable, "-m", "simulator", "new", str(image), "--serial", SERIAL],
                   check=True)
    card, reader = serve_image_process(image)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    log = (tmp / "daemon.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "cardservice", "--home", str(home), "serve",
                               "--port", str(port)], stderr=log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _up(url), 20, "the daemon to answer")
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                              timeout=20)
        rid = next(r["id"] for r in client.get("/v1/readers").json() if r["name"] == reader)
        issued = client.post(f"/v1/readers/{rid}/card/issue", json={
            "card_serial": SERIAL, "identity": HOLDER,
            "residence": {"current_residence": FIRST_RESIDENCE, "permit_type": "temporary"}})
        assert issued.status_code == 200, issued.text
        yield Site(url, token, home, image, reader, rid)
    finally:
        daemon.terminate()
        daemon.wait(10)
        log.close()
        card.terminate()
        card.wait(5)
        wait_card_state(reader, present=False)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def playwright_driver():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


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
def browser(playwright_driver, site: Site, tmp_path: Path) -> Iterator[Browser]:
    """Chromium with a fresh profile; every request that leaves the daemon is recorded."""
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        viewport={"width": 1200, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    outside: list[str] = []
    context.on("request", lambda r: None if r.url.startswith(
        (site.url, "data:", "about:", "http://evil.test")) else outside.append(r.url))
    # the readers page reads every card present for its verdict; on a shared machine the other
    # virtual readers hold other people's cards: only this test's card is read
    context.route(re.compile(r"/console/readers/[^/]+/verdict$"), lambda route: (
        route.continue_() if site.reader_id in route.request.url else route.abort()))
    page = context.pages[0] if context.pages else context.new_page()
    try:
        yield Browser(context, page, outside)
    finally:
        context.close()
    assert outside == [], f"the console loaded something from outside: {outside}"
