"""Tables printed in docs/card-format.md are the code's tables."""

from __future__ import annotations

import re
from pathlib import Path

from card_layout.nationality import ETHNIC_GROUPS

CARD_FORMAT = Path(__file__).resolve().parents[2] / "docs" / "card-format.md"


def test_nationality_table_is_complete() -> None:
    text = CARD_FORMAT.read_text(encoding="utf-8")
    text = text[text.index("**Nationality**"):]
    text = text[:text.index("\n\n", text.index("| code | name |"))]
    pairs = dict(re.findall(r"\| `(\d\d)` \| ([^|`]+?) (?=\|)", text))
    assert pairs == ETHNIC_GROUPS
    assert len(pairs) == 58 and pairs["56"] == "基诺" and pairs["98"] == "外国血统中国籍人士"
