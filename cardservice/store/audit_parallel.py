"""A long SQLite audit chain walked in K contiguous id ranges at once (one per CPU, at most 4).

Range 1 is walked in the calling process, ranges 2..K each by a child process that runs
:mod:`cardservice.store.audit_chain` as a script on its own read-only connection. The children
are started with fork+exec (``subprocess``), never a bare fork, so this is safe inside the
multi-threaded daemon; they import nothing of the parent (no ``multiprocessing`` re-import of
the main module, no pickling): a child is up in about as long as a bare interpreter.

The verdict is the first one in id order that decides the walk (a failure, or a range that
ended short with nothing after it, or the last range): the same entry and reason as one walk
from entry 1, because each range starts from the stored hash its predecessor range checks.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from cardservice.store import audit_chain

#: a log of at most this many entries is walked in one pass (a child costs a few 10 ms)
PARALLEL_MIN = 200_000
#: at most this many ranges (and processes), however many CPUs there are
MAX_PARTS = 4


class WalkError(RuntimeError):
    """A range's walk failed to run or to answer (the caller walks in one pass instead)."""


def parts_for(max_id: int) -> int:
    """How many ranges to walk a log of ``max_id`` entries in (1: one pass)."""
    if max_id <= PARALLEL_MIN or not sys.executable:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_PARTS))


def split(max_id: int, k: int) -> list[tuple[int, int | None]]:
    """``k`` contiguous ranges covering ids 1..max_id, the last one open-ended."""
    bounds = [1 + max_id * i // k for i in range(k + 1)]
    return [(bounds[i], bounds[i + 1] - 1 if i < k - 1 else None) for i in range(k)]


def decides(verdict: tuple, last: int | None) -> bool:
    """Whether a range's verdict is the whole walk's: a failure, the open-ended last range, or
    a range that stopped short of its last id (nothing follows: the end of the log)."""
    return not verdict[0] or last is None or verdict[1] < last


def combine(parts: list[tuple], lasts: list[int | None]) -> tuple:
    """The verdict of one walk over all ranges from the verdicts of each, in id order."""
    for verdict, last in zip(parts, lasts, strict=True):
        if decides(verdict, last):
            return verdict
    raise ValueError("no range decides the walk (the last range must be open-ended)")


def walk_parallel(path: str, canonical_sql: str, max_id: int, k: int) -> tuple:
    """Walk the log in the SQLite file ``path`` (ids 1..max_id, and any after) in ``k`` ranges.
    Returns the verdict tuple of :func:`audit_chain.walk` for the whole chain."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    sql = audit_chain.part_sql(canonical_sql)
    ranges = split(max_id, k)
    lasts = [last for _, last in ranges]
    children: list[subprocess.Popen] = []
    try:
        children = [_start(uri, sql, first, last) for first, last in ranges[1:]]
        try:
            parts = [audit_chain.walk_part(uri, sql, *ranges[0])]
        except sqlite3.Error as exc:
            raise WalkError(f"audit walk failed: {exc}") from exc
        for child, last in zip(children, lasts):  # last: of the range before the child's
            if decides(parts[-1], last):  # later ranges do not matter: stop their walks
                break
            parts.append(_answer(child))
    finally:
        for child in children:
            if child.returncode is None:  # not answered yet (or never asked): stop, reap
                child.kill()
                child.communicate()
    return combine(parts, lasts[: len(parts)])


def _start(uri: str, sql: str, first: int, last: int | None) -> subprocess.Popen:
    """A child walking one range: ``-I -S``, the standard library only (no site, no env)."""
    args = [uri, sql, str(first), "-" if last is None else str(last)]
    return subprocess.Popen([sys.executable, "-I", "-S", audit_chain.__file__, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _answer(child: subprocess.Popen) -> tuple:
    out, err = child.communicate()
    try:
        if child.returncode != 0:
            raise ValueError(f"exit status {child.returncode}")
        return audit_chain.decode(out)
    except (ValueError, TypeError) as exc:
        raise WalkError(f"audit walk child failed ({exc}): {err.strip()[-500:]}") from exc
