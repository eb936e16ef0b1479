"""The face layout: one data file (JSON) that places every field of both sides on an ID-1 card.

The default is ``layout.json`` beside this module; a county replaces it with ``face-layout.json``
in its data directory. Boxes are ``[x, y, width, height]`` in millimetres from the card's top-left
corner, font sizes in points. :func:`load_layout` checks the file and names what is wrong.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_LAYOUT = Path(__file__).with_name("layout.json")
#: The file name a county puts into its data directory to replace the default layout.
COUNTY_LAYOUT_NAME = "face-layout.json"
LAYOUT_FORMAT = "rp1-face/1"
MM_PER_PT = 25.4 / 72

FRONT_FIELDS = ("name", "gender", "nationality", "birth_date", "household_address",
                "citizen_number")
BACK_FIELDS = ("current_residence", "issuing_authority", "validity", "permit_type")
SIDES = {"front": FRONT_FIELDS, "back": BACK_FIELDS}


class LayoutError(Exception):
    """The layout file is missing, malformed, or names a font that is not installed."""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class FieldSpec:
    name: str
    box: Box
    size: float
    min_size: float


@dataclass(frozen=True)
class Label:
    text: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class SideLayout:
    name: str
    labels: tuple[Label, ...]
    fields: dict[str, FieldSpec]
    photo: Box | None


@dataclass(frozen=True)
class FontRef:
    file: str
    index: int


@dataclass(frozen=True)
class Layout:
    source: Path
    width_mm: float
    height_mm: float
    fonts: tuple[FontRef, ...]
    font_dirs: tuple[str, ...]
    line_spacing: float
    size_step: float
    words: dict[str, Any]
    sides: dict[str, SideLayout]


def layout_path(home: Path | None) -> Path:
    """The county's layout in ``home`` if it has one, else the default."""
    if home is not None and (Path(home) / COUNTY_LAYOUT_NAME).is_file():
        return Path(home) / COUNTY_LAYOUT_NAME
    return DEFAULT_LAYOUT


def load_layout(home: Path | None = None) -> Layout:
    path = layout_path(home)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LayoutError(f"face layout {path.name}: cannot be read: {exc}") from exc
    try:
        return _parse(path, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutError(f"face layout {path.name}: {exc}") from exc


def _parse(path: Path, data: dict[str, Any]) -> Layout:
    if data.get("layout") != LAYOUT_FORMAT:
        raise ValueError(f"'layout' must be {LAYOUT_FORMAT!r}")
    width, height = (float(v) for v in data["card_mm"])
    sides = {name: _side(name, data["sides"][name], width, height) for name in SIDES}
    fonts = tuple(FontRef(str(f["file"]), int(f.get("index", 0))) for f in data["fonts"])
    if not fonts:
        raise ValueError("'fonts' must name at least one font")
    words = data["words"]
    for key in ("gender", "permit_type", "birth_date", "validity_date", "validity"):
        if key not in words:
            raise ValueError(f"'words' has no {key!r}")
    return Layout(path, width, height, fonts, tuple(data.get("font_dirs", ["/usr/share/fonts"])),
                  float(data.get("line_spacing", 1.25)), float(data.get("size_step", 0.5)),
                  words, sides)


def _side(name: str, data: dict[str, Any], width: float, height: float) -> SideLayout:
    fields: dict[str, FieldSpec] = {}
    for field in SIDES[name]:
        spec = data["fields"][field]
        box = _box(f"{name}.{field}", spec["box"], width, height)
        size, min_size = float(spec["size"]), float(spec["min_size"])
        if not 0 < min_size <= size:
            raise ValueError(f"{name}.{field}: need 0 < min_size <= size")
        if min_size * MM_PER_PT > box.h:
            raise ValueError(f"{name}.{field}: the box is lower than one line at min_size")
        fields[field] = FieldSpec(field, box, size, min_size)
    labels = tuple(Label(str(item["text"]), float(item["at"][0]), float(item["at"][1]),
                         float(item["size"])) for item in data.get("labels", []))
    photo = data.get("photo")
    return SideLayout(name, labels, fields,
                      _box(f"{name}.photo", photo["box"], width, height) if photo else None)


def _box(where: str, values: list[float], width: float, height: float) -> Box:
    x, y, w, h = (float(v) for v in values)
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width + 1e-9 or y + h > height + 1e-9:
        raise ValueError(f"{where}: box {values} is not inside the {width} x {height} mm card")
    return Box(x, y, w, h)
