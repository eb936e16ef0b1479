"""Errors of the daemon as exceptions: one type per family of error codes, each carrying
``code``, ``message``, ``retriable``, ``status`` and ``field`` (validation) or ``rule`` (policy).
A code this client does not know yet falls into the family of its HTTP status."""

from __future__ import annotations

from typing import Any


class CardServiceError(Exception):
    """Base of everything this client raises."""

    def __init__(self, code: str, message: str, *, retriable: bool = False, status: int = 0,
                 field: str | None = None, rule: str | None = None,
                 intent_id: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retriable = retriable
        self.status = status
        self.field = field
        self.rule = rule
        self.intent_id = intent_id  # WRITE_NOT_CONFIRMED: the write a later read settles


class ConnectionFailed(CardServiceError):
    """The daemon could not be reached (not running, wrong address) or did not answer."""


class AuthError(CardServiceError):
    """The token is missing, unknown, revoked, or its role does not allow the call (401/403)."""


class NotFound(CardServiceError):
    """No such reader, card, route or pairing request (404)."""


class CardStateError(CardServiceError):
    """The card is not in a state for this (blank, already personalized, revoked, invalid,
    another card, citizen already holds one)."""


class ReaderError(CardServiceError):
    """The reader or PC/SC: no card, card pulled, reader busy, no reader, timeouts."""


class CardProtocolError(CardServiceError):
    """The card answered with an error, refused the key, or is not a permit card."""


class InvalidRequest(CardServiceError):
    """The request is not acceptable (``field`` names the field)."""


class PolicyViolation(CardServiceError):
    """The permit rules forbid this (``rule`` names the rule)."""


class RateLimited(CardServiceError):
    """Too many requests just now; try again later."""


class ServerError(CardServiceError):
    """The daemon cannot do this now (keys missing, audit state, internal error)."""


FAMILIES: dict[type[CardServiceError], tuple[str, ...]] = {
    AuthError: ("UNAUTHENTICATED", "FORBIDDEN", "HOST_NOT_ALLOWED", "ORIGIN_NOT_ALLOWED"),
    NotFound: ("NOT_FOUND", "READER_NOT_FOUND", "ROUTE_NOT_FOUND"),
    CardStateError: ("ALREADY_PERSONALIZED", "CARD_CHANGED", "CARD_INVALID", "CARD_REVOKED",
                     "CITIZEN_HAS_CARD", "NOT_PERSONALIZED", "WRITE_NOT_CONFIRMED"),
    ReaderError: ("NO_CARD", "CARD_REMOVED", "CARD_RESET", "READER_BUSY", "READER_AMBIGUOUS",
                  "NO_READER", "PCSC_UNAVAILABLE", "TRANSPORT_ERROR", "CARD_TIMEOUT"),
    CardProtocolError: ("CARD_ERROR", "CARD_AUTH_FAILED", "CARD_AUTH_BLOCKED",
                        "NOT_A_PERMIT_CARD"),
    InvalidRequest: ("VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE", "IDEMPOTENCY_KEY_REUSED",
                     "METHOD_NOT_ALLOWED", "TOKEN_NAME_TAKEN", "PAYLOAD_TOO_LARGE",
                     "MALFORMED_REQUEST"),
    PolicyViolation: ("POLICY_VIOLATION",),
    RateLimited: ("RATE_LIMITED", "TOO_MANY_PENDING", "TOO_MANY_SUBSCRIBERS"),
    ServerError: ("INTERNAL_ERROR", "KEYS_MISSING", "KEYS_INSECURE", "AUDIT_STATE",
                  "REGISTRY_UNAVAILABLE", "SCHEMA_OUTDATED"),
}
BY_CODE: dict[str, type[CardServiceError]] = {
    code: family for family, codes in FAMILIES.items() for code in codes}


def family_for(code: str, status: int) -> type[CardServiceError]:
    if code in BY_CODE:
        return BY_CODE[code]
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return CardStateError
    if status == 429:
        return RateLimited
    if 400 <= status < 500:
        return InvalidRequest
    if status in (502, 504):
        return ReaderError
    return ServerError


def from_response(status: int, body: Any) -> CardServiceError:
    """The exception for an error answer (any body: a proxy's HTML page gives a ServerError)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict) or "code" not in detail:
        return ServerError("HTTP_ERROR", f"HTTP {status} without an error body",
                           retriable=status in (502, 503, 504), status=status)
    code = str(detail["code"])
    return family_for(code, status)(
        code, str(detail.get("message", "")), retriable=bool(detail.get("retriable", False)),
        status=status, field=detail.get("field"), rule=detail.get("rule"),
        intent_id=detail.get("intent_id"))
