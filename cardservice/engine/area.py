"""The area an acceptance point serves (``CARDSERVICE_SITE_AREA``): a holder applies where they
live, and a move is re-signed at the new residence's acceptance point (county.md). The area is
a list of address prefixes (for example ``示范县城关镇,示范县新城街道``); a residence that starts
with none of them is refused with rule ``residence_outside_site_area`` before anything is
recorded or written. An address is written with or without the divisions above the county in
front (a province-level name from the national list, then a prefecture-level one ending 市,
自治州, 地区 or 盟, taken as such only when a county-level name follows), so either side may
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


#: the province-level divisions (GB/T 2260); the four municipalities (北京市…) are matched as
#: prefecture-level cities, which is where an address puts them
_PROVINCES = (
    "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省",
    "江西省", "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省",
    "云南省", "陕西省", "甘肃省", "青海省", "台湾省", "内蒙古自治区", "广西壮族自治区",
    "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区", "香港特别行政区", "澳门特别行政区",
)
#: characters of the levels below a county (towns, streets, roads, villages, numbers), which
#: no prefecture- or county-level name holds
_LOWER = "镇乡街道路村巷弄号组社"
_CJK = "[\u3400-\u9fff]"
#: a name holds no ending of its own level ("…自治州…市" is two divisions, not one)
_PREFECTURE = re.compile(f"(?:(?![{_LOWER}县区旗]|自治州|地区|盟|市){_CJK}){{1,12}}"
                         "(?:自治州|地区|盟|市)")
_COUNTY = re.compile(f"(?:(?![{_LOWER}]|自治县|自治旗|林区|特区|县|区|市|旗){_CJK}){{1,12}}"
                     "(?:自治县|自治旗|林区|特区|县|区|市|旗)")
#: what a county-level name is not: a housing estate, a park, a campus; nor followed by a
#: road's ending (解放区路 is a road)
_NOT_COUNTY = ("小区", "园区", "校区", "景区")
_ROAD = frozenset("路街巷道弄")
#: the placeholder level some addresses write between a municipality and its district
_DISTRICTS_OF = "市辖区"

_Reading = tuple[str | None, str | None, str]  # (province, prefecture, the rest)


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


def _county_starts(text: str) -> bool:
    found = _COUNTY.match(text)
    return found is not None and not found.group().endswith(_NOT_COUNTY) \
        and text[found.end():found.end() + 1] not in _ROAD


def _readings(text: str) -> list[_Reading]:
    """The ways ``text`` (an address or a prefix) may be read: its province-level name (when
    it starts with one) apart, and, where a county-level name (or nothing) follows, a
    prefecture-level name apart too; read both ways when the name could be a county-level
    city's (博乐市, 昆山市) as well."""
    province = next((p for p in _PROVINCES if text.startswith(p)), None)
    start = len(province) if province else 0
    readings: list[_Reading] = [(province, None, text[start:])]
    prefecture = _PREFECTURE.match(text, start)
    if prefecture is not None:
        rest = text[prefecture.end():].removeprefix(_DISTRICTS_OF)
        if not rest or _county_starts(rest):
            readings.append((province, prefecture.group(), rest))
    return readings


def _agree(have: _Reading, want: _Reading) -> bool:
    """The residence read as ``have`` is under the prefix read as ``want``: the divisions
    written on both sides are the same and the rest of the residence starts with the rest of
    the prefix. A prefix of divisions only needs them on the residence (its province may be
    left out when its prefecture is there)."""
    if not want[2]:
        if want[1] is not None:
            return have[1] == want[1] and have[0] in (None, want[0])
        return have[0] == want[0]
    return all(a is None or b is None or a == b for a, b in zip(have[:2], want[:2])) \
        and have[2].startswith(want[2])


def _in(residence: str, prefix: str) -> bool:
    wanted = _readings(prefix)
    return any(_agree(have, want) for have in _readings(residence) for want in wanted)


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
