"""Every console flow with the keyboard alone, in headless Chromium against the real daemon,
pcscd and a simulated card: log-in and log-out; intake (with the holder's photo), audit and
certification; cancelling an application after its confirmation; renew; revoke. No mouse:
focus moves with Tab, forms are sent with Enter or Space, lists are chosen with the arrow keys,
and every input of every page on the way has a label."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from card_layout.jpeg_sample import flat_jpeg

from .conftest import SERIAL, Browser, Site
from .helpers import assert_labelled, choose, log_in, open_file_chooser, tab_to, type_into

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]

PERSON = {"name": "王五", "nationality": "01", "citizen_number": "110105199001011232",
          "household_address": "新疆博乐市青得里大街1号", "current_residence": "示范县城关镇幸福路3号"}


def press(page, selector: str, key: str = "Enter") -> None:
    tab_to(page, selector)
    page.keyboard.press(key)


def log_out(page) -> None:
    press(page, "#logout")
    expect(page).to_have_url(re.compile(r"/console/login"))


def _api(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=20,
                        headers={"Authorization": f"Bearer {site.token}"})


def test_login_and_logout_by_keyboard(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk", keyboard=True)
    expect(page).to_have_url(f"{site.url}/console/readers")
    expect(page.locator("#who")).to_contain_text("operator-clerk")
    log_out(page)
    page.goto(f"{site.url}/console/readers")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_intake_with_photo_audit_and_certify_by_keyboard(browser: Browser, site: Site,
                                                         tmp_path):
    page = browser.page
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(flat_jpeg(102, 126, 77))
    log_in(page, site, "operator-clerk", keyboard=True)
    press(page, "#nav-applications")
    press(page, "#nav-intake")
    expect(page.locator("#intake-form")).to_be_visible()
    assert_labelled(page)
    for name in ("name", "nationality", "citizen_number", "household_address"):
        type_into(page, f"#f-{name}", PERSON[name])
    choose(page, "#f-gender", "male")
    tab_to(page, "#f-photo")
    open_file_chooser(page, "#f-photo").set_files(str(photo))
    type_into(page, "#f-current_residence", PERSON["current_residence"])
    choose(page, "#f-permit_type", "temporary")
    browser.shot("application-intake")
    press(page, "#submit-application")
    expect(page.locator("#submitted")).to_contain_text("已受理")
    page.wait_for_function("() => document.querySelector('#app-photo').naturalWidth === 102")
    app_id = page.locator("h1").inner_text().split()[-1]
    browser.shot("application-submitted")

    press(page, "#nav-audit")
    press(page, f'tr[data-application="{app_id}"] a')
    expect(page.locator("#decision-form")).to_be_visible()
    assert_labelled(page)
    press(page, "#approve")
    expect(page.locator(f'tr[data-application="{app_id}"]')).to_have_count(0)
    log_out(page)

    log_in(page, site, "certifier-clerk", keyboard=True)
    press(page, "#nav-applications")  # a certifier's own queue: certification
    press(page, f'tr[data-application="{app_id}"] a')
    expect(page.locator("#app-status")).to_have_attribute("data-status", "audited")
    press(page, "#approve")
    expect(page.locator(f'tr[data-application="{app_id}"]')).to_have_count(0)
    shown = _api(site).get(f"/v1/applications/{app_id}").json()
    assert shown["status"] == "certified" and shown["photo"]
    assert [d["actor"] for d in shown["decisions"]] == [
        "clerk:operator-clerk", "clerk:operator-clerk", "clerk:certifier-clerk"]


def test_cancel_an_application_by_keyboard(browser: Browser, site: Site):
    submitted = _api(site).post("/v1/applications", json={
        "identity": {**{k: PERSON[k] for k in ("nationality", "household_address")},
                     "name": "钱七", "gender": "female", "citizen_number": "110105199203033448"},
        "residence": {"current_residence": PERSON["current_residence"],
                      "permit_type": "temporary"}})
    assert submitted.status_code == 201, submitted.text
    app_id = submitted.json()["id"]
    page = browser.page
    log_in(page, site, "operator-clerk", keyboard=True)
    press(page, "#nav-applications")
    press(page, f'tr[data-application="{app_id}"] a')
    press(page, "#cancel-application")
    expect(page.locator("#cancel-warning")).to_be_visible()
    assert_labelled(page)
    type_into(page, "#f-reason", "申请人撤回")
    browser.shot("application-cancel-confirm")
    press(page, "#confirm-cancel", "Space")
    expect(page.locator("#cancelled")).to_contain_text(app_id)
    expect(page.locator("#app-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#cancel-application")).to_have_count(0)
    browser.shot("application-cancelled")


def test_renew_by_keyboard(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk", keyboard=True)
    press(page, f'tr[data-reader-id="{site.reader_id}"] a.reader-link')
    press(page, "#action-renew")
    expect(page.locator("#permit-form")).to_be_visible()
    assert_labelled(page)
    press(page, "#to-confirm")
    expect(page.locator("#new .current-residence")).to_be_visible()
    press(page, "#confirm")
    expect(page.locator("#done")).to_be_visible(timeout=20_000)
    expect(page.locator("#verdict")).to_have_text("有效")
    browser.shot("renew-done")


def test_revoke_by_keyboard(browser: Browser, site: Site):
    """Last in this module: the module's card stays revoked."""
    page = browser.page
    log_in(page, site, "admin-clerk", keyboard=True)
    press(page, f'tr[data-reader-id="{site.reader_id}"] a.reader-link')
    press(page, "#action-revoke")
    expect(page.locator("#revoke-form")).to_be_visible()
    assert_labelled(page)
    choose(page, "#f-reason", "lost")
    press(page, "#to-confirm")
    expect(page.locator("#change")).to_be_visible()
    browser.shot("revoke-confirm")
    press(page, "#confirm")
    expect(page.locator("#done")).to_be_visible()
    assert _api(site).get(f"/v1/cards/{SERIAL.lower()}").json()["status"] == "lost"
