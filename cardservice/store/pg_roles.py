"""The database roles of a county deployment (PostgreSQL) and what each may do.

* the **owner** role (the county's DBA / `cardservice db upgrade`) owns the tables and runs DDL;
* the **site** role (one per acceptance point, or one shared, see ops/postgresql.md) reads and
  writes the registry, tokens and idempotency records, and may only INSERT and SELECT the audit
  log: the database refuses its UPDATE, DELETE and TRUNCATE (the triggers refuse them even for
  the owner).

A module adding a table adds its grants to :data:`SITE_TABLE_GRANTS` (docs/storage.md).
"""

from __future__ import annotations

#: table -> privileges of the site role
SITE_TABLE_GRANTS: dict[str, str] = {
    "cards": "SELECT, INSERT, UPDATE, DELETE",
    "card_links": "SELECT, INSERT",
    "card_identities": "SELECT, INSERT, UPDATE",
    "applications": "SELECT, INSERT, UPDATE",
    "tokens": "SELECT, INSERT, UPDATE",
    "idempotency": "SELECT, INSERT, DELETE",
    "pairing_requests": "SELECT, INSERT, UPDATE",
    "audit": "SELECT, INSERT",
    "audit_checkpoint": "SELECT, INSERT",
    "audit_import": "SELECT, INSERT",
    "audit_open": "SELECT",  # kept by a trigger that runs as the owner
    "schema_version": "SELECT",
    "users": "SELECT, INSERT, UPDATE",
    "sessions": "SELECT, INSERT, UPDATE, DELETE",
    "login_failures": "SELECT, INSERT, UPDATE, DELETE",
}


def site_grants(role: str) -> list[str]:
    """The GRANT statements for a site role (run by the owner after `db upgrade`)."""
    who = _ident(role)
    statements = [f"GRANT USAGE ON SCHEMA public TO {who}"]
    statements += [f"GRANT {privileges} ON {table} TO {who}"
                   for table, privileges in SITE_TABLE_GRANTS.items()]
    return statements


def _ident(name: str) -> str:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"role name {name!r}: letters, digits, _ and - only")
    return '"' + name + '"'
