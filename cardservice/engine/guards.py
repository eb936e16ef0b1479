"""Guards around a write's card I/O: the card is the one named, one issue at a time across
processes, and a read that may fail after an interrupted write."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from cardservice import errors
from cardservice.card.protocol import CardFiles, Rp1Card


@contextlib.contextmanager
def issue_file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive advisory lock on ``path``: serialises issues across processes (the CLI and
    the daemon on one data directory), not only across this process's readers."""
    if path is None:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_or_none(card: Rp1Card) -> CardFiles | None:
    """The card's files, or None when it cannot be read (gone, mute)."""
    try:
        return card.read_all()
    except errors.CardServiceError:
        return None


def check_expected(files: CardFiles, expected: bytes | None) -> None:
    """Refuse a write to another card than the one the caller named (``expected``)."""
    if expected is not None and files.serial != expected:
        raise errors.CardChangedError(
            f"the card in the reader is {files.serial.hex()}, not {expected.hex()}; nothing written"
        )
