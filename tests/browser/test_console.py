"""The clerks' console in headless Chromium against the real daemon, pcscd and a simulated card:
log-in, wrong password and lockout; a card put in shows up live; re-sign after a move by keyboard
alone; field messages; a reader-role clerk; cross-site and CSRF-less posts; logout; /docs."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import Browser, Site
from .helpers import assert_labelled, log_in, tab_to

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]


def test_login_wrong_password_then_lockout(browser: Browser, site: Site):
    page = browser.page
    page.goto(f"{site.url}/console/")
    expect(page.locator("#name")).to_be_focused()
    browser.shot("login")
    log_in(page, site, "locked-clerk", "not the password")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    browser.shot("login-wrong-password")
    for _ in range(4):
        log_in(page, site, "locked-clerk", "not the password")
    expect(page.locator("#login-error")).to_contain_text("锁定")
    log_in(page, site, "locked-clerk")  # the right password: still locked
    expect(page.locator("#login-error")).to_contain_text("锁定")
    expect(page).to_have_url(re.compile(r"/console/login"))
    log_in(page, site, "operator-clerk")  # another account from the same PC still works
    expect(page).to_have_url(f"{site.url}/console/readers")
    expect(page.locator("#who")).to_contain_text("operator-clerk")


def test_card_put_in_shows_up_without_reload(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk")
    row = page.locator(f'tr[data-reader-id="{site.reader_id}"]')
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert site.ctl("remove").startswith("ok")
    expect(row.locator(".card-state")).to_have_text("无卡")
    page.evaluate("window.__notReloaded = true")
    assert site.ctl("insert").startswith("ok")
    started = time.monotonic()
    expect(row.locator(".card-state")).to_have_text("有卡", timeout=5000)
    shown = time.monotonic() - started
    expect(row.locator(".verdict")).to_have_text("有效")
    expect(row.locator(".holder")).to_have_text("赵六")
    assert page.evaluate("window.__notReloaded") is True
    print(f"card shown {shown * 1000:.0f} ms after `cardsim ctl insert` returned")
    browser.shot("readers")


def test_resign_after_move_by_keyboard(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk", keyboard=True)
    expect(page).to_have_url(f"{site.url}/console/readers")
    tab_to(page, f'tr[data-reader-id="{site.reader_id}"] a.reader-link')
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("有效")
    assert_labelled(page)
    page.wait_for_function("""() => Array.from(document.querySelectorAll('img.face'))
        .every(img => img.complete && img.naturalWidth > 0)""", timeout=20_000)
    browser.shot("card")
    tab_to(page, "#action-resign")
    page.keyboard.press("Enter")
    expect(page.locator("#f-current_residence")).to_be_visible()
    assert_labelled(page)
    tab_to(page, "#f-current_residence")
    page.keyboard.type("示范县新城街道和平路12号")
    tab_to(page, "#to-confirm")
    page.keyboard.press("Enter")
    expect(page.locator("#new .current-residence")).to_have_text("示范县新城街道和平路12号")
    expect(page.locator("#old .current-residence")).not_to_have_text("示范县新城街道和平路12号")
    browser.shot("resign-confirm")
    tab_to(page, "#confirm")
    page.keyboard.press("Enter")
    expect(page.locator("#done")).to_be_visible(timeout=20_000)
    expect(page.locator("#new .current-residence")).to_have_text("示范县新城街道和平路12号")
    expect(page.locator("#verdict")).to_have_text("有效")
    browser.shot("resign-done")
    audit = httpx.get(f"{site.url}/v1/audit", headers={"Authorization": f"Bearer {site.token}"})
    assert audit.json()[0]["actor"] == "clerk:operator-clerk"


def test_bad_input_shows_the_fields_message(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk")
    page.goto(f"{site.url}/console/readers/{site.reader_id}/resign")
    page.fill("#f-current_residence", "   ")
    page.click("#to-confirm")
    message = page.locator("#e-current_residence")
    expect(message).to_have_text("现居住地址：不能为空")
    expect(page.locator("#f-current_residence")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-current_residence")).to_be_focused()  # the keyboard is there
    described = page.locator("#f-current_residence").get_attribute("aria-describedby")
    assert "e-current_residence" in described
    page.click('a[lang="en"]')
    page.fill("#f-current_residence", "示范县新区8号")
    page.fill("#f-expires_on", "2099-01-01")
    page.click("#to-confirm")
    expect(page.locator("#form-error")).to_have_text(  # the write's rule, refused before it
        "A re-sign after a move keeps the expiry; a later expiry is a renewal (Renew).")
    browser.shot("resign-field-error")


def test_reader_role_sees_no_write_buttons_and_is_refused(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "reader-clerk")
    page.goto(f"{site.url}/console/readers/{site.reader_id}")
    expect(page.locator("#verdict")).to_be_visible()
    assert page.locator("[id^=action-]").count() == 0
    csrf = page.locator('form[action="/console/logout"] input[name=csrf]').get_attribute("value")
    statuses = page.evaluate("""async ([rid, csrf]) => {
        const form = new URLSearchParams({csrf, current_residence: "示范县新区8号"});
        const console_ = await fetch(`/console/readers/${rid}/resign/confirm`,
                                     {method: "POST", body: form});
        const api = await fetch(`/v1/readers/${rid}/card/resign`, {method: "POST",
            headers: {"Content-Type": "application/json"},
            body: JSON.stringify({current_residence: "示范县新区8号"})});
        return [console_.status, api.status];
    }""", [site.reader_id, csrf])
    assert statuses == [403, 401]


def test_cross_site_post_and_missing_csrf_are_refused(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk")
    evil = f"""<form id="f" method="post" action="{site.url}/console/logout">
        <input name="csrf" value="guessed"></form><script>f.submit()</script>"""
    browser.context.route("http://evil.test/**", lambda route: route.fulfill(
        body=evil, content_type="text/html"))
    page.goto("http://evil.test/")
    expect(page.locator("body")).to_contain_text("ORIGIN_NOT_ALLOWED")
    page.goto(f"{site.url}/console/readers")  # still logged in
    expect(page.locator("#who")).to_contain_text("operator-clerk")
    page.evaluate("document.querySelector('form[action=\"/console/logout\"] "
                  "input[name=csrf]').remove()")
    page.click("#logout")
    expect(page.locator("#error")).to_contain_text("CSRF_FAILED")
    page.goto(f"{site.url}/console/readers")
    expect(page.locator("#who")).to_contain_text("operator-clerk")


def test_logout_ends_the_session(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk")
    expect(page.locator("#who")).to_be_visible()
    cookies = browser.context.cookies()
    session = next(c for c in cookies if c["name"] == "cs_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("cs_session") == -1
    tab_to(page, "#logout")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/login"))
    browser.context.add_cookies([session])  # the old cookie is worth nothing now
    page.goto(f"{site.url}/console/readers")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_admin_audit_page(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "admin-clerk")
    page.goto(f"{site.url}/console/audit")
    expect(page.locator("#chain")).to_have_class(re.compile("ok"))
    assert_labelled(page)
    page.fill("#f-clerk", "operator-clerk")
    page.keyboard.press("Enter")
    expect(page.locator("#audit-table td.actor").first).to_have_text("clerk:operator-clerk")
    browser.shot("audit")


def test_docs_work_offline_and_post_from_their_own_origin(browser: Browser, site: Site):
    page = browser.page
    page.goto(f"{site.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("cardservice")
    status = page.evaluate("""async (token) => (await fetch("/v1/cards/0000000000000000/revoke",
        {method: "POST", headers: {"Authorization": `Bearer ${token}`,
         "Content-Type": "application/json"}, body: JSON.stringify({reason: "lost"})})).status""",
                           site.token)
    assert status == 404  # through the Origin check: the card is simply not in the registry
    browser.shot("docs")


def test_application_intake_audit_and_certify(browser: Browser, site: Site):
    page = browser.page
    log_in(page, site, "operator-clerk")
    page.click("#nav-applications")
    page.click("#nav-intake")
    assert_labelled(page)
    for name, value in {"name": "王五", "nationality": "01", "citizen_number": "110105199001011232",
                        "household_address": "新疆博乐市青得里大街1号",
                        "current_residence": "示范县城关镇幸福路3号"}.items():
        page.fill(f"#f-{name}", value)
    page.select_option("#f-gender", "male")
    page.select_option("#f-permit_type", "temporary")
    browser.shot("application-intake")
    page.click("#submit-application")
    expect(page.locator("#submitted")).to_contain_text("已受理")
    app_id = page.locator("h1").inner_text().split()[-1]
    receipt = page.locator("#receipt").get_attribute("href")
    assert receipt == f"/console/applications/{app_id}/receipt.pdf"
    browser.shot("application-submitted")
    page.click("#nav-audit")
    page.click(f'tr[data-application="{app_id}"] a')
    page.click("#approve")
    expect(page.locator(f'tr[data-application="{app_id}"]')).to_have_count(0)
    page.click("#logout")
    log_in(page, site, "certifier-clerk")
    page.goto(f"{site.url}/console/applications")
    page.click(f'tr[data-application="{app_id}"] a')
    expect(page.locator("#app-status")).to_have_attribute("data-status", "audited")
    page.click("#approve")
    page.goto(f"{site.url}/console/applications/{app_id}")
    expect(page.locator("#app-status")).to_have_attribute("data-status", "certified")
    browser.shot("application-certified")
