"""Status words the RP1 card OS answers (ISO 7816-4)."""

from __future__ import annotations

from enum import IntEnum


class Sw(IntEnum):
    OK = 0x9000
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982
    AUTH_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    FUNCTION_NOT_SUPPORTED = 0x6A81
    NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


def tries_left(n: int) -> int:
    """63Cx: a wrong authentication, ``n`` tries left."""
    return 0x63C0 | (n & 0x0F)


def wrong_le(exact: int) -> int:
    """6Cxx: wrong Le, ``exact`` is the right one."""
    return 0x6C00 | (exact & 0xFF)


class SwError(Exception):
    """Raised inside a command handler to answer ``sw`` with no data."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


class WarningAnswer(Exception):
    """Raised inside a command handler to answer ``data`` with a warning SW (e.g. 6282)."""

    def __init__(self, data: bytes, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.data = data
        self.sw = sw
