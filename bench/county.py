"""The county registry on PostgreSQL (issue 9 targets): ``python -m bench.county [--cards N]``.

Starts its own throw-away PostgreSQL server (durable defaults: fsync and synchronous_commit on),
Unix socket only, and measures:

* ``get`` and ``find_by_citizen`` p50/p99 with 1,000,000 cards (target: p99 under 1 ms);
* 16 simulated sites (16 threads, each with its own pool and site id) doing reserve + confirm
  transactions for 10 s (target: at least 500 per second);
* audit verify of 1,000,000 entries in 16 site chains, in full (target: under 5 s), and the
  verify from the checkpoints that one records, after 10 new entries per chain.

The fixture rows are loaded with COPY; the load time is reported too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

from bench.pgcluster import PgCluster
from bench.stats import percentile
from bench.stores import citizen, serial
from cardservice.store import db as dbtime
from cardservice.store import migrations
from cardservice.store.audit import GENESIS_HASH
from cardservice.store.audit_pg import PgAuditLog, canonical_pg
from cardservice.store.database import PostgresDatabase
from cardservice.store.registry import Registry, Terms
from cardservice.store.stores import load_components

SITES = 16
TERMS = Terms("示范县公安局", "temporary", None, date(2027, 5, 28))


def _upgrade(db: PostgresDatabase) -> None:
    for _, component in sorted(load_components().items()):
        migrations.upgrade(db, component)


def load_cards(db: PostgresDatabase, n: int, now: datetime) -> float:
    started = time.perf_counter()
    ts = dbtime.to_db_time(now)
    with db.transaction() as tx, tx.conn.cursor().copy(
            "COPY cards (serial, citizen_number, status, last_sequence, issuing_authority, "
            "permit_type, expires_on, created_at, updated_at, issued_site, last_write_site) "
            "FROM STDIN") as copy:
        for i in range(n):
            site = f"site-{i % SITES:02d}"
            copy.write_row((serial(i), citizen(i), "active", 1, TERMS.issuing_authority,
                            "temporary", "2027-05-28", ts, ts, site, site))
    with db.connection() as tx:
        tx.execute("ANALYZE cards")
    return time.perf_counter() - started


def lookups(db: PostgresDatabase, size: int, n: int, rng: random.Random) -> dict[str, list]:
    registry = Registry(db)
    picks = [rng.randrange(size) for _ in range(n)]
    times: dict[str, list] = {"get": [], "find_by_citizen": []}
    for i in picks[:200]:  # warm the pool and the plan cache
        registry.get(serial(i))
        registry.find_by_citizen(citizen(i))
    for i in picks:
        started = time.perf_counter()
        row = registry.get(serial(i))
        times["get"].append(time.perf_counter() - started)
        started = time.perf_counter()
        found = registry.find_by_citizen(citizen(i))
        times["find_by_citizen"].append(time.perf_counter() - started)
        if row is None or len(found) != 1:
            raise RuntimeError("a registered card was not found")
    return times


def sites_throughput(url: str, seconds: float, base: int) -> tuple[int, float]:
    """16 sites, each its own pool, reserve + confirm of fresh cards until time is up."""
    done = [0] * SITES
    stop = threading.Event()
    start_gate = threading.Barrier(SITES + 1)

    def site(k: int) -> None:
        db = PostgresDatabase(url, site_id=f"site-{k:02d}", max_size=1)
        registry = Registry(db)
        i = 0
        start_gate.wait()
        while not stop.is_set():
            n = base + k * 10_000_000 + i
            now = datetime.now(UTC)
            registry.reserve(serial=serial(n), citizen_number=citizen(n), sequence=1,
                             terms=TERMS, sponsor_citizen_number=None, now=now)
            registry.confirm(serial=serial(n), citizen_number=citizen(n), sequence=1,
                             terms=TERMS, sponsor_citizen_number=None, now=now)
            i += 1
            done[k] = i
        db.close()

    threads = [threading.Thread(target=site, args=(k,)) for k in range(SITES)]
    for t in threads:
        t.start()
    start_gate.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(done), time.perf_counter() - started


def load_audit(db: PostgresDatabase, n: int, now: datetime) -> float:
    """``n`` entries in 16 site chains (intent/outcome pairs), hashed as PgAuditLog does."""
    started = time.perf_counter()
    per_site = n // SITES
    detail = json.dumps({"sequence": 2, "slot": "RES_B", "slot_len": 214},
                        ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    with db.transaction() as tx, tx.conn.cursor().copy(
            "COPY audit (site_id, site_seq, ts, kind, operation, card_serial, reader, actor, "
            "intent_id, outcome, sequence, error_code, detail, prev_hash, hash) FROM STDIN"
    ) as copy:
        next_id = 1
        for k in range(SITES):
            site, prev = f"site-{k:02d}", GENESIS_HASH
            for seq in range(1, per_site + 1):
                ts = dbtime.to_db_time(now + timedelta(milliseconds=seq))
                card = serial(k * per_site + seq // 2)
                if seq % 2:
                    fields = (site, seq, ts, "intent", "resign", card, "Virtual PCD 00 00",
                              "desk-1", None, None, None, None, detail)
                else:
                    fields = (site, seq, ts, "outcome", "resign", card, "Virtual PCD 00 00",
                              "desk-1", next_id - 1, "success", 2, None, "{}")
                digest = hashlib.sha256(prev + canonical_pg(fields)).digest()
                copy.write_row((*fields, prev, digest))
                prev, next_id = digest, next_id + 1
    with db.connection() as tx:
        tx.execute("ANALYZE audit")
    return time.perf_counter() - started


def incremental_verify(url: str, now: datetime, per_site: int = 10) -> dict[str, object]:
    """After the full verify (which recorded a checkpoint per chain): ``per_site`` new entries
    in every chain, then a verify from the checkpoints."""
    for k in range(SITES):
        site_db = PostgresDatabase(url, site_id=f"site-{k:02d}", max_size=1)
        site_log = PgAuditLog(site_db)
        for i in range(per_site):
            site_log.event(operation="revoke", card_serial=serial(i), actor="bench",
                           detail={"reason": "lost"}, now=now)
        site_db.close()
    db = PostgresDatabase(url, site_id="bench", max_size=4)
    started = time.perf_counter()
    result = PgAuditLog(db).verify()
    elapsed = time.perf_counter() - started
    db.close()
    return {"audit_verify_incremental_s": round(elapsed, 3),
            "audit_verify_incremental_entries": result.entries,
            "audit_verify_incremental_ok": result.ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.county", description=__doc__)
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    cluster = PgCluster(durable=True)
    figures: dict[str, object] = {}
    try:
        cluster.init()
        url = cluster.new_database("county")
        db = PostgresDatabase(url, site_id="bench", max_size=2)
        _upgrade(db)
        figures["load_cards_s"] = round(load_cards(db, args.cards, now), 1)
        times = lookups(db, args.cards, args.lookups, random.Random(1))
        for name, values in times.items():
            figures[f"{name}_p50_ms"] = round(percentile(values, 50) * 1000, 3)
            figures[f"{name}_p99_ms"] = round(percentile(values, 99) * 1000, 3)
        count, elapsed = sites_throughput(url, args.seconds, base=args.cards)
        figures["reserve_confirm_per_s"] = round(count / elapsed)
        figures["reserve_confirm_total"] = count
        figures["load_audit_s"] = round(load_audit(db, args.audit, now), 1)
        log = PgAuditLog(db)
        started = time.perf_counter()
        result = log.verify(full=True)
        figures["audit_verify_s"] = round(time.perf_counter() - started, 2)
        figures["audit_verify_entries"] = result.entries
        figures["audit_verify_ok"] = result.ok
        figures["audit_sites"] = len(result.sites or {})
        figures.update(incremental_verify(url, now))
        db.close()
    finally:
        cluster.destroy()
    figures["cards"], figures["sites"] = args.cards, SITES
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
