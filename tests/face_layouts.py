"""Face layouts of another site: the default layout without the fallback font (Noto CJK only),
as a county centre or another county might run it. A name with a CJK Extension B character
prints with the default layout and not with this one."""

from __future__ import annotations

import json
from pathlib import Path

from cardservice.face import Face
from cardservice.face.layout import layout_path

#: CJK Extension B: the default layout prints it with its fallback font, Noto CJK alone cannot
EXT_B_NAME = "王\U00020000明"


def without_fallback_font(home: Path) -> Face:
    """``home/face-layout.json``: the default layout with its first font only; its Face."""
    layout = json.loads(layout_path(None).read_text(encoding="utf-8"))
    layout["fonts"] = layout["fonts"][:1]
    home.mkdir(parents=True, exist_ok=True)
    (home / "face-layout.json").write_text(json.dumps(layout), encoding="utf-8")
    return Face(home=home)
