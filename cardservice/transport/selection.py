"""Which readers a daemon or a CLI command uses: ``CARDSERVICE_READERS``, a JSON list of reader
names or shell-style patterns (``*``, ``?``, ``[...]``, matched case-sensitively against the
whole PC/SC name); unset or ``[]``: every reader.

A PC that shares its PC/SC service with others (a county centre's production readers and a
clerk's desk reader on one machine, a terminal server) gives each daemon its own readers: the
others are not listed, not watched for cards (no reconcile read of a card inserted there) and
not connected to (``READER_NOT_FOUND``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from cardservice import errors

ENV_READERS = "CARDSERVICE_READERS"


@dataclass(frozen=True)
class ReaderSelection:
    """Reader-name patterns; none: every reader."""

    patterns: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        return not self.patterns or any(fnmatchcase(name, p) for p in self.patterns)

    def filter(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.allows(n)]

    def check(self, name: str) -> None:
        """READER_NOT_FOUND unless ``name`` is one of the selection's readers."""
        if not self.allows(name):
            raise errors.ReaderNotFoundError(
                f"reader {name!r} is not one of this installation's readers "
                f"({ENV_READERS}: {', '.join(self.patterns)})")


EVERY_READER = ReaderSelection()


def check_patterns(patterns: Iterable[object]) -> tuple[str, ...]:
    """The patterns as strings; ValueError for an empty or non-string entry."""
    out = []
    for p in patterns:
        if not isinstance(p, str) or not p.strip():
            raise ValueError(f"{ENV_READERS}: a reader pattern must be a non-empty string, "
                             f"not {p!r}")
        out.append(p)
    return tuple(out)


def patterns_of(raw: str) -> tuple[str, ...]:
    """The patterns of ``CARDSERVICE_READERS``'s value; ValueError saying what is wrong."""
    if not raw.strip():
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list):
        # a ValueError: pydantic reports it as the setting's error
        raise ValueError(  # noqa: TRY004
            f"{ENV_READERS} must be a JSON list of reader names or patterns, "
            f'e.g. \'["ACS ACR39U*"]\', not {raw!r}')
    return check_patterns(value)


def parse_readers(raw: str | None) -> ReaderSelection:
    """``CARDSERVICE_READERS``'s value as a selection; ValidationError (bad_value) otherwise."""
    try:
        return ReaderSelection(patterns_of(raw or ""))
    except ValueError as exc:
        raise errors.ValidationError("readers", str(exc), "bad_value") from None


def selection_from_env() -> ReaderSelection:
    """The CLI's selection (the daemon's comes from its settings)."""
    return parse_readers(os.environ.get(ENV_READERS))
