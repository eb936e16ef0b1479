"""Verifying the PostgreSQL audit log: every site chain, its checkpoint, and imported chains.

A chain is intact when each entry links to the one before it: ``site_seq`` runs 1, 2, 3, ...;
each ``prev_hash`` equals the stored ``hash`` of the entry before (32 zero bytes for the first);
each ``hash`` is ``SHA-256(prev_hash || canonical)``. These are checks between neighbours, so
PostgreSQL makes them itself in one query per chain (a window over ``site_seq``, its built-in
``sha256()`` on the same bytes as ``json_build_array(...)::text``, which appends hash) and
returns one row:
how many entries it checked and the first ``site_seq`` that failed. Chains are checked several
at once, each on its own connection (each a server process of its own), at most half the pool. Only a broken chain
costs a second, small query, which names the entry and the reason.

**Checkpoints.** After a chain verified, its last entry (``site_seq`` and hash) is stored in
``audit_checkpoint`` (append-only, like the log). A later verify checks only from the newest
checkpoint on: the entry there must still carry the checkpoint's hash, and everything after it
must link to it. ``full=True`` checks every chain from its first entry and also checks that the
chain still reaches its newest checkpoint (a cut-off tail is found by both).

**Imported chains.** ``db import`` keeps a SQLite data directory's chain verbatim in
``audit_import`` (its original ids and hashes) and records the source's head hash in the site
chain's ``import`` event; a full verify recomputes that chain with the SQLite canonical form
(:func:`cardservice.store.audit.canonical_bytes`) and checks it ends at that head.
"""

from __future__ import annotations

import json
import logging
import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cardservice.store import db as dbtime
from cardservice.store.audit import GENESIS_HASH, AuditVerifyResult, canonical_bytes, entry_hash
from cardservice.store.audit_schema import open_intents_differ
from cardservice.store.audit_seal import (
    CHECKPOINTS_SQL,
    Checkpoint,
    CheckpointSeal,
    trusted_checkpoints,
    with_anchors,
)
from cardservice.store.database import Database

logger = logging.getLogger(__name__)

#: chains checked at once, each on its own pooled connection (at most half the pool)
VERIFY_WORKERS = 4

_FIELDS = ("site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, "
           "outcome, sequence, error_code, detail")
_TEXT_FIELDS = {"site_id", "ts", "kind", "operation", "card_serial", "reader", "actor", "outcome",
                "error_code", "detail"}


def _json_item(column: str) -> str:
    """One item of ``json_build_array(...)::text`` by plain string functions. Appends refuse
    control characters in every text column (``detail`` is JSON text, which has none), and
    then ``"`` and ``\\`` are the only characters JSON escapes; a row with a control character
    anyway was not written by this software, and its hash fails to match."""
    if column in _TEXT_FIELDS:
        escaped = f"replace(replace({column}, '\\', '\\\\'), '\"', '\\\"')"
        return f"""coalesce('"' || {escaped} || '"', 'null')"""
    return f"coalesce({column}::text, 'null')"


#: the canonical bytes, equal to ``convert_to(json_build_array(<fields>)::text, 'UTF8')`` for
#: every entry an append wrote (a test compares the two), at about 3/4 of its CPU cost
_CANONICAL_SQL = ("convert_to('[' || " + " || ', ' || ".join(
    _json_item(c.strip()) for c in _FIELDS.split(",")) + " || ']', 'UTF8')")

