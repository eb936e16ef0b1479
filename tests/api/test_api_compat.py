"""No breaking change to an API v1 route since the last released contract
(docs/api/v1.released.json; docs/api/README.md says when and how a release updates it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cardservice.api.contract import breaking_changes
from cardservice.api.errors import STATUS_BY_CODE
from cardservice.api.openapi import current_schema

ROOT = Path(__file__).resolve().parents[2]
RELEASED = ROOT / "docs" / "api" / "v1.released.json"


def test_no_breaking_change_to_v1_since_the_release():
    released = json.loads(RELEASED.read_text(encoding="utf-8"))
    changes = breaking_changes(released, current_schema(), prefix="/v1/")
    assert changes == [], "breaking changes to API v1:\n" + "\n".join(changes)


def test_readme_error_table_is_the_code_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", readme, re.MULTILINE))
    assert {code: int(status) for code, status in rows.items()} == STATUS_BY_CODE
