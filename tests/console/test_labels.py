"""Every input of every console page with a form has a ``<label for>`` (or an aria-label), in
both languages, and no two elements share an id (a label must name one input). The browser
tests check the same on the pages they walk through; this covers every page at once."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest

from cardservice.transport.readers import reader_id
from tests.api.conftest import SERIAL_A

from .conftest import READER_A, csrf_of
from .test_applications import APPS, _submit, _submitted_id

RID = reader_id(READER_A)


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[str | None, str | None]] = []  # (id, aria-label)
        self.labels: set[str] = set()
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] += 1
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") != "hidden"):
            self.inputs.append((a.get("id"), a.get("aria-label")))

    def unlabelled(self) -> list[str | None]:
        return [i for i, aria in self.inputs if not aria and i not in self.labels]


def _check(html: str) -> int:
    found = Controls()
    found.feed(html)
    assert found.unlabelled() == [], found.unlabelled()
    assert [i for i, n in found.ids.items() if n > 1] == []
    return len(found.inputs)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_form_page_labels_every_input(clerks, as_clerk, lang):
    assert clerks.issue().status_code == 200
    admin = as_clerk("admin")
    admin.cookies.set("cs_lang", lang)
    app_id = _submitted_id(_submit(as_clerk("operator")))
    pages = ["/console/login", f"/console/readers/{RID}/resign", f"/console/readers/{RID}/renew",
             f"/console/cards/{SERIAL_A}/revoke", "/console/audit", f"{APPS}/new",
             f"{APPS}/{app_id}", f"{APPS}/{app_id}/cancel", "/console/production"]
    counted = {}
    for path in pages:
        page = admin.get(path)
        assert page.status_code == 200, path
        counted[path] = _check(page.text)
    assert all(counted[p] > 0 for p in pages), counted
    # a form sent back with a field error keeps its labels
    form = admin.get(f"{APPS}/new")
    error = admin.post(f"{APPS}/new", data={"csrf": csrf_of(form.text), "name": ""})
    assert error.status_code == 422 and _check(error.text) == counted[f"{APPS}/new"]
