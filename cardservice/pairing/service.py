"""The pairing rules. An app asks (``request``) and gets an id and a short code; an admin clerk
approves the code with a role, or denies it; the app polls with its id and, on its first poll
after approval only, gets a new token. A request expires 5 minutes after it was made (or, once
approved, 5 minutes after approval if never collected). At most ``MAX_PENDING`` requests wait at
once, and at most ``MAX_PER_MINUTE`` are made per minute. Every step is an audit entry."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cardservice import errors
from cardservice.roles import Role
from cardservice.store.audit import AuditLog
from cardservice.store.pairing import PairingRequest, PairingStore
from cardservice.store.tokens import TokenStore

logger = logging.getLogger(__name__)

LIFETIME = timedelta(minutes=5)
MAX_PENDING = 5
MAX_PER_MINUTE = 10
MAX_APP_NAME = 48
APPROVABLE_ROLES = (Role.READER, Role.OPERATOR)
#: Code alphabet without look-alikes (0/O, 1/I/L); codes read "K7Q-M2P".
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass(frozen=True)
class Poll:
    status: str  # pending | approved | denied | expired
    token: str | None = None
    role: str | None = None


def normalize_code(code: str) -> str:
    """``k7q m2p``, ``K7QM2P`` and ``K7Q-M2P`` name the same code."""
    text = "".join(ch for ch in str(code).upper() if ch.isalnum())
    if len(text) != 6 or any(ch not in ALPHABET for ch in text):
        raise errors.ValidationError("code", "must be 6 letters and digits, e.g. K7Q-M2P",
                                     reason="format")
    return f"{text[:3]}-{text[3:]}"


def _app_name(name: str) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_APP_NAME or not text.isprintable():
        raise errors.ValidationError("name", f"must be 1-{MAX_APP_NAME} printable characters",
                                     reason="format")
    return text


class PairingService:
    def __init__(self, store: PairingStore, tokens: TokenStore,
                 audit: Callable[[], AuditLog], clock: Callable[[], datetime]) -> None:
        self.store = store
        self.tokens = tokens
        self._audit = audit
        self.clock = clock

    # --- the app -------------------------------------------------------------------------

    def request(self, app_name: str) -> PairingRequest:
        name, now = _app_name(app_name), self.clock()
        self.expire_stale()
        if self.store.created_since(now - timedelta(minutes=1)) >= MAX_PER_MINUTE:
            raise errors.RateLimitedError(f"at most {MAX_PER_MINUTE} pairing requests a minute")
        if len(self.store.with_status("pending")) >= MAX_PENDING:
            raise errors.TooManyPendingError(
                f"{MAX_PENDING} pairing requests already wait for a clerk")
        for _ in range(5):
            req = PairingRequest(id="pr_" + secrets.token_urlsafe(24), code=self._new_code(),
                                 app_name=name, status="pending", role=None, created_at=now,
                                 expires_at=now + LIFETIME, decided_at=None, decided_by=None,
                                 token_id=None)
            try:
                self.store.insert(req)
                break
            except self.store.database.IntegrityError:  # the code is taken by an open request
                continue
        else:
            raise errors.CardServiceError("no free pairing code; try again")
        self._record("pairing_requested", req, actor=f"app:{name}")
        return req

    def poll(self, request_id: str) -> Poll:
        req = self._get(request_id)
        req = self._expire_if_due(req)
        if req.status == "approved":
            return self._collect(req)
        if req.status == "claimed":
            return Poll("approved", role=req.role)
        return Poll(req.status)

    # --- the clerk -----------------------------------------------------------------------

    def pending(self) -> list[PairingRequest]:
        self.expire_stale()
        return self.store.with_status("pending")

    def approve(self, code: str, role: Role | str, actor: str) -> PairingRequest:
        role = _approvable(role)
        req = self._open(code)
        if not self.store.transition(req.id, "pending", "approved", self.clock(),
                                     role=role.value, by=actor,
                                     expires_at=self.clock() + LIFETIME):
            raise errors.NotFoundError(f"pairing request {req.code} was decided meanwhile")
        req = self._get(req.id)
        self._record("pairing_approved", req, actor=actor, role=role.value)
        return req

    def deny(self, code: str, actor: str) -> PairingRequest:
        req = self._open(code)
        if not self.store.transition(req.id, "pending", "denied", self.clock(), by=actor):
            raise errors.NotFoundError(f"pairing request {req.code} was decided meanwhile")
        req = self._get(req.id)
        self._record("pairing_denied", req, actor=actor)
        return req

    def expire_stale(self) -> None:
        for req in self.store.with_status("pending", "approved"):
            self._expire_if_due(req)

    # --- inside --------------------------------------------------------------------------

    def _open(self, code: str) -> PairingRequest:
        wanted = normalize_code(code)
        self.expire_stale()
        req = self.store.open_by_code(wanted)
        if req is None or req.status != "pending":
            raise errors.NotFoundError(f"no pending pairing request with code {wanted}")
        return req

    def _get(self, request_id: str) -> PairingRequest:
        req = self.store.get(request_id) if isinstance(request_id, str) else None
        if req is None:
            raise errors.NotFoundError("no such pairing request")
        return req

    def _expire_if_due(self, req: PairingRequest) -> PairingRequest:
        if req.status not in ("pending", "approved") or self.clock() < req.expires_at:
            return req
        if self.store.transition(req.id, req.status, "expired", self.clock()):
            self._record("pairing_expired", req, actor=None, was=req.status)
        return self._get(req.id)

    def _collect(self, req: PairingRequest) -> Poll:
        now = self.clock()
        if not self.store.transition(req.id, "approved", "claimed", now):
            return Poll("approved", role=req.role)  # another poll collected it first
        secret, info = self.tokens.create(f"{req.app_name} [{req.code}]", req.role, now)
        self.store.transition(req.id, "claimed", "claimed", now, token_id=info.id)
        self._record("pairing_token_issued", req, actor=f"app:{req.app_name}",
                     role=req.role, token_id=info.id)
        return Poll("approved", token=secret, role=req.role)

    def _new_code(self) -> str:
        return normalize_code("".join(secrets.choice(ALPHABET) for _ in range(6)))

    def _record(self, operation: str, req: PairingRequest, actor: str | None,
                **detail: object) -> None:
        self._audit().event(operation=operation, card_serial=None, actor=actor,
                            detail={"app": req.app_name, "code": req.code,
                                    "request": req.id[:11], **detail}, now=self.clock())
        logger.info("%s: %s (%s)", operation, req.code, req.app_name)


def _approvable(role: Role | str) -> Role:
    try:
        value = Role(role)
    except ValueError:
        value = None
    if value not in APPROVABLE_ROLES:
        choices = " or ".join(r.value for r in APPROVABLE_ROLES)
        raise errors.ValidationError("role", f"must be {choices}", reason="choice")
    return value
