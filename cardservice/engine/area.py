"""The area an acceptance point serves (``CARDSERVICE_SITE_AREA``): a holder applies where they
live, and a move is re-signed at the new residence's acceptance point (county.md). The area is
a list of address prefixes (for example ``示范县城关镇,示范县新城街道``); a residence that starts
with none of them is refused with rule ``residence_outside_site_area`` before anything is
recorded or written. Unset (the default), every residence is taken, as before; the county
centre, which produces cards for every site, leaves it unset."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cardservice.errors import PolicyError

#: separators between prefixes: ASCII and full-width commas and semicolons
_SEPARATORS = re.compile(r"[,;，；、]")
_SPACE = re.compile(r"\s+")


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


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
        return not self.prefixes or _plain(residence).startswith(self.prefixes)

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
