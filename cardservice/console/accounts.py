"""Logging clerks in and out: password check, per-account and per-client lockout, sessions.

After :data:`MAX_FAILURES` failed logins within :data:`FAILURE_WINDOW` for one account (or
:data:`MAX_CLIENT_FAILURES` from one client address) further logins for that key are refused
until :data:`LOCKOUT` has passed, with the right password too. A successful login clears the
account's counter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cardservice.console import passwords
from cardservice.errors import LoginFailedError, LoginLockedError
from cardservice.roles import Role
from cardservice.store.users import Session, UserStore

logger = logging.getLogger(__name__)

MAX_FAILURES = 5
MAX_CLIENT_FAILURES = 20
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Clerk:
    """The clerk of a console session (``name`` and ``role`` as a token's, for role checks)."""

    name: str
    role: Role
    csrf: str

    @property
    def id(self) -> str:
        """The client id (event subscriber caps count per client)."""
        return self.actor

    @property
    def actor(self) -> str:
        """How the audit log names this clerk."""
        return f"clerk:{self.name}"


class Accounts:
    def __init__(self, store: UserStore, clock: Callable[[], datetime], *,
                 idle: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.idle = idle

    def login(self, name: str, password: str, client: str) -> tuple[str, Clerk]:
        """Check the password; returns ``(cookie secret, clerk)``. Raises LoginLockedError
        (before any hash is computed) or LoginFailedError."""
        now = self.clock()
        keys = (f"account:{name.strip()}", f"client:{client}")
        for key in keys:
            self._refuse_if_locked(key, now)
        if not passwords.verify_password(password, self.store.password_hash(name.strip())):
            self._failed(keys, now)
            raise LoginFailedError()
        self.store.clear_failures(keys[0])
        self.store.prune_sessions(now - self.idle)  # sessions nobody used within the timeout
        secret, session = self.store.open_session(name.strip(), now)
        logger.info("clerk %s logged in from %s", name.strip(), client)
        return secret, _clerk(session)

    def _refuse_if_locked(self, key: str, now: datetime) -> None:
        failures = self.store.failures(key)
        if failures and failures.locked_until and now < failures.locked_until:
            raise LoginLockedError(failures.locked_until)

    def _failed(self, keys: tuple[str, str], now: datetime) -> None:
        account = self.store.record_failure(keys[0], now, window=FAILURE_WINDOW,
                                            limit=MAX_FAILURES, lockout=LOCKOUT)
        client = self.store.record_failure(keys[1], now, window=FAILURE_WINDOW,
                                           limit=MAX_CLIENT_FAILURES, lockout=LOCKOUT)
        logger.warning("failed console login for %s (%d in a row)", keys[0], account.failures)
        locked = [f.locked_until for f in (account, client) if f.locked_until]
        if locked:
            raise LoginLockedError(max(locked))

    def clerk(self, secret: str | None) -> Clerk | None:
        """The clerk of a live session cookie, or None."""
        if not secret:
            return None
        session = self.store.session(secret, self.clock(), idle=self.idle,
                                     lifetime=SESSION_LIFETIME)
        return _clerk(session) if session else None

    def logout(self, secret: str | None) -> None:
        if secret:
            self.store.close_session(secret)


def _clerk(session: Session) -> Clerk:
    return Clerk(session.user.name, session.user.role, session.csrf)
