"""Human-readable dump of a card image (`cardsim show`)."""

from __future__ import annotations

from card_layout.files import Fid

from .image import CardImage


def hexdump(data: bytes, width: int = 16) -> list[str]:
    lines = []
    for off in range(0, len(data), width):
        chunk = data[off: off + width]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"  {off:04X}  {chunk.hex(' ').upper():<{width * 3}} {text}")
    return lines


def describe(image: CardImage) -> str:
    lines = [f"serial: {image.serial.hex().upper()}",
             f"identity: {'locked' if image.locked else 'open (not personalized)'}"]
    lines += [f"key {ref.name} ({ref:02X}): {n} tries left" for ref, n in image.tries.items()]
    lines += [f"chip key: {'present' if image.chip_key else 'none'}",
              f"record-write counter: {image.counter}"]
    for fid in Fid:
        ef = image.files[fid]
        lines.append(f"EF.{fid.name} {fid:04X}: {ef.length}/{ef.capacity} bytes")
        lines += hexdump(ef.data)
    return "\n".join(lines)
