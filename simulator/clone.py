"""What a card copier gets: every byte a reader can read from a card (serial, files, lock state,
counter), written into a new chip. The chip's private key and the symmetric keys cannot be read
from a card (a real chip never exports them), so the copy has its own; its INTERNAL AUTHENTICATE
answers with a key the signed identity does not name (docs/card-os.md, "Copies")."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from card_layout.files import KeyRef

from .chip_commands import new_scalar
from .image import CardImage, ElementaryFile


def readable_copy(original: CardImage, path: Path | None = None) -> CardImage:
    """A new card holding everything ``original`` shows to a reader, and nothing else."""
    files = {fid: ElementaryFile(bytearray(ef.memory), ef.length)
             for fid, ef in original.files.items()}
    keys = {ref: os.urandom(len(key)) for ref, key in original.keys.items()}
    chip_key = new_scalar(os.urandom(40)) if original.chip_key is not None else None
    return replace(original, files=files, keys=keys, tries=dict.fromkeys(KeyRef, 8),
                   path=path, chip_key=chip_key)
