"""The walk of the SQLite audit chain, or of one id range of it (the worker of a parallel walk).

Each entry's check needs only the entry and its predecessor's *stored* hash: its ``prev_hash``
must equal that hash and its ``hash`` must be ``SHA-256(prev_hash || canonical)``. So the walk
of range ``[a, b]`` can start from the stored hash of entry ``a - 1`` (the walk of the range
before checks that hash); audit_parallel runs such walks side by side.

Run as a script (``python -I -S audit_chain.py URI SQL FIRST LAST|-``) it walks one range and
prints its verdict as one line; it imports only ``hashlib`` and ``sqlite3`` so that a child
process starts in a few milliseconds. A verdict is the tuple
``(ok, entries, first_broken_id, reason, last_good_hash)``.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys

GENESIS_HASH = bytes(32)
#: id bounds that stand for "no bound" (SQLite integers are 64-bit)
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1


def walk(rows, prev=GENESIS_HASH, expected_id=1):
    """The hot loop: one SHA-256 per row of ``(id, prev_hash, hash, canonical)`` in id order,
    starting at entry ``expected_id`` whose predecessor's hash is ``prev``. ``entries`` in the
    verdict counts every entry up to the last good one (ids are 1, 2, ...)."""
    sha256 = hashlib.sha256
    for row_id, stored_prev, stored_hash, canonical in rows:
        if row_id != expected_id:
            reason = (f"entry {expected_id} is missing (next present is {row_id})"
                      if row_id > expected_id else f"unexpected id {row_id}")  # fmt: skip
            return False, expected_id - 1, expected_id, reason, prev
        if stored_prev != prev:
            return False, expected_id - 1, expected_id, "prev_hash does not match", prev
        if sha256(prev + canonical).digest() != stored_hash:
            return False, expected_id - 1, expected_id, "hash does not match content", prev
        prev, expected_id = stored_hash, expected_id + 1
    return True, expected_id - 1, None, None, prev


def part_sql(canonical_sql: str) -> str:
    """The rows of one id range (two parameters: the lowest and the highest id)."""
    return (f"SELECT id, prev_hash, hash, {canonical_sql} FROM audit "
            "WHERE id >= ? AND id <= ? ORDER BY id")  # fmt: skip


def walk_part(uri: str, sql: str, first: int, last: int | None) -> tuple:
    """Walk entries ``first..last`` (``last=None``: to the end of the log; ``first=1`` also
    takes any id below 1, as one walk from the start does) on a new read-only connection, in
    one read transaction. A range that ends early counts as the end of the log only when no
    entry follows it; otherwise its first missing id is the break."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")
        if first == 1:
            prev = GENESIS_HASH
        else:
            row = conn.execute("SELECT hash FROM audit WHERE id = ?", (first - 1,)).fetchone()
            if row is None:  # the walk of the range before reports this gap first
                return False, first - 2, first - 1, f"entry {first - 1} is missing", b""
            prev = row[0]
        low = _LOWEST if first == 1 else first
        high = _HIGHEST if last is None else last
        verdict = walk(conn.execute(sql, (low, high)), prev, first)
        if verdict[0] and last is not None and verdict[1] < last:
            return _ended_early(conn, verdict)
        return verdict
    finally:
        conn.close()


def _ended_early(conn: sqlite3.Connection, verdict: tuple) -> tuple:
    """A range walked without fault whose last ids are absent: a gap if any entry follows."""
    count, prev = verdict[1], verdict[4]
    row = conn.execute("SELECT min(id) FROM audit WHERE id > ?", (count,)).fetchone()
    if row[0] is None:
        return verdict
    return False, count, count + 1, f"entry {count + 1} is missing (next present is {row[0]})", prev


def encode(verdict: tuple) -> str:
    """One line: ``ok entries first_broken_id|- last_hash_hex reason...``."""
    ok, count, broken, reason, last_hash = verdict
    return f"{int(ok)} {count} {'-' if broken is None else broken} {last_hash.hex()} {reason or ''}"


def decode(line: str) -> tuple:
    ok, count, broken, last_hash, reason = line.rstrip("\n").split(" ", 4)
    if ok not in ("0", "1"):
        raise ValueError(f"not a verdict: {line[:80]!r}")
    return (ok == "1", int(count), None if broken == "-" else int(broken), reason or None,
            bytes.fromhex(last_hash))  # fmt: skip


def _main(argv: list[str]) -> int:
    uri, sql, first, last = argv
    verdict = walk_part(uri, sql, int(first), None if last == "-" else int(last))
    sys.stdout.write(encode(verdict) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