# Parameters: site, start, genesis (or NULL from a checkpoint: the first entry's link was
# checked when the checkpoint was made), checkpoint seq (0: none), checkpoint hash, start.
_CHAIN_SQL = f"""
SELECT count(*), max(site_seq), min(site_seq) FILTER (WHERE bad) FROM (
    SELECT site_seq,
           site_seq <> lag(site_seq, 1, ?::bigint - 1) OVER w + 1
        OR prev_hash <> lag(hash, 1, coalesce(?::bytea, prev_hash)) OVER w
        OR (site_seq = ? AND hash <> ?::bytea)
        OR sha256(prev_hash || {_CANONICAL_SQL}) <> hash AS bad
    FROM audit WHERE site_id = ? AND site_seq >= ?
    WINDOW w AS (ORDER BY site_seq)
) AS chain"""
_SITES_SQL = (
    "WITH RECURSIVE s(site) AS (SELECT min(site_id) FROM audit UNION ALL "
    "SELECT (SELECT min(site_id) FROM audit WHERE site_id > s.site) FROM s "
    "WHERE s.site IS NOT NULL) SELECT site FROM s WHERE site IS NOT NULL "
    "UNION SELECT DISTINCT site_id FROM audit_checkpoint")
_ENTRY_SQL = "SELECT id, site_seq, prev_hash, hash FROM audit WHERE site_id = ? AND site_seq = ?"


@dataclass(frozen=True)
class _Chain:
    site: str
    start: int  # first site_seq checked
    checkpoint: tuple[int, bytes] | None  # newest checkpoint (site_seq, hash)


@dataclass(frozen=True)
class _Checked:
    result: AuditVerifyResult
    last_seq: int  # highest site_seq seen (0: none)


def verify(database: Database, *, full: bool, record: bool = True,
           workers: int = VERIFY_WORKERS, seal: CheckpointSeal | None = None,
           anchors: dict[str, tuple[int, bytes]] | None = None) -> AuditVerifyResult:
    """Check every site chain (from its checkpoint unless ``full``); with ``record``, store a
    new checkpoint for every chain that verified and grew. ``seal``: sign the new checkpoints,
    and start only from stored ones whose signature it trusts; ``anchors``: checkpoints kept
    outside the database, which a chain must reach too (:mod:`.audit_seal`)."""
    with database.connection() as tx:
        sites = {r[0] for r in tx.execute(_SITES_SQL).fetchall()}
        checkpoints, refused = trusted_checkpoints(tx.execute(CHECKPOINTS_SQL).fetchall(), seal)
    if refused is not None:
        logger.warning("audit checkpoint refused: %s", refused)
        return AuditVerifyResult(False, 0, None, refused, full=full)
    checkpoints = with_anchors(checkpoints, anchors or {})
    sites = sorted(sites | set(checkpoints))
    chains = [_Chain(s, 1 if full or s not in checkpoints else checkpoints[s][0],
                     checkpoints.get(s)) for s in sites]
    checked = _check_all(database, chains, workers)
    counts = {c.site: r.result.entries for c, r in zip(chains, checked, strict=True)}
    total = sum(counts.values())
    from_seq = {c.site: c.start for c in chains}
    for chain, outcome in zip(chains, checked, strict=True):
        if not outcome.result.ok:
            logger.warning("audit chain of site %s broken at entry %s: %s", chain.site,
                           outcome.result.first_broken_id, outcome.result.reason)
            return replace(outcome.result, entries=total, sites=counts, full=full,
                           checked_from=from_seq)
    if full:
        broken = _verify_imports(database) or _verify_open_intents(database)
        if broken is not None:
            return replace(broken, entries=total, sites=counts, full=full, checked_from=from_seq)
    if record:
        _record_checkpoints(database, chains, checked, full, seal)
    return AuditVerifyResult(True, total, None, None, sites=counts, full=full,
                             checked_from=from_seq)


