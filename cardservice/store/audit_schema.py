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

COMPONENT = migrations.register(migrations.Component("audit", (
    migrations.Step(1, "hash-chained audit log (PostgreSQL: one chain per site)",
                    _V1_SQLITE, _V1_POSTGRESQL),
    migrations.Step(2, "site of each entry (SQLite); chain checkpoints and imported chains "
                    "(PostgreSQL)", _V2_SQLITE, _V2_POSTGRESQL),
)))
