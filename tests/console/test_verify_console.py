"""The console of a verify-only installation (CARDSERVICE_MODE=verify): log-in, the readers page
and the card page with its verdict (revocation from the county's bundle); no write forms, no
registry, audit or application pages, and the daemon refuses them anyway."""

from __future__ import annotations

import pytest

from cardservice.console.passwords import hash_password
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