def _check_all(database: Database, chains: list[_Chain], workers: int) -> list[_Checked]:
    """Each worker takes one pooled connection (at most half the pool, so requests still get
    one) and checks chains from a shared queue until none is left."""
    max_size = getattr(getattr(database, "pool", None), "max_size", 2 * workers)
    workers = max(1, min(workers, max_size // 2, len(chains)))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for index, chain in enumerate(chains):
        todo.put((index, chain))
    results: list[_Checked | None] = [None] * len(chains)

    def work() -> None:
        with database.transaction() as tx:
            # walk each chain along its (site_id, site_seq) index: the rows arrive in order, so
            # there is no sort (which spilled to disk for a chain of 62,500 entries) and no
            # memory that grows with the chain
            tx.execute("SET LOCAL enable_bitmapscan = off")
            tx.execute("SET LOCAL enable_seqscan = off")
            while True:
                try:
                    index, chain = todo.get_nowait()
                except queue.Empty:
                    return
                results[index] = _check_chain(tx, chain)

    with ThreadPoolExecutor(workers, thread_name_prefix="audit-verify") as pool:
        for future in [pool.submit(work) for _ in range(workers)]:
            future.result()
    return [r for r in results if r is not None]


def _check_chain(tx, chain: _Chain) -> _Checked:
    cp_seq, cp_hash = chain.checkpoint or (0, None)
    genesis = GENESIS_HASH if chain.start == 1 else None
    count, last, bad = tx.execute(_CHAIN_SQL, (chain.start, genesis, cp_seq, cp_hash,
                                               chain.site, chain.start)).fetchone()
    count, last = int(count), int(last or 0)
    if bad is None and last < cp_seq:
        end = tx.execute("SELECT coalesce(max(site_seq), 0) FROM audit WHERE site_id = ?",
                         (chain.site,)).fetchone()[0]
        reason = (f"chain of site {chain.site} ends at entry {end}, before its checkpoint "
                  f"at entry {cp_seq}")
        return _Checked(AuditVerifyResult(False, count, None, reason, site=chain.site), last)
    if bad is None:
        return _Checked(AuditVerifyResult(True, count, None, None), last)
    return _Checked(_explain(tx, chain, int(bad)), last)


def _explain(tx, chain: _Chain, bad: int) -> AuditVerifyResult:
    """Name the entry at ``bad`` and why it fails (the order of the checks matters: a missing
    entry shows first as a gap)."""
    row_id, seq, stored_prev, stored_hash = tx.execute(
        _ENTRY_SQL, (chain.site, bad)).fetchone()
    before = tx.execute("SELECT max(site_seq) FROM audit WHERE site_id = ? AND site_seq < ? "
                        "AND site_seq >= ?", (chain.site, bad, chain.start)).fetchone()[0]
    prev_seq = chain.start - 1 if before is None else int(before)
    prev_hash = None
    if before is not None:
        prev_hash = bytes(tx.execute(_ENTRY_SQL, (chain.site, prev_seq)).fetchone()[3])
    elif chain.start == 1:
        prev_hash = GENESIS_HASH
    cp_seq, cp_hash = chain.checkpoint or (0, None)
    if seq != prev_seq + 1:
        reason = f"entry {prev_seq + 1} of site {chain.site} is missing (next present is {seq})"
    elif prev_hash is not None and bytes(stored_prev) != prev_hash:
        reason = "prev_hash does not match"
    elif seq == cp_seq and bytes(stored_hash) != cp_hash:
        reason = f"hash differs from the checkpoint at entry {cp_seq}"
    else:
        reason = "hash does not match content"
    return AuditVerifyResult(False, prev_seq, int(row_id), reason, site=chain.site)


def _record_checkpoints(database: Database, chains: list[_Chain], checked: list[_Checked],
                        full: bool, seal: CheckpointSeal | None) -> None:
    now = dbtime.to_db_time(datetime.now(UTC))
    with database.transaction() as tx:
        for chain, outcome in zip(chains, checked, strict=True):
            cp_seq = chain.checkpoint[0] if chain.checkpoint else 0
            seq = _free_entry(tx, chain, cp_seq, outcome.last_seq)
            if seq is None:
                continue
            row = tx.execute("SELECT hash FROM audit WHERE site_id = ? AND site_seq = ?",
                             (chain.site, seq)).fetchone()
            made = Checkpoint(chain.site, seq, bytes(row[0]), now)
            tx.execute("INSERT INTO audit_checkpoint (site_id, site_seq, hash, verified_from, "
                       "verified_at, verified_by, signature) VALUES (?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT DO NOTHING",
                       (chain.site, seq, made.entry_hash, chain.start, now,
                        database.site_id, None if seal is None else seal.sign(made)))
    logger.info("audit verified (%s); checkpoints recorded", "full" if full else "incremental")


def _free_entry(tx, chain: _Chain, cp_seq: int, last_seq: int) -> int | None:
    """The newest verified entry after the trusted checkpoint ``cp_seq`` that has no checkpoint
    row yet: the chain's last one, or, when an unsigned checkpoint (written before schema v4
    or by a verify without keys) already holds it and the chain has not grown since, the
    newest free one before it, so that a signed checkpoint still spares the next verify the
    walk from the first entry. None when every such entry has a row (or none was verified)."""
    if last_seq <= cp_seq:  # nothing verified beyond the checkpoint: no query
        return None
    taken = {int(r[0]) for r in tx.execute(
        "SELECT site_seq FROM audit_checkpoint WHERE site_id = ? AND site_seq > ? "
        "AND site_seq <= ?", (chain.site, cp_seq, last_seq)).fetchall()}
    first = max(cp_seq + 1, chain.start)
    return next((seq for seq in range(last_seq, first - 1, -1) if seq not in taken), None)


def latest_checkpoints(database: Database, seal: CheckpointSeal | None = None
                       ) -> dict[str, tuple[int, bytes]]:
    """The newest checkpoint of each site chain (with ``seal``: the newest it trusts):
    {site: (site_seq, hash)}."""
    with database.connection() as tx:
        return trusted_checkpoints(tx.execute(CHECKPOINTS_SQL).fetchall(), seal)[0]


# --- chains imported from a SQLite data directory ------------------------------------------


def _verify_open_intents(database: Database) -> AuditVerifyResult | None:
    with database.connection() as tx:
        differ = open_intents_differ(tx)
    return None if differ is None else AuditVerifyResult(False, 0, *differ)


def _verify_imports(database: Database) -> AuditVerifyResult | None:
    with database.connection() as tx:
        imports = tx.execute("SELECT id, site_id, detail FROM audit WHERE operation = 'import' "
                             "AND kind = 'event' ORDER BY id").fetchall()
        for import_id, site, detail_text in imports:
            detail = json.loads(detail_text)
            if not detail.get("source_chain_kept"):
                continue  # imported before the source chain was kept
            rows = tx.execute(
                "SELECT source_id, ts, kind, operation, card_serial, reader, actor, intent_id, "
                "outcome, sequence, error_code, detail, source_site, prev_hash, hash "
                "FROM audit_import WHERE import_id = ? ORDER BY source_id",
                (import_id,)).fetchall()
            reason = check_source_chain(rows, int(detail["source_entries"]),
                                        bytes.fromhex(detail["source_head_hash"]))
            if reason is not None:
                return AuditVerifyResult(False, 0, int(import_id),
                                         f"chain imported by entry {import_id}: {reason}",
                                         site=site)
    return None


def check_source_chain(rows: list[tuple], entries: int, head_hash: bytes) -> str | None:
    """Walk a SQLite chain as SQLite's verify does (canonical: the 12 fields, plus the site
    when the entry recorded one); None if it is intact and ends at ``head_hash``."""
    prev = GENESIS_HASH
    for expected, row in enumerate(rows, start=1):
        source_id, *fields, site, stored_prev, stored_hash = row
        if source_id != expected:
            return f"source entry {expected} is missing"
        if bytes(stored_prev) != prev:
            return f"source entry {expected}: prev_hash does not match"
        values = [source_id, *fields] + ([] if site is None else [site])
        if entry_hash(prev, canonical_bytes(tuple(values))) != bytes(stored_hash):
            return f"source entry {expected}: hash does not match content"
        prev = bytes(stored_hash)
    if len(rows) != entries or prev != head_hash:
        return (f"the source chain has {len(rows)} entries ending at {prev.hex()[:16]}, the "
                f"import recorded {entries} ending at {head_hash.hex()[:16]}")
    return None
