"""The production page and hand-over in headless Chromium against the real daemon, pcscd and a
card feeder (`cardsim serve --feeder DIR --count N`): a certifier starts a run of two cards from
the console and watches its progress change without a reload until it is finished; then an
operator hands over a produced card read from the reader (another application's card is
refused) and the card becomes active. Keyboard only, as everywhere in the console."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from card_layout.citizen import check_digit
from cardservice.transport.readers import reader_id
from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, wait_card_state

from .conftest import Browser, Site, stop
from .helpers import assert_labelled, choose, log_in, tab_to

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]

CARDS = 2


def press(page, selector: str, key: str = "Enter") -> None:
    tab_to(page, selector)
    page.keyboard.press(key)


def _person(n: int) -> dict:
    first17 = f"110105198505{n + 1:02d}{2 * n + 101:03d}"  # born 1985-05-0n, male
    return {"name": f"制卡人{n}", "gender": "male", "nationality": "01",
            "citizen_number": first17 + check_digit(first17),
            "household_address": f"新疆博乐市青得里大街{n + 1}号"}


@dataclass
class Line:
    """The feeder's reader and the applications certified for it."""

    port: int
    reader: str
    rid: str
    folder: Path
    apps: list[str]
    api: httpx.Client
    feeder: subprocess.Popen | None = None


@pytest.fixture(scope="module")
def line(site: Site, tmp_path_factory) -> Iterator[Line]:
    api = httpx.Client(base_url=site.url, timeout=30,
                       headers={"Authorization": f"Bearer {site.token}"})
    apps = []
    for n in range(CARDS):
        r = api.post("/v1/applications", json={"identity": _person(n), "residence": {
            "current_residence": "示范县城关镇幸福路5号", "permit_type": "temporary"}})
        assert r.status_code == 201, r.text
        apps.append(r.json()["id"])
        for stage in ("audit", "certify"):
            r = api.post(f"/v1/applications/{apps[-1]}/{stage}", json={"decision": "approve"})
            assert r.status_code == 200, r.text
    ports = free_ports()
    assert ports, "needs a second free virtual reader for the feeder"
    folder = tmp_path_factory.mktemp("stack")
    feeder = subprocess.Popen([sys.executable, "-m", "simulator", "serve", "--feeder",
                               str(folder), "--count", str(CARDS), "--port", str(ports[-1])],
                              stderr=subprocess.DEVNULL)
    reader = reader_name_for_port(ports[-1])
    line = Line(ports[-1], reader, reader_id(reader), folder, apps, api, feeder)
    try:
        assert wait_card_state(reader, present=True, timeout=10.0), "the feeder fed no card"
        yield line
    finally:
        stop(line.feeder)
        wait_card_state(reader, present=False)


def test_production_run_started_from_the_console_shows_live_progress(browser: Browser,
                                                                      site: Site, line: Line):
    page = browser.page
    log_in(page, site, "certifier-clerk", keyboard=True)
    press(page, "#nav-applications")
    press(page, "#nav-production")
    expect(page.locator("#waiting")).to_contain_text(str(CARDS))
    assert_labelled(page)
    press(page, f"#r-{line.rid}", "Space")  # tick the feeder's reader
    expect(page.locator(f"#r-{line.rid}")).to_be_checked()
    browser.shot("production")
    started = time.monotonic()
    press(page, "#start-run")
    expect(page.locator("#run")).to_be_visible()
    page.evaluate("""() => {
        window.__notReloaded = true;
        window.__seen = [document.getElementById('run-done').textContent];
        new MutationObserver(() => window.__seen.push(
            document.getElementById('run-done').textContent))
          .observe(document.getElementById('run-done'), {childList: true});
    }""")
    browser.shot("production-run")
    expect(page.locator("#run")).to_have_attribute("data-state", "finished", timeout=120_000)
    print(f"\n{CARDS} cards produced, the page said finished {time.monotonic() - started:.1f} s "
          "after Enter on the start button")
    expect(page.locator("#run-done")).to_have_text(str(CARDS))
    expect(page.locator("#run-failed")).to_have_text("0")
    expect(page.locator("#run-results tbody tr")).to_have_count(CARDS)
    expect(page.locator("#stop-form")).to_be_hidden()  # nothing left to stop
    assert page.evaluate("window.__notReloaded") is True
    seen = page.evaluate("window.__seen")
    assert seen[-1] == str(CARDS) and len(set(seen)) >= 2, seen  # it moved while watched
    browser.shot("production-finished")
    produced = [line.api.get(f"/v1/applications/{a}").json() for a in line.apps]
    assert {a["status"] for a in produced} == {"produced"}


def test_hand_over_a_produced_card_read_from_the_reader(browser: Browser, site: Site,
                                                        line: Line):
    stop(line.feeder)  # every card of the stack was taken out; put the first one back in
    assert wait_card_state(line.reader, present=False, timeout=10.0)
    image = line.folder / "feeder-0001.json"
    line.feeder = subprocess.Popen([sys.executable, "-m", "simulator", "serve", str(image),
                                    "--port", str(line.port)], stderr=subprocess.DEVNULL)
    assert wait_card_state(line.reader, present=True, timeout=10.0)
    serial = line.api.get(f"/v1/readers/{line.rid}/card").json()["card_serial"]
    apps = {line.api.get(f"/v1/applications/{a}").json()["card_serial"]: a for a in line.apps}
    mine, other = apps[serial], next(a for s, a in apps.items() if s != serial)

    page = browser.page
    log_in(page, site, "operator-clerk", keyboard=True)
    press(page, "#nav-applications")
    press(page, "#nav-hand-over")
    expect(page.locator("#applications tbody tr[data-application]")).to_have_count(CARDS)
    press(page, f'tr[data-application="{other}"] a')  # the wrong application first
    expect(page.locator("#hand-over-form")).to_be_visible()
    assert_labelled(page)
    choose(page, "#f-rid", line.rid)
    press(page, "#hand-over")
    expect(page.locator("#form-error")).to_contain_text(serial, timeout=20_000)
    expect(page.locator("#app-status")).to_have_attribute("data-status", "produced")
    browser.shot("hand-over-wrong-card")

    press(page, "#nav-hand-over")
    press(page, f'tr[data-application="{mine}"] a')
    expect(page.locator("#hand-over-form")).to_be_visible()
    choose(page, "#f-rid", line.rid)
    browser.shot("hand-over")
    press(page, "#hand-over")
    expect(page.locator("#handed-over")).to_contain_text(serial, timeout=20_000)
    expect(page.locator("#app-status")).to_have_attribute("data-status", "handed_over")
    browser.shot("handed-over")
    assert line.api.get(f"/v1/cards/{serial}").json()["status"] == "active"
    assert line.api.get(f"/v1/applications/{other}").json()["status"] == "produced"
