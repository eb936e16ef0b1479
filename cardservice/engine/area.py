"""The area an acceptance point serves (``CARDSERVICE_SITE_AREA``): a holder applies where they
live, and a move is re-signed at the new residence's acceptance point (county.md). The area is
a list of address prefixes (for example ``示范县城关镇,示范县新城街道``); a residence that starts
with none of them is refused with rule ``residence_outside_site_area`` before anything is
recorded or written. An address is written with or without the divisions above the county in
front (a province-level name ending 省, 自治区 or 特别行政区, then a prefecture-level one ending
市, 自治州, 地区 or 盟, taken as such only when a county-level name follows), so either side may
carry them, or each a different one: ``新疆维吾尔自治区博尔塔拉蒙古自治州博乐市青得里街道…`` is
in the area ``博乐市``, ``博乐市青得里街道…`` in ``博尔塔拉蒙古自治州博乐市``, ``江苏省昆山市玉山镇…``
in ``苏州市昆山市玉山镇``. A division written on both sides must be the same, so ``上海市朝阳区…``
is not in ``北京市朝阳区``; an area that starts at the county level (``朝阳区``) takes that name
under any city, so write the city where the county-level name is not unique. Unset (the default), every residence is taken, as before; the county
centre, which produces cards for every site, leaves it unset."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cardservice.errors import PolicyError

#: separators between prefixes: ASCII and full-width commas and semicolons
_SEPARATORS = re.compile(r"[,;，；、]")
_SPACE = re.compile(r"\s+")


_NAME = "[\u3400-\u9fff]"
#: a division's name holds no ending of its own level ("…自治州…市" is two divisions, not one)
_PROVINCE = re.compile(f"(?:(?!省|自治区|特别行政区){_NAME}){{1,12}}(?:省|自治区|特别行政区)")
_PREFECTURE = re.compile(f"(?:(?!自治州|地区|盟|市){_NAME}){{1,12}}(?:自治州|地区|盟|市)")
_COUNTY = re.compile(f"(?:(?!自治县|自治旗|林区|特区|县|区|市|旗){_NAME}){{1,12}}"
                     "(?:自治县|自治旗|林区|特区|县|区|市|旗)")
#: the placeholder level some addresses write between a municipality and its district
_DISTRICTS_OF = "市辖区"


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


def _split(text: str) -> tuple[str | None, str | None, str]:
    """(province-level name, prefecture-level name, the rest) of an address or prefix. A
    prefecture-level name is taken only when a county-level one follows it (or nothing does),
    so a county-level city (博乐市, 巩义市) stays with the rest."""
    found = _PROVINCE.match(text)
    province, start = (found.group(), found.end()) if found else (None, 0)
    prefecture = _PREFECTURE.match(text, start)
    if prefecture is not None:
        rest = text[prefecture.end():]
        rest = rest.removeprefix(_DISTRICTS_OF)
        if not rest or _COUNTY.match(rest):
            return province, prefecture.group(), rest
    return province, None, text[start:]


def _in(residence: str, prefix: str) -> bool:
    """``residence`` is under ``prefix`` once the divisions above the county are set apart:
    those written on both sides agree, and the rest of the residence starts with the rest of
    the prefix. A prefix of divisions only needs them written on the residence, or its last
    one is a county-level city (博乐市) that starts the residence's rest."""
    have, want = _split(residence), _split(prefix)
    if not want[2]:
        named = (want[0] is None or have[0] == want[0]) \
            and (want[1] is None or have[1] == want[1])
        return named or want[1] is not None and _under(have, (want[0], None, want[1]))
    return _under(have, want)


def _under(have: tuple[str | None, str | None, str],
           want: tuple[str | None, str | None, str]) -> bool:
    return all(a is None or b is None or a == b for a, b in zip(have[:2], want[:2])) \
        and have[2].startswith(want[2])


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
