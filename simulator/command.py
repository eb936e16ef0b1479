"""Parsing of command APDUs (ISO 7816-3 cases 1-4, short and extended length)."""

from __future__ import annotations

from dataclasses import dataclass


class WrongLength(Exception):
    """The APDU's Lc/Le fields do not describe its length (answered with 6700)."""


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None  # None: no Le field; else 1..65536 (Le 00 / 0000 = the maximum)
    extended: bool = False

    @property
    def le_is_max(self) -> bool:
        """True for Le = 00 (short) or 0000 (extended): "as much as available"."""
        return self.ne == (65536 if self.extended else 256)


def parse_command(apdu: bytes) -> Command:
    """Decode ``apdu``; raise :class:`WrongLength` when its length fields are inconsistent."""
    if len(apdu) < 4:
        raise WrongLength("APDU shorter than its header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2)
    if len(body) == 1:
        return Command(cla, ins, p1, p2, ne=body[0] or 256)
    if body[0] != 0:
        return _parse_short(cla, ins, p1, p2, body)
    return _parse_extended(cla, ins, p1, p2, body)


def _parse_short(cla: int, ins: int, p1: int, p2: int, body: bytes) -> Command:
    lc = body[0]
    if len(body) == 1 + lc:
        return Command(cla, ins, p1, p2, body[1:])
    if len(body) == 2 + lc:
        return Command(cla, ins, p1, p2, body[1:-1], ne=body[-1] or 256)
    raise WrongLength("short Lc does not match the APDU length")


def _parse_extended(cla: int, ins: int, p1: int, p2: int, body: bytes) -> Command:
    if len(body) == 3:
        return Command(cla, ins, p1, p2, ne=int.from_bytes(body[1:3], "big") or 65536,
                       extended=True)
    if len(body) < 3:
        raise WrongLength("truncated extended length")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise WrongLength("extended Lc of zero")
    if len(body) == 3 + lc:
        return Command(cla, ins, p1, p2, body[3:], extended=True)
    if len(body) == 5 + lc:
        ne = int.from_bytes(body[-2:], "big") or 65536
        return Command(cla, ins, p1, p2, body[3:-2], ne=ne, extended=True)
    raise WrongLength("extended Lc does not match the APDU length")
