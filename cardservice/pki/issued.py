"""The county's list of issued cards in its trust bundle, so that a verify-only installation can
tell a signed card the county never issued (docs/pki.md, "Issued cards").

A verify-only site has no registry. A record signed with a stolen site key before the key's
withdrawal verifies there, and the thief can backdate the record's ``signed_at`` to pass the
CRL. The county registry does not hold such a card; the bundle says which cards it does hold.

Each card the registry holds (any status) is listed as an 8-byte digest binding its serial to
its holder's citizen number::

    SHA-256("RP1-ISSUED-v1\\x00" || serial (8 bytes) || citizen number (ASCII))[:8]

The bundle carries them sorted and concatenated (``{"scheme": "sha256-64", "count": N,
"digests": base64}``): 8 bytes a card, and a card with a real serial but another holder is
not on the list. The digests name nobody: without the card in hand a serial (64 bits) and a
citizen number would have to be guessed together. A look-up is a binary search over the
sorted digests held as 64-bit integers (8 MB for a million cards).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import itertools
import operator
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass

SCHEME = "sha256-64"
DIGEST_LEN = 8
_TAG = b"RP1-ISSUED-v1\x00"


def issued_digest(serial: bytes, citizen_number: str) -> bytes:
    """The 8-byte digest that lists the card ``serial`` held by ``citizen_number``."""
    return hashlib.sha256(_TAG + bytes(serial) + citizen_number.encode("ascii")).digest()[
        :DIGEST_LEN]


@dataclass(frozen=True)
class IssuedCards:
    """The sorted digests of every card the county registry held when the bundle was built."""

    _values: array

    @classmethod
    def of(cls, cards: Iterable[tuple[str, str]]) -> IssuedCards:
        """From ``(serial hex, citizen number)`` pairs (the registry's rows), taken one at a
        time: a million cards need about 50 MB at the peak (the sort)."""
        values = array("Q", (int.from_bytes(issued_digest(bytes.fromhex(serial), citizen), "big")
                             for serial, citizen in cards))
        return cls(array("Q", (v for v, _ in itertools.groupby(sorted(values)))))

    @classmethod
    def from_json(cls, obj: object) -> IssuedCards:
        """The bundle's ``issued_cards``; ValueError when it is not a sorted list of digests."""
        if not isinstance(obj, dict) or obj.get("scheme") != SCHEME:
            raise ValueError(f"issued_cards is not a {SCHEME} list")
        raw = base64.b64decode(obj["digests"], validate=True)
        count = obj["count"]
        if isinstance(count, bool) or not isinstance(count, int) \
                or len(raw) != count * DIGEST_LEN:
            raise ValueError("issued_cards: the count does not match the digests")
        values = _to_values(raw)
        if not all(map(operator.lt, values, itertools.islice(values, 1, None))):
            raise ValueError("issued_cards: the digests are not sorted and unique")
        return cls(values)

    def to_json(self) -> dict:
        return {"scheme": SCHEME, "count": len(self._values),
                "digests": base64.b64encode(_to_bytes(self._values)).decode()}

    def holds(self, serial: bytes, citizen_number: str) -> bool:
        """Whether the card ``serial`` of ``citizen_number`` is on the list."""
        value = int.from_bytes(issued_digest(serial, citizen_number), "big")
        i = bisect.bisect_left(self._values, value)
        return i < len(self._values) and self._values[i] == value

    def __len__(self) -> int:
        return len(self._values)


def _to_values(raw: bytes) -> array:
    """Big-endian 8-byte digests as unsigned 64-bit integers (same order as the bytes)."""
    values = array("Q")
    values.frombytes(raw)
    if sys.byteorder == "little":
        values.byteswap()
    return values


def _to_bytes(values: array) -> bytes:
    out = array("Q", values)
    if sys.byteorder == "little":
        out.byteswap()
    return out.tobytes()
