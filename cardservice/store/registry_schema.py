"""The card registry's schema on both backends (one migration component, ``registry``)."""

from __future__ import annotations

from cardservice.store import migrations

_V1_SQLITE = """
CREATE TABLE IF NOT EXISTS cards (
    serial                  TEXT PRIMARY KEY,
    citizen_number          TEXT NOT NULL,
    status                  TEXT NOT NULL
                            CHECK (status IN ('active', 'revoked', 'lost', 'replaced')),
    last_sequence           INTEGER NOT NULL CHECK (last_sequence >= 0),
    issuing_authority       TEXT NOT NULL,
    permit_type             TEXT NOT NULL,
    basis                   INTEGER,
    expires_on              TEXT NOT NULL,
    sponsor_citizen_number  TEXT,
    revoked_reason          TEXT,
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_by_citizen ON cards (citizen_number, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS cards_one_active_per_citizen
    ON cards (citizen_number) WHERE status = 'active';
"""

# v2: sites, and the reservation a write takes before its first card APDU. A card being issued
# is 'pending' until its write is confirmed; the one-card index covers pending cards too.
_CARDS_V2 = """
CREATE TABLE cards{suffix} (
    serial                  TEXT PRIMARY KEY,
    citizen_number          TEXT NOT NULL,
    status                  TEXT NOT NULL
                            CHECK (status IN ('pending', 'active', 'revoked', 'lost', 'replaced')),
    last_sequence           {int} NOT NULL CHECK (last_sequence >= 0),
    issuing_authority       TEXT NOT NULL,
    permit_type             TEXT NOT NULL,
    basis                   INTEGER,
    expires_on              {date} NOT NULL,
    sponsor_citizen_number  TEXT,
    revoked_reason          TEXT,
    created_at              {time} NOT NULL,
    updated_at              {time} NOT NULL,
    issued_site             TEXT,
    last_write_site         TEXT,
    pending_sequence        {int},
    pending_site            TEXT,
    pending_since           {time}
);
"""
_INDEXES_V2 = """
CREATE INDEX cards_by_citizen ON cards (citizen_number, created_at);
CREATE UNIQUE INDEX cards_one_active_per_citizen
    ON cards (citizen_number) WHERE status IN ('active', 'pending');
CREATE INDEX cards_reserved ON cards (pending_since) WHERE pending_since IS NOT NULL;
"""
_OLD_COLUMNS = (
    "serial, citizen_number, status, last_sequence, issuing_authority, permit_type, basis, "
    "expires_on, sponsor_citizen_number, revoked_reason, created_at, updated_at"
)
_V2_SQLITE = (
    _CARDS_V2.format(suffix="_v2", int="INTEGER", date="TEXT", time="TEXT")
    + f"INSERT INTO cards_v2 ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} FROM cards;\n"
    + "DROP TABLE cards;\nALTER TABLE cards_v2 RENAME TO cards;\n" + _INDEXES_V2
)
_V1_POSTGRESQL = (_CARDS_V2.format(suffix="", int="BIGINT", date="DATE", time="TIMESTAMPTZ")
                  + _INDEXES_V2)

# v3: a card produced from an application is 'produced' (not active, not in the one-card
# index) until it is handed over; card_links records which card replaced which.
_ALL_V2 = (_OLD_COLUMNS + ", issued_site, last_write_site, pending_sequence, pending_site, "
           "pending_since")
_STATUSES_V3 = "('pending', 'active', 'produced', 'revoked', 'lost', 'replaced')"
_LINKS_V3 = """
CREATE TABLE card_links (
    old_serial  TEXT PRIMARY KEY,
    new_serial  TEXT NOT NULL UNIQUE,
    reason      TEXT NOT NULL,
    linked_at   {time} NOT NULL
);
"""
_V3_SQLITE = (
    _CARDS_V2.format(suffix="_v3", int="INTEGER", date="TEXT", time="TEXT").replace(
        "('pending', 'active', 'revoked', 'lost', 'replaced')", _STATUSES_V3)
    + f"INSERT INTO cards_v3 ({_ALL_V2}) SELECT {_ALL_V2} FROM cards;\n"
    + "DROP TABLE cards;\nALTER TABLE cards_v3 RENAME TO cards;\n" + _INDEXES_V2
    + _LINKS_V3.format(time="TEXT")
)
_V3_POSTGRESQL = (
    "ALTER TABLE cards DROP CONSTRAINT cards_status_check;\n"
    f"ALTER TABLE cards ADD CONSTRAINT cards_status_check CHECK (status IN {_STATUSES_V3});\n"
    + _LINKS_V3.format(time="TIMESTAMPTZ")
)

# v4: the identity each card was personalized with (a replacement is checked against it, also
# for a card issued directly, without an application)
_IDENTITIES_V4 = """
CREATE TABLE card_identities (
    serial       TEXT PRIMARY KEY,
    identity     TEXT NOT NULL,
    recorded_at  {time} NOT NULL
);
"""

COMPONENT = migrations.register(migrations.Component("registry", (
    migrations.Step(1, "cards, one active card per citizen", _V1_SQLITE, _V1_POSTGRESQL),
    migrations.Step(2, "sites and write reservations", _V2_SQLITE, ""),
    migrations.Step(3, "produced cards awaiting hand-over, replacement links", _V3_SQLITE,
                    _V3_POSTGRESQL),
    migrations.Step(4, "the identity of each card", _IDENTITIES_V4.format(time="TEXT"),
                    _IDENTITIES_V4.format(time="TIMESTAMPTZ")),
)))
