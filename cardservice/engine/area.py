"""The area an acceptance point serves (``CARDSERVICE_SITE_AREA``): a holder applies where they
live, and a move is re-signed at the new residence's acceptance point (county.md). The area is
a list of address prefixes (for example ``示范县城关镇,示范县新城街道``); a residence that starts
with none of them is refused with rule ``residence_outside_site_area`` before anything is
recorded or written. An address is written with or without the divisions above the county in
front (a province-level name ending 省, 自治区 or 特别行政区, then a prefecture-level one ending
市, 自治州, 地区 or 盟), so either side may carry them: ``新疆维吾尔自治区博尔塔拉蒙古自治州博乐市
青得里街道…`` is in the area ``博乐市``, and ``博乐市青得里街道…`` in the area
``博尔塔拉蒙古自治州博乐市``. Only one side is cut, so the same street name in another city
(``甲市朝阳区`` against ``乙市朝阳区``) stays outside. Unset (the default), every residence is taken, as before; the county
centre, which produces cards for every site, leaves it unset."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cardservice.errors import PolicyError

#: separators between prefixes: ASCII and full-width commas and semicolons
_SEPARATORS = re.compile(r"[,;，；、]")
_SPACE = re.compile(r"\s+")


_NAME = "[\u3400-\u9fff]"
#: the divisions above a county that an address may carry in front: at most one
#: province-level and then one prefecture-level name (a name holds no division ending of its
#: own level, so "…自治州…市" is two divisions, not one)
_HIGHER = re.compile(
    f"(?:(?:(?!省|自治区|特别行政区){_NAME}){{1,12}}(?:省|自治区|特别行政区))?"
    f"(?:(?:(?!自治州|地区|盟|市){_NAME}){{1,12}}(?:自治州|地区|盟|市))?")


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


def _cuts(text: str) -> list[int]:
    """Where ``text`` may start once the divisions above the county in front are left out (0,
    then the end of each leading division; never the whole text)."""
    return [k for k in range(len(text)) if k == 0 or _HIGHER.fullmatch(text, 0, k)]


def _in(residence: str, prefix: str) -> bool:
    """``residence`` starts with ``prefix``, either of them without its higher divisions."""
    return any(residence.startswith(prefix[j:]) for j in _cuts(prefix)) \
        or any(residence.startswith(prefix, i) for i in _cuts(residence))


@dataclass(frozen=True)
class SiteArea:
    prefixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> SiteArea:
        """From ``CARDSERVICE_SITE_AREA``; blank entries are dropped, spaces ignored."""
        if not text:
            return cls()
        return cls(tuple(p for p in (_plain(x) for x in _SEPARATORS.split(text)) if p))

    def covers(self, residence: str) -> bool:
        if not self.prefixes:
            return True
        plain = _plain(residence)
        return plain.startswith(self.prefixes) or any(_in(plain, p) for p in self.prefixes)

    def check(self, residence: str | None) -> None:
        """Rule ``residence_outside_site_area`` unless ``residence`` is in the area (or no area
        is set, or there is no residence to judge)."""
        if residence is None or self.covers(residence):
            return
        raise PolicyError("residence_outside_site_area",
                          f"{residence!r} is not in this acceptance point's area "
                          f"({', '.join(self.prefixes)}); the holder applies, and a move is "
                          "re-signed, where they live")


#: no area set: every residence is taken
ANYWHERE = SiteArea()
