"""A small, valid baseline JPEG of one flat grey level, for tests, demos and the simulator.

Test photos must be real JPEGs (any decoder opens them) without an image library: every 8x8
block of a flat image has only a DC coefficient, so the entropy-coded data is tiny. Quantisation
table all 1s; a DC Huffman table with the 12 categories at 4 bits each; an AC table whose only
code is end-of-block (1 bit). ``comment`` adds a COM segment (makes otherwise equal photos
differ, or pads a photo to a given size).
"""

from __future__ import annotations

_DC_COUNTS = bytes([0, 0, 0, 12] + [0] * 12)
_DC_SYMBOLS = bytes(range(12))
_AC_COUNTS = bytes([1] + [0] * 15)
_AC_SYMBOLS = b"\x00"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


class _Bits:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, value: int, count: int) -> None:
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]

    def data(self) -> bytes:
        bits = self.bits + [1] * (-len(self.bits) % 8)
        out = bytearray()
        for i in range(0, len(bits), 8):
            byte = int("".join(map(str, bits[i:i + 8])), 2)
            out.append(byte)
            if byte == 0xFF:
                out.append(0x00)  # byte stuffing
        return bytes(out)


def _scan(blocks: int, level: int) -> bytes:
    bits = _Bits()
    diff = 8 * (level - 128)  # DC of a flat block with quantiser 1
    for i in range(blocks):
        value = diff if i == 0 else 0
        category = abs(value).bit_length()
        bits.put(category, 4)  # DC code: the category itself, 4 bits
        if category:
            bits.put(value if value > 0 else value + (1 << category) - 1, category)
        bits.put(0, 1)  # end of block
    return bits.data()


def flat_jpeg(width: int = 102, height: int = 126, level: int = 128,
              comment: bytes = b"") -> bytes:
    """A ``width`` x ``height`` greyscale JPEG, every pixel ``level`` (0..255)."""
    if not 0 <= level <= 255 or not 0 < width < 65536 or not 0 < height < 65536:
        raise ValueError("level 0..255 and sizes 1..65535")
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    parts = [b"\xff\xd8",
             _segment(0xDB, b"\x00" + bytes([1] * 64)),
             _segment(0xC0, b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big")
                      + b"\x01\x01\x11\x00"),
             _segment(0xC4, b"\x00" + _DC_COUNTS + _DC_SYMBOLS),
             _segment(0xC4, b"\x10" + _AC_COUNTS + _AC_SYMBOLS)]
    if comment:
        parts.append(_segment(0xFE, comment))
    parts += [_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"), _scan(blocks, level), b"\xff\xd9"]
    return b"".join(parts)
