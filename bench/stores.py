"""Audit-log verify over 100,000 and 1,000,000 entries, and registry look-ups with 1,000,000
cards. The fixture databases are built once into a cache folder and reused."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from card_layout.citizen import check_digit
from cardservice.store import db
from cardservice.store.audit import GENESIS_HASH, AuditLog, canonical_bytes, entry_hash
from cardservice.store.audit_schema import COMPONENT as AUDIT_SCHEMA
from cardservice.store.registry import CardRow, CardStatus, Registry
from cardservice.store.registry_schema import COMPONENT as REGISTRY_SCHEMA

from .report import Figure, Section, Verdict
from .stats import time_calls

logger = logging.getLogger(__name__)

AUDIT_SIZES = (100_000, 1_000_000)
REGISTRY_SIZE = 1_000_000
MAX_VERIFY_1M_S = 5.0
MAX_LOOKUP_MS = 1.0
_INSERT = ("INSERT INTO audit (id, ts, kind, operation, card_serial, reader, actor, intent_id, "
           "outcome, sequence, error_code, detail, prev_hash, hash) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def citizen(i: int) -> str:
    """Citizen number ``i``: a real birth date (one per 1,000 numbers) and a valid check digit."""
    born = date(1950, 1, 1) + timedelta(days=i // 1000)
    body = f"110105{born:%Y%m%d}{i % 1000:03d}"
    return body + check_digit(body)


def serial(i: int) -> str:
    return f"5250{i:012x}"


def _audit_fields(i: int, start: datetime) -> tuple:
    """Entry ``i`` (1-based): intents and their outcomes alternate, as card writes leave them."""
    ts = db.to_db_time(start + timedelta(seconds=i))
    card = serial(i // 2)
    if i % 2:
        detail = json.dumps({"sequence": 2, "slot": "RES_B", "slot_len": 214},
                            ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return (i, ts, "intent", "resign", card, "Virtual PCD 00 00", "desk-1", None, None,
                None, None, detail)
    return (i, ts, "outcome", "resign", card, "Virtual PCD 00 00", "desk-1", i - 1, "success",
            2, None, "{}")


def _audit_rows(n: int, start: datetime) -> Iterator[tuple]:
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        fields = _audit_fields(i, start)
        digest = entry_hash(prev, canonical_bytes(fields))
        yield (*fields, prev, digest)
        prev = digest


def build_audit(path: Path, n: int, start: datetime) -> None:
    """A hash-chained log of ``n`` entries (schema by AuditLog, rows in one bulk transaction)."""
    AuditLog(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.executemany(_INSERT, _audit_rows(n, start))
        last_hash = conn.execute("SELECT hash FROM audit WHERE id = ?", (n,)).fetchone()[0]
        conn.execute("UPDATE audit_head SET last_id = ?, last_hash = ? WHERE one = 1",
                     (n, last_hash))
        conn.execute("COMMIT")
    finally:
        conn.close()


def _registry_rows(n: int, start: datetime) -> Iterator[CardRow]:
    for i in range(n):
        yield CardRow(serial(i), citizen(i), CardStatus.ACTIVE, 1, "示范县公安局", "temporary",
                      None, date(2027, 5, 28), None, None, start, start)


def build_registry(path: Path, n: int, start: datetime) -> None:
    registry = Registry(path)
    try:
        registry.import_rows(_registry_rows(n, start))
    finally:
        registry.close()


def cached(cache: Path, name: str, build) -> Path:
    """``cache/name``, built by ``build(tmp_path)`` on first use (renamed when complete)."""
    path = cache / name
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f"{name}.partial"
    for leftover in cache.glob(f"{name}.partial*"):
        leftover.unlink()
    started = time.perf_counter()
    build(tmp)
    tmp.rename(path)
    logger.info("built %s in %.1f s", path, time.perf_counter() - started)
    return path


def verify_audit(path: Path) -> tuple[float, int]:
    """Seconds for one ``AuditLog.verify`` and the entries it checked (fails on a broken log)."""
    log = AuditLog(path)
    try:
        started = time.perf_counter()
        result = log.verify()
        elapsed = time.perf_counter() - started
    finally:
        log.close()
    if not result.ok:
        raise RuntimeError(f"fixture audit log does not verify: {result.reason}")
    return elapsed, result.entries


def lookups(path: Path, n: int, size: int, rng: random.Random) -> list[Figure]:
    registry = Registry(path)
    picks = [rng.randrange(size) for _ in range(n)]
    it_get, it_find = iter(picks), iter(picks)

    def get() -> None:
        if registry.get(serial(next(it_get))) is None:
            raise RuntimeError("a registered card was not found")

    def find() -> None:
        if len(registry.find_by_citizen(citizen(next(it_find)))) != 1:
            raise RuntimeError("a citizen's card was not found")

    try:
        lat_get = time_calls(get, n - 10, warmup=10)
        lat_find = time_calls(find, n - 10, warmup=10)
    finally:
        registry.close()
    group = f"registry {size:,}"
    return [Figure(group, f"get(serial) p50 (n={lat_get.n})", lat_get.p50_ms, "ms"),
            Figure(group, "get(serial) p99", lat_get.p99_ms, "ms"),
            Figure(group, f"find_by_citizen p50 (n={lat_find.n})", lat_find.p50_ms, "ms"),
            Figure(group, "find_by_citizen p99", lat_find.p99_ms, "ms")]


def run(cache: Path, start: datetime, n_lookups: int, rng: random.Random) -> Section:
    figures, verdicts = [], []
    for size in AUDIT_SIZES:
        # the schema version is in the name: a newer schema builds its own fixture
        path = cached(cache, f"audit-v{AUDIT_SCHEMA.latest}-{size}.db",
                      lambda p, k=size: build_audit(p, k, start))
        seconds, entries = verify_audit(path)
        figures.append(Figure("audit verify", f"{entries:,} entries", seconds, "s"))
    verdicts.append(Verdict("audit verify of 1,000,000 entries", round(seconds, 2), "<",
                            MAX_VERIFY_1M_S, "s"))
    reg = cached(cache, f"registry-v{REGISTRY_SCHEMA.latest}-{REGISTRY_SIZE}.db",
                 lambda p: build_registry(p, REGISTRY_SIZE, start))
    lookup = lookups(reg, n_lookups, REGISTRY_SIZE, rng)
    figures += lookup
    worst = max(f.value for f in lookup if "p99" in f.name)
    verdicts.append(Verdict("registry look-up p99 at 1,000,000 cards", round(worst, 3), "<",
                            MAX_LOOKUP_MS, "ms"))
    return Section("stores", tuple(figures), tuple(verdicts))
