"""Bearer tokens for the daemon's client apps (SQLite or PostgreSQL).

A token is ``"cs_"`` + 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored;
the secret is shown once by :meth:`TokenStore.create`. Authentication looks the hash up and
then compares it with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cardservice.errors import (
    CardServiceError,
    NotFoundError,
    RegistryUnavailableError,
    ValidationError,
)
from cardservice.roles import Role
from cardservice.store import db, migrations
from cardservice.store.base import Store
from cardservice.store.database import constraint_name

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cs_"
SECRET_BYTES = 32
MAX_NAME_CHARS = 64
_TOKEN_CHARS = len(TOKEN_PREFIX) + 43

_V1_SQLITE = """
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'admin')),
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;
"""
# v2: the role CHECK allows 'certifier' (cardservice/roles.py); SQLite rebuilds the table.
_TABLE_V2 = """
CREATE TABLE {name} (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'certifier', 'admin')),
    secret_hash {blob} NOT NULL UNIQUE,
    created_at  {time} NOT NULL,
    revoked_at  {time}
);
"""
_INDEX_V2 = "CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;\n"
_V2_SQLITE = (_TABLE_V2.format(name="tokens_v2", blob="BLOB", time="TEXT")
              + "INSERT INTO tokens_v2 SELECT * FROM tokens;\nDROP TABLE tokens;\n"
              "ALTER TABLE tokens_v2 RENAME TO tokens;\n" + _INDEX_V2)
_V1_POSTGRESQL = _TABLE_V2.format(name="tokens", blob="BYTEA", time="TIMESTAMPTZ") + _INDEX_V2

COMPONENT = migrations.register(migrations.Component("tokens", (
    migrations.Step(1, "client tokens", _V1_SQLITE, _V1_POSTGRESQL),
    migrations.Step(2, "role certifier", _V2_SQLITE, ""),
)))
_COLUMNS = "id, name, role, created_at, revoked_at"


__all__ = ["Role", "TokenInfo", "TokenNameTakenError", "TokenStore", "hash_token"]


class TokenNameTakenError(CardServiceError, ValueError):
    """A live (not revoked) token already has this name."""

    code = "TOKEN_NAME_TAKEN"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def _row_to_info(row: tuple) -> TokenInfo:
    return TokenInfo(
        id=row[0],
        name=row[1],
        role=Role(row[2]),
        created_at=db.from_db_time(row[3]),
        revoked_at=db.from_db_time_or_none(row[4]),
    )


def _token_row(tx, digest: bytes) -> tuple[bytes, TokenInfo] | None:
    """(stored hash, info) of the token whose hash is ``digest``; None if there is none."""
    row = tx.execute(
        f"SELECT {_COLUMNS}, secret_hash FROM tokens WHERE secret_hash = ?", (digest,)
    ).fetchone()
    return None if row is None else (bytes(row[5]), _row_to_info(row))


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _check_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME_CHARS or not text.isprintable():
        raise ValidationError(
            "name", f"must be 1-{MAX_NAME_CHARS} printable characters", reason="format"
        )
    return text


def _check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError("role", f"must be one of {choices}", reason="choice") from None


class TokenStore(Store):
    """Client tokens on a :class:`Database` (SQLite file or PostgreSQL); thread-safe."""

    COMPONENT = COMPONENT

    def __init__(self, target) -> None:
        super().__init__(target)
        self._seen: dict[bytes, TokenInfo] = {}  # live tokens seen: offline authentication

    def create(
        self,
        name: str,
        role: Role | str,
        now: datetime,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> tuple[str, TokenInfo]:
        """Create a token; returns ``(secret, info)``. The secret is not stored anywhere."""
        raw = token_bytes(SECRET_BYTES)
        if len(raw) != SECRET_BYTES:
            raise ValueError(f"token_bytes returned {len(raw)} bytes, wanted {SECRET_BYTES}")
        secret = TOKEN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        digest = hash_token(secret)
        info = TokenInfo(
            id="tok_" + digest[:8].hex(),
            name=_check_name(name),
            role=_check_role(role),
            created_at=db.normalize_time(now),
            revoked_at=None,
        )
        row = (info.id, info.name, info.role.value, digest, db.to_db_time(now))
        try:
            with self._db.transaction() as tx:
                tx.execute(
                    "INSERT INTO tokens (id, name, role, secret_hash, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    row,
                )
        except self._db.IntegrityError as exc:
            name = constraint_name(exc)
            if "tokens.name" in name or "tokens_live_name" in name:
                raise TokenNameTakenError(f"a token named {info.name!r} exists") from exc
            raise ValueError("token collision; try again") from exc
        logger.info("token %s created (%s, role %s)", info.id, info.name, info.role.value)
        return secret, info

    def authenticate(self, token: str) -> TokenInfo | None:
        """The live token's info, or None for a malformed, unknown or revoked token."""
        if not isinstance(token, str) or len(token) != _TOKEN_CHARS:
            return None
        if not token.startswith(TOKEN_PREFIX) or not token.isascii():
            return None
        digest = hash_token(token)
        try:
            # SQLite reuses the row while nothing was written to the file by any connection
            # (Database.cached): a revocation, here or by another process, applies at once
            found = self._db.cached(("token", digest), lambda tx: _token_row(tx, digest))
        except RegistryUnavailableError:
            # offline (PostgreSQL down): a token this process saw live keeps working, so that
            # reads still verify cards; an unknown one is refused. Nobody can revoke meanwhile.
            return self._seen.get(digest)
        if found is None or not hmac.compare_digest(found[0], digest):
            self._seen.pop(digest, None)
            return None
        info = found[1]
        if info.revoked_at is not None:
            self._seen.pop(digest, None)
            return None
        self._seen[digest] = info
        return info

    def list(self) -> list[TokenInfo]:
        """All tokens, revoked ones included, oldest first."""
        with self._db.connection() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, id"
            ).fetchall()
        return [_row_to_info(r) for r in rows]

    def revoke(self, name_or_id: str, now: datetime) -> TokenInfo:
        """Revoke by id, or by the name of a live token. Revoking a revoked id is a no-op.

        Unknown -> NotFoundError."""
        with self._db.transaction() as tx:
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM tokens WHERE id = ? "
                "OR (name = ? AND revoked_at IS NULL) ORDER BY id = ? DESC LIMIT 1",
                (name_or_id, name_or_id, name_or_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no live token with name or id {name_or_id!r}")
            if row[4] is None:
                tx.execute(
                    "UPDATE tokens SET revoked_at = ? WHERE id = ?", (db.to_db_time(now), row[0])
                )
            row = tx.execute(
                f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (row[0],)
            ).fetchone()
        logger.info("token %s revoked", row[0])
        return _row_to_info(row)
