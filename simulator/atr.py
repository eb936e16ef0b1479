"""The RP1 answer-to-reset: T=1, historical bytes in compact-TLV (category 0x80)."""

from __future__ import annotations

from functools import reduce

#: Card capabilities (compact tag 7, 3 bytes): selection by full DF name, by file id, implicit
#: application selection and short EF ids (0x9C); 1-byte data units (0x01); extended Lc/Le
#: supported, no command chaining, no logical channels (0x40).
CARD_CAPABILITIES = bytes([0x73, 0x9C, 0x01, 0x40])
#: Card issuer's data (compact tag 5, 3 bytes): ASCII "RP1".
ISSUER_DATA = bytes([0x53]) + b"RP1"
HISTORICAL_BYTES = bytes([0x80]) + CARD_CAPABILITIES + ISSUER_DATA

TS_DIRECT = 0x3B
TD1_T1 = 0x01  # protocol T=1, no further interface bytes


def build_atr(historical: bytes = HISTORICAL_BYTES) -> bytes:
    """TS, T0 (TD1 present + K), TD1 (T=1), historical bytes, TCK."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes([0x80 | len(historical), TD1_T1]) + historical
    tck = reduce(lambda a, b: a ^ b, body, 0)
    return bytes([TS_DIRECT]) + body + bytes([tck])


ATR = build_atr()
