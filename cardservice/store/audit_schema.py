"""The audit log's schema on both backends (one migration component, ``audit``).

SQLite: one chain per data directory (ids 1..n) with a one-row head record. PostgreSQL: one
chain per site: ``(site_id, site_seq)`` is unique, each entry's ``prev_hash`` is the hash of the
site's previous entry; ``id`` is a county-wide number that outcomes use to name their intent.
On both, triggers refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE); on PostgreSQL the sites'
role is also granted only INSERT and SELECT (ops/postgresql.md).
"""

from __future__ import annotations

from cardservice.store import migrations

_V1_SQLITE = """
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY,
    ts          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    operation   TEXT NOT NULL,
    card_serial TEXT,
    reader      TEXT,
    actor       TEXT,
    intent_id   INTEGER,
    outcome     TEXT,
    sequence    INTEGER,
    error_code  TEXT,
    detail      TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_serial ON audit (card_serial, id);
CREATE INDEX IF NOT EXISTS audit_by_intent ON audit (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_intents ON audit (id) WHERE kind = 'intent';
CREATE TABLE IF NOT EXISTS audit_head (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    last_id   INTEGER NOT NULL,
    last_hash BLOB NOT NULL
);
INSERT OR IGNORE INTO audit_head (one, last_id, last_hash) VALUES (1, 0, zeroblob(32));
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""

_V1_POSTGRESQL = """
CREATE TABLE audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     TEXT NOT NULL,
    site_seq    BIGINT NOT NULL CHECK (site_seq >= 1),
    ts          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    operation   TEXT NOT NULL,
    card_serial TEXT,
    reader      TEXT,
    actor       TEXT,
    intent_id   BIGINT,
    outcome     TEXT,
    sequence    BIGINT,
    error_code  TEXT,
    detail      TEXT NOT NULL,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    UNIQUE (site_id, site_seq)
);
CREATE INDEX audit_by_serial ON audit (card_serial, id);
CREATE INDEX audit_by_intent ON audit (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX audit_intents ON audit (id) WHERE kind = 'intent';
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only';
END $$;
CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""

# v2. SQLite: each entry records its site (``CARDSERVICE_SITE_ID``, or ``local``); entries
# written before have none (NULL), and their canonical form stays the 12 fields, so their hashes
# still verify. PostgreSQL: the verified checkpoint of each site chain, and the verbatim copy of
# every chain imported from a SQLite data directory (``db import``) with its original hashes.
# Both tables are append-only like the log itself.
_V2_SQLITE = "ALTER TABLE audit ADD COLUMN site_id TEXT;\n"

_V2_POSTGRESQL = """
CREATE TABLE audit_checkpoint (
    site_id       TEXT NOT NULL,
    site_seq      BIGINT NOT NULL CHECK (site_seq >= 1),
    hash          BYTEA NOT NULL,
    verified_from BIGINT NOT NULL,
    verified_at   TEXT NOT NULL,
    verified_by   TEXT NOT NULL,
    PRIMARY KEY (site_id, site_seq)
);
CREATE TABLE audit_import (
    import_id   BIGINT NOT NULL,
    source_id   BIGINT NOT NULL CHECK (source_id >= 1),
    ts          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    operation   TEXT NOT NULL,
    card_serial TEXT,
    reader      TEXT,
    actor       TEXT,
    intent_id   BIGINT,
    outcome     TEXT,
    sequence    BIGINT,
    error_code  TEXT,
    detail      TEXT NOT NULL,
    source_site TEXT,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    PRIMARY KEY (import_id, source_id)
);
CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_import_no_update_delete BEFORE UPDATE OR DELETE ON audit_import
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_import_no_truncate BEFORE TRUNCATE ON audit_import
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""

# v3. The open intents (no outcome yet, or only "unknown"), kept by the database itself: a
# trigger adds each intent as it is appended and removes it with its first definite outcome, in
# the same transaction. Pending writes are then listed from this small table instead of a walk
# over every intent of the log (a card read asks for its card's, the production run and the
# applications list for all). The step fills it from the log. It is derived data: nothing is
# hashed from it, and `audit verify` checks it against the log (``audit_closing`` indexes the
# definite outcomes for that check's counts). PostgreSQL: the triggers run as the owner
# (SECURITY DEFINER), so the sites' role only reads the table.
_OPEN_OF_LOG = """
INSERT INTO audit_open (intent_id, card_serial)
    SELECT id, card_serial FROM audit AS i WHERE kind = 'intent' AND NOT EXISTS (
        SELECT 1 FROM audit AS o WHERE o.intent_id = i.id AND o.outcome != 'unknown');
"""

_V3_SQLITE = """
CREATE TABLE IF NOT EXISTS audit_open (
    intent_id   INTEGER PRIMARY KEY,
    card_serial TEXT
);
CREATE INDEX IF NOT EXISTS audit_open_by_serial ON audit_open (card_serial);
CREATE INDEX IF NOT EXISTS audit_closing ON audit (intent_id)
    WHERE intent_id IS NOT NULL AND outcome != 'unknown';
CREATE TRIGGER IF NOT EXISTS audit_open_intent AFTER INSERT ON audit WHEN NEW.kind = 'intent'
    BEGIN INSERT INTO audit_open (intent_id, card_serial) VALUES (NEW.id, NEW.card_serial); END;
CREATE TRIGGER IF NOT EXISTS audit_close_intent AFTER INSERT ON audit
    WHEN NEW.intent_id IS NOT NULL AND NEW.outcome != 'unknown'
    BEGIN DELETE FROM audit_open WHERE intent_id = NEW.intent_id; END;
""" + _OPEN_OF_LOG

_V3_POSTGRESQL = """
CREATE TABLE audit_open (
    intent_id   BIGINT PRIMARY KEY,
    card_serial TEXT
);
CREATE INDEX audit_open_by_serial ON audit_open (card_serial);
CREATE INDEX audit_closing ON audit (intent_id)
    WHERE intent_id IS NOT NULL AND outcome != 'unknown';
CREATE FUNCTION audit_track_open() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.kind = 'intent' THEN
        INSERT INTO audit_open (intent_id, card_serial) VALUES (NEW.id, NEW.card_serial);
    ELSIF NEW.intent_id IS NOT NULL AND NEW.outcome <> 'unknown' THEN
        DELETE FROM audit_open WHERE intent_id = NEW.intent_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_track_open AFTER INSERT ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_track_open();
""" + _OPEN_OF_LOG

COMPONENT = migrations.register(migrations.Component("audit", (
    migrations.Step(1, "hash-chained audit log (PostgreSQL: one chain per site)",
                    _V1_SQLITE, _V1_POSTGRESQL),
    migrations.Step(2, "site of each entry (SQLite); chain checkpoints and imported chains "
                    "(PostgreSQL)", _V2_SQLITE, _V2_POSTGRESQL),
    migrations.Step(3, "open intents, kept by triggers", _V3_SQLITE, _V3_POSTGRESQL),
    migrations.Step(4, "signed checkpoints (PostgreSQL)", "",
                    "ALTER TABLE audit_checkpoint ADD COLUMN signature BYTEA;\n"),
)))


# The check of the table against the log: counts first (index-only scans, about 50 ms for
# 500,000 intents here), the walk that names the first missing intent only when they differ.
_COUNTS = """
SELECT (SELECT count(*) FROM audit WHERE kind = 'intent'),
       (SELECT count(DISTINCT intent_id) FROM audit
            WHERE intent_id IS NOT NULL AND outcome != 'unknown'),
       (SELECT count(*) FROM audit_open)"""
# one the table lists that is no intent of the log, or that the log closed
_WRONGLY_OPEN = """
SELECT min(intent_id) FROM audit_open AS t
    WHERE NOT EXISTS (SELECT 1 FROM audit AS i WHERE i.id = t.intent_id AND i.kind = 'intent')
    OR EXISTS (SELECT 1 FROM audit AS o WHERE o.intent_id = t.intent_id
               AND o.outcome != 'unknown')"""
# one the log leaves open that the table does not list
_MISSING_OPEN = """
SELECT min(id) FROM audit AS i WHERE kind = 'intent'
    AND NOT EXISTS (SELECT 1 FROM audit AS o WHERE o.intent_id = i.id AND o.outcome != 'unknown')
    AND NOT EXISTS (SELECT 1 FROM audit_open AS t WHERE t.intent_id = i.id)"""


def open_intents_differ(tx) -> tuple[int | None, str] | None:
    """(intent id, reason) where the open-intent table (v3) disagrees with the log, or None.
    Every listed intent must be open in the log; then equal counts mean equal sets."""
    wrong = tx.execute(_WRONGLY_OPEN).fetchone()[0]
    if wrong is not None:
        return int(wrong), f"the open-intent table lists {wrong}, which the log closed"
    intents, closed, listed = tx.execute(_COUNTS).fetchone()
    if intents - closed == listed:
        return None
    missing = tx.execute(_MISSING_OPEN).fetchone()[0]
    if missing is not None:
        return int(missing), f"open intent {missing} is missing from the open-intent table"
    return None, (f"the log has {intents - closed} open intents, the open-intent table "
                  f"{listed}")
