"""The card image: a virtual card's whole non-volatile state (its "EEPROM") in one JSON file.

The image is mutable on purpose (it is the card's memory); every state change of the card OS ends
with :meth:`CardImage.save`, which writes the file atomically (temp file, fsync, rename), so the
card survives the simulator process being killed and can be carried to another reader or test.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from card_layout.auth import KEY_LEN, diversify
from card_layout.files import AUTH_TRIES, CAPACITY, SERIAL_LEN, Fid, KeyRef

logger = logging.getLogger(__name__)

FORMAT = "rp1-sim-image/2"
#: Images of the first card OS (no chip key, no counter, no EF.PHOTO) still load.
OLD_FORMATS = ("rp1-sim-image/1",)


class ImageError(Exception):
    """The image file is missing, unreadable or not a valid card image."""


@dataclass
class ElementaryFile:
    """One transparent EF: ``capacity`` bytes of memory and the current data length."""

    memory: bytearray
    length: int = 0

    @property
    def capacity(self) -> int:
        return len(self.memory)

    @property
    def data(self) -> bytes:
        return bytes(self.memory[: self.length])


@dataclass
class CardImage:
    """Serial, files, the card's own (diversified) keys, try counters, the identity lock, the
    chip's private key (a P-256 scalar; None until GENERATE KEY PAIR) and the record-write
    counter. The file stands for the chip's secure memory: a real chip never exports the
    private key or the symmetric keys (docs/card-os.md, "Copies")."""

    serial: bytes
    files: dict[Fid, ElementaryFile]
    keys: dict[KeyRef, bytes]
    tries: dict[KeyRef, int]
    locked: bool = False
    path: Path | None = field(default=None, compare=False)
    chip_key: bytes | None = None
    counter: int = 0

    @classmethod
    def blank(cls, serial: bytes, master_keys: dict[KeyRef, bytes],
              path: Path | None = None) -> CardImage:
        """A new card: EF.CARD holds the serial, the other EFs are empty, keys diversified."""
        if len(serial) != SERIAL_LEN:
            raise ImageError(f"serial must be {SERIAL_LEN} bytes")
        files = {fid: ElementaryFile(bytearray(CAPACITY[fid])) for fid in Fid}
        files[Fid.CARD] = ElementaryFile(bytearray(serial), SERIAL_LEN)
        keys = {ref: diversify(master_keys[ref], serial) for ref in KeyRef}
        return cls(serial, files, keys, {ref: AUTH_TRIES for ref in KeyRef}, False, path)

    def save(self) -> None:
        """Write the image atomically (no-op for an in-memory image)."""
        if self.path is None:
            return
        write_atomically(self.path, json.dumps(self.to_json(), indent=1))

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "serial": self.serial.hex().upper(),
            "locked": self.locked,
            "files": {f"{fid:04X}": {"length": ef.length, "memory": ef.memory.hex().upper()}
                      for fid, ef in self.files.items()},
            "keys": {f"{ref:02X}": key.hex().upper() for ref, key in self.keys.items()},
            "tries": {f"{ref:02X}": n for ref, n in self.tries.items()},
            "chip_key": self.chip_key.hex().upper() if self.chip_key else None,
            "counter": self.counter,
        }

    @classmethod
    def load(cls, path: Path) -> CardImage:
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
            return cls._from_json(raw, Path(path))
        except OSError as exc:
            raise ImageError(f"cannot read card image {path}: {exc.strerror}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ImageError(f"{path} is not a valid card image ({exc})") from exc

    @classmethod
    def _from_json(cls, raw: dict, path: Path) -> CardImage:
        if raw.get("format") not in (FORMAT, *OLD_FORMATS):
            raise ValueError(f"format is not {FORMAT}")
        files = {}
        for fid in Fid:
            entry = raw["files"].get(f"{fid:04X}")
            if entry is None and fid == Fid.PHOTO:  # an image of the first card OS
                files[fid] = ElementaryFile(bytearray(CAPACITY[fid]))
                continue
            entry = raw["files"][f"{fid:04X}"]
            memory = bytearray.fromhex(entry["memory"])
            length = int(entry["length"])
            if len(memory) != CAPACITY[fid] or not 0 <= length <= len(memory):
                raise ValueError(f"file {fid:04X} has a wrong size")
            files[fid] = ElementaryFile(memory, length)
        keys = {ref: bytes.fromhex(raw["keys"][f"{ref:02X}"]) for ref in KeyRef}
        if any(len(k) != KEY_LEN for k in keys.values()):
            raise ValueError("card key of wrong length")
        tries = {ref: int(raw["tries"][f"{ref:02X}"]) for ref in KeyRef}
        serial = bytes.fromhex(raw["serial"])
        if len(serial) != SERIAL_LEN:
            raise ValueError("serial of wrong length")
        chip_key = bytes.fromhex(raw["chip_key"]) if raw.get("chip_key") else None
        if chip_key is not None and len(chip_key) != 32:
            raise ValueError("chip key of wrong length")
        counter = int(raw.get("counter", 0))
        if not 0 <= counter < 2**32:
            raise ValueError("counter out of range")
        return cls(serial, files, keys, tries, bool(raw["locked"]), path, chip_key, counter)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
