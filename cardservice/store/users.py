"""Console clerks: accounts, login sessions and failed-login counters (SQLite).

A clerk has a unique name, a role (:class:`~cardservice.roles.Role`) and a password hash made by
:mod:`cardservice.console.passwords` (this store only keeps the text). A session is a random
cookie secret of which only the SHA-256 is stored, with its CSRF token and the time it was last
used (idle timeout). Failed logins are counted per key (``account:NAME`` or ``client:ADDRESS``)
so the lockout holds across daemon restarts and processes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cardservice.errors import NotFoundError, UserExistsError, ValidationError
from cardservice.roles import Role
from cardservice.store import db, migrations
from cardservice.store.base import Store

logger = logging.getLogger(__name__)

SESSION_BYTES = 32
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")

# Accounts belong to a site (one county database serves every site's daemon).
_V1 = """
CREATE TABLE users (
    site_id       TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('reader', 'operator', 'certifier', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    {time} NOT NULL,
    password_at   {time} NOT NULL,
    disabled_at   {time},
    PRIMARY KEY (site_id, name)
);
CREATE TABLE sessions (
    secret_hash  {blob} PRIMARY KEY,
    site_id      TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   {time} NOT NULL,
    last_seen_at {time} NOT NULL,
    FOREIGN KEY (site_id, user_name) REFERENCES users (site_id, name)
);
CREATE INDEX sessions_by_user ON sessions (site_id, user_name);
CREATE TABLE login_failures (
    site_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    first_at     {time} NOT NULL,
    locked_until {time},
    PRIMARY KEY (site_id, key)
);
"""
COMPONENT = migrations.register(migrations.Component("users", (
    migrations.Step(1, "console clerks, sessions, failed logins",
                    _V1.format(time="TEXT", blob="BLOB"),
                    _V1.format(time="TIMESTAMPTZ", blob="BYTEA")),
)))
_USER_COLUMNS = "name, role, created_at, password_at, disabled_at"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: datetime
    password_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class Failures:
    failures: int
    first_at: datetime
    locked_until: datetime | None


def _user(row: tuple) -> User:
    return User(name=row[0], role=Role(row[1]), created_at=db.from_db_time(row[2]),
                password_at=db.from_db_time(row[3]),
                disabled_at=db.from_db_time_or_none(row[4]))


def session_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def check_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not NAME_PATTERN.match(text):
        raise ValidationError("name", "must be 1-32 letters, digits, '.', '_' or '-'",
                              reason="format")
    return text


def check_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise ValidationError("role", f"must be one of {choices}", reason="choice") from None


class UserStore(Store):
    """Clerk accounts of this site, their sessions and failed logins (SQLite or PostgreSQL)."""

    COMPONENT = COMPONENT

    # --- accounts ---------------------------------------------------------------------------

    def add(self, name: str, role: Role | str, password_hash: str, now: datetime) -> User:
        name, role, at = check_name(name), check_role(role), db.to_db_time(now)
        try:
            with self._db.transaction() as tx:
                tx.execute("INSERT INTO users (site_id, name, role, password_hash, created_at, "
                           "password_at) VALUES (?, ?, ?, ?, ?, ?)",
                           (self.site_id, name, role.value, password_hash, at, at))
        except self._db.IntegrityError as exc:
            raise UserExistsError(f"a clerk named {name!r} exists") from exc
        logger.info("clerk %s added (role %s)", name, role.value)
        return self.get(name)

    def get(self, name: str) -> User:
        with self._db.connection() as tx:
            row = tx.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE site_id = ? AND name = ?",
                             (self.site_id, name)).fetchone()
        if row is None:
            raise NotFoundError(f"no clerk named {name!r}")
        return _user(row)

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an active clerk, or None (unknown or disabled)."""
        with self._db.connection() as tx:
            row = tx.execute("SELECT password_hash FROM users WHERE site_id = ? AND name = ? "
                             "AND disabled_at IS NULL", (self.site_id, name)).fetchone()
        return row[0] if row else None

    def list(self) -> list[User]:
        with self._db.connection() as tx:
            rows = tx.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE site_id = ? "
                              "ORDER BY name", (self.site_id,)).fetchall()
        return [_user(r) for r in rows]

    def disable(self, name: str, now: datetime) -> User:
        """Disable the account and end its sessions (disabling twice is a no-op)."""
        self._update(name, "UPDATE users SET disabled_at = COALESCE(disabled_at, ?) "
                     "WHERE site_id = ? AND name = ?", (db.to_db_time(now), self.site_id, name))
        logger.info("clerk %s disabled", name)
        return self.get(name)

    def set_password(self, name: str, password_hash: str, now: datetime) -> User:
        """New password (re-enables a disabled account); ends its sessions and its lockout."""
        self._update(name, "UPDATE users SET password_hash = ?, password_at = ?, "
                     "disabled_at = NULL WHERE site_id = ? AND name = ?",
                     (password_hash, db.to_db_time(now), self.site_id, name))
        self.clear_failures(f"account:{name}")
        logger.info("clerk %s: password reset", name)
        return self.get(name)

    def _update(self, name: str, sql: str, args: tuple) -> None:
        with self._db.transaction() as tx:
            if tx.execute(sql, args).rowcount != 1:
                raise NotFoundError(f"no clerk named {name!r}")
            tx.execute("DELETE FROM sessions WHERE site_id = ? AND user_name = ?",
                       (self.site_id, name))

    # --- sessions ---------------------------------------------------------------------------

    def open_session(self, name: str, now: datetime) -> tuple[str, Session]:
        """A new session for a clerk: ``(cookie secret, session)``."""
        secret = secrets.token_urlsafe(SESSION_BYTES)
        csrf = secrets.token_urlsafe(SESSION_BYTES)
        at = db.to_db_time(now)
        with self._db.transaction() as tx:
            tx.execute("INSERT INTO sessions (secret_hash, site_id, user_name, csrf, created_at, "
                       "last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (session_hash(secret), self.site_id, name, csrf, at, at))
        moment = db.normalize_time(now)
        return secret, Session(self.get(name), csrf, moment, moment)

    def session(self, secret: str, now: datetime, *, idle: timedelta,
                lifetime: timedelta) -> Session | None:
        """The live session of an active clerk (and mark it used now); None if unknown,
        idle longer than ``idle``, older than ``lifetime`` or its clerk disabled."""
        digest = session_hash(secret)
        columns = ", ".join("u." + c.strip() for c in _USER_COLUMNS.split(","))
        with self._db.connection() as tx:
            row = tx.execute(
                f"SELECT s.csrf, s.created_at, s.last_seen_at, {columns} FROM sessions s "
                "JOIN users u ON u.site_id = s.site_id AND u.name = s.user_name "
                "WHERE s.secret_hash = ? AND s.site_id = ? AND u.disabled_at IS NULL",
                (digest, self.site_id)).fetchone()
        if row is None:
            return None
        created, seen = db.from_db_time(row[1]), db.from_db_time(row[2])
        if now - seen > idle or now - created > lifetime:
            self.close_session(secret)
            return None
        with self._db.transaction() as tx:
            tx.execute("UPDATE sessions SET last_seen_at = ? WHERE secret_hash = ?",
                       (db.to_db_time(now), digest))
        return Session(_user(row[3:]), row[0], created, db.normalize_time(now))

    def close_session(self, secret: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE secret_hash = ?", (session_hash(secret),))

    def prune_sessions(self, before: datetime) -> int:
        """Delete this site's sessions last used before ``before``; returns how many."""
        with self._db.transaction() as tx:
            return tx.execute("DELETE FROM sessions WHERE site_id = ? AND last_seen_at < ?",
                              (self.site_id, db.to_db_time(before))).rowcount

    # --- failed logins ----------------------------------------------------------------------

    def failures(self, key: str) -> Failures | None:
        with self._db.connection() as tx:
            row = tx.execute("SELECT failures, first_at, locked_until FROM login_failures "
                             "WHERE site_id = ? AND key = ?", (self.site_id, key)).fetchone()
        if row is None:
            return None
        return Failures(row[0], db.from_db_time(row[1]), db.from_db_time_or_none(row[2]))

    def record_failure(self, key: str, now: datetime, *, window: timedelta, limit: int,
                       lockout: timedelta) -> Failures:
        """Count one failure for ``key`` (a new window once the last one is over); lock the key
        for ``lockout`` when the count reaches ``limit``."""
        current = self.failures(key)
        if current is None or now - current.first_at > window or (
                current.locked_until is not None and now >= current.locked_until):
            current = Failures(0, now, None)
        count = current.failures + 1
        locked = now + lockout if count >= limit else None
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO login_failures (site_id, key, failures, first_at, locked_until) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site_id, key) DO UPDATE SET "
                "failures = excluded.failures, first_at = excluded.first_at, "
                "locked_until = excluded.locked_until",
                (self.site_id, key, count, db.to_db_time(current.first_at),
                 db.to_db_time(locked) if locked else None))
        return Failures(count, current.first_at, locked)

    def clear_failures(self, key: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM login_failures WHERE site_id = ? AND key = ?",
                       (self.site_id, key))
