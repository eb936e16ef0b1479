"""The console of a verify-only installation (CARDSERVICE_MODE=verify): log-in, the readers page
and the card page with its verdict (revocation from the county's bundle); no write forms, no
registry, audit or application pages, and the daemon refuses them anyway."""

from __future__ import annotations

import pytest

from cardservice.console.i18n import catalogue
from cardservice.console.passwords import hash_password
from cardservice.engine.report import Status
from cardservice.engine.verifyonly import NO_BUNDLE, REVOCATION_STALE
from cardservice.pki import bundle as bundles
from cardservice.transport.readers import reader_id
from tests.api.conftest import NOW, READER_A, READER_B
from tests.api.test_verify_mode import verifier  # noqa: F401  (the verify-only daemon fixture)

from .conftest import PASSWORD, csrf_of, form_post, login


@pytest.fixture
def desk(verifier):  # noqa: F811
    client = verifier.client  # a second TestClient would run the app's lifespan again
    client.app.state.console.accounts.store.add("desk-clerk", "admin", hash_password(PASSWORD),
                                                NOW)
    assert login(client, "desk-clerk").status_code == 303
    return client


def test_readers_and_card_pages_show_the_verdict_and_nothing_to_write(desk):
    readers = desk.get("/console/readers")
    assert readers.status_code == 200 and 'id="verify-only"' in readers.text
    assert 'id="nav-applications"' not in readers.text and "/console/audit" not in readers.text
    good = desk.get(f"/console/readers/{reader_id(READER_A)}")
    assert good.status_code == 200
    assert 'class="badge valid" id="verdict"' in good.text and 'id="verify-note"' in good.text
    for absent in ('id="action-', 'id="registry"', 'id="history-h"', 'class="face"'):
        assert absent not in good.text
    revoked = desk.get(f"/console/readers/{reader_id(READER_B)}")
    assert 'class="badge revoked" id="verdict"' in revoked.text  # from the bundle's list
    verdict = desk.get(f"/console/readers/{reader_id(READER_B)}/verdict").json()
    assert verdict["status"] == "revoked"


@pytest.mark.parametrize("path", [
    f"/console/readers/{reader_id(READER_A)}/resign", f"/console/readers/{reader_id(READER_A)}/renew",
    "/console/cards/0102030405060708/revoke", "/console/audit", "/console/applications",
    "/console/applications/new", "/console/production",
    f"/console/readers/{reader_id(READER_A)}/face/front.png",
])
def test_every_other_console_page_is_refused(desk, path):
    """Refused with a page in the clerk's language (not the API's JSON), for GET and POST."""
    page = desk.get(path)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert 'id="error"' in page.text and "本机仅用于读卡和验证" in page.text
    csrf = csrf_of(desk.get("/console/readers").text)
    posted = form_post(desk, path, {"csrf": csrf, "current_residence": "x"})
    assert posted.status_code == 403 and "本机仅用于读卡和验证" in posted.text


def test_logout_works_on_a_verify_only_console(desk):
    csrf = csrf_of(desk.get("/console/readers").text)
    assert form_post(desk, "/console/logout", {"csrf": csrf}).status_code == 303
    assert desk.get("/console/readers", follow_redirects=False).status_code == 303


def test_the_readers_page_tells_the_bundles_state(desk, verifier, home):  # noqa: F811
    current = desk.get("/console/readers").text
    assert 'id="bundle" class="hint"' in current
    assert "县级信任包（2026-11-28 02:00 UTC 生成）：有效；已注销卡 1 张。" in current
    assert "其中没有登记制发卡的清单。" in current
    verifier.clock.advance(days=8)  # older than the bundle's max_age
    assert login(desk, "desk-clerk").status_code == 303  # the session ended meanwhile
    stale = desk.get("/console/readers").text
    assert 'id="bundle" class="alert bad"' in stale and "已过期" in stale
    card = desk.get(f"/console/readers/{reader_id(READER_A)}").text
    assert 'class="badge revocation_stale" id="verdict">有效，但注销状态未更新<' in card
    assert "未检查：县级信任包已过期" in card
    (home / bundles.BUNDLE_FILE).unlink()
    assert "未安装县级信任包" in desk.get("/console/readers").text
    assert "未检查：未安装县级信任包" in desk.get(f"/console/readers/{reader_id(READER_A)}").text


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_verdict_and_verify_only_reason_has_a_message(lang):
    messages = catalogue(lang)
    for status in Status:
        assert f"status.{status.value}" in messages, status
    for reason in (REVOCATION_STALE, NO_BUNDLE, "not_registered"):
        assert f"reason.{reason}" in messages, reason
