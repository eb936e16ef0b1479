"""The one table from error codes to HTTP statuses, the API-only error types, and the exception
handlers that turn every failure into ``{"error": {"code", "message", "retriable"}}`` (plus
``field`` or ``rule`` where known)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cardservice import errors

logger = logging.getLogger(__name__)


class UnauthenticatedError(errors.CardServiceError):
    """A valid bearer token is required."""

    code = "UNAUTHENTICATED"


class ForbiddenError(errors.CardServiceError):
    """This client's role does not allow the operation."""

    code = "FORBIDDEN"


class HostNotAllowedError(errors.CardServiceError):
    """The Host header does not name this daemon on loopback."""

    code = "HOST_NOT_ALLOWED"


class OriginNotAllowedError(errors.CardServiceError):
    """Requests from this browser origin are not allowed."""

    code = "ORIGIN_NOT_ALLOWED"


class UnsupportedMediaTypeError(errors.CardServiceError):
    """Request bodies must be application/json."""

    code = "UNSUPPORTED_MEDIA_TYPE"


PayloadTooLargeError = errors.PayloadTooLargeError


#: Error code -> HTTP status. Codes not listed map to 500. Documented in the README.
STATUS_BY_CODE: dict[str, int] = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "HOST_NOT_ALLOWED": 403,
    "ORIGIN_NOT_ALLOWED": 403,
    "CSRF_FAILED": 403,
    "LOGIN_FAILED": 401,
    "LOGIN_LOCKED": 429,
    "USER_EXISTS": 409,
    "READER_NOT_FOUND": 404,
    "NOT_FOUND": 404,
    "ROUTE_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "READER_BUSY": 409,
    "CARD_CHANGED": 409,
    "ALREADY_PERSONALIZED": 409,
    "CITIZEN_HAS_CARD": 409,
    "NOT_PERSONALIZED": 409,
    "CARD_INVALID": 409,
    "CARD_REVOKED": 409,
    "NO_CARD": 409,
    "CARD_REMOVED": 409,
    "CARD_RESET": 409,
    "WRITE_NOT_CONFIRMED": 409,
    "READER_AMBIGUOUS": 409,
    "TOKEN_NAME_TAKEN": 409,
    "AUDIT_STATE": 409,
    "APPLICATION_STATE": 409,
    "APPLICATION_OPEN": 409,
    "NOT_A_PERMIT_CARD": 422,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "PAYLOAD_TOO_LARGE": 413,
    "MALFORMED_REQUEST": 400,
    "TOO_MANY_SUBSCRIBERS": 429,
    "VALIDATION_ERROR": 422,
    "POLICY_VIOLATION": 422,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "CALENDAR_YEAR_UNKNOWN": 422,
    "CARD_ERROR": 502,
    "CARD_AUTH_FAILED": 502,
    "CARD_AUTH_BLOCKED": 502,
    "TRANSPORT_ERROR": 502,
    "PRINT_FAILED": 502,
    "PCSC_UNAVAILABLE": 503,
    "NO_READER": 503,
    "KEYS_MISSING": 503,
    "KEYS_INSECURE": 503,
    "FACE_UNAVAILABLE": 503,
    "REGISTRY_UNAVAILABLE": 503,
    "SCHEMA_OUTDATED": 503,
    "KEYS_TOKEN_ERROR": 503,
    "TRUST_BUNDLE_INVALID": 422,
    "COUNTY_ERROR": 422,
    "CARD_TIMEOUT": 504,
    "RATE_LIMITED": 429,
    "TOO_MANY_PENDING": 429,
    "INTERNAL_ERROR": 500,
}


#: Framework HTTP errors -> a code of the table (every error body carries a code from it).
HTTP_STATUS_CODES = {400: "MALFORMED_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN",
                     404: "ROUTE_NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
                     413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 500)


def error_response(exc: errors.CardServiceError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": exc.to_dict()}
    status = status_for(exc.code)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_error(exc: RequestValidationError) -> errors.CardServiceError:
    first = exc.errors()[0] if exc.errors() else {"loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":  # not JSON at all: no field to name
        ctx = first.get("ctx") or {}
        return errors.MalformedRequestError(
            f"the body is not well-formed JSON ({ctx.get('error', first.get('msg', 'invalid'))})")
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    return errors.ValidationError(field, str(first.get("msg", "invalid")), str(first.get("type", "invalid")))


async def _on_service_error(_request: Request, exc: errors.CardServiceError) -> JSONResponse:
    return error_response(exc)


async def _on_request_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(_validation_error(exc))


async def _on_http_exception(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_STATUS_CODES.get(exc.status_code,
                                 "MALFORMED_REQUEST" if exc.status_code < 500 else "INTERNAL_ERROR")
    body = {"error": {"code": code, "message": str(exc.detail), "retriable": False}}
    return JSONResponse(body, status_code=status_for(code), headers=getattr(exc, "headers", None))


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error", exc_info=exc)
    return error_response(errors.CardServiceError("internal error; see the daemon log"))


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.CardServiceError, _on_service_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
